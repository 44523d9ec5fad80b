"""`llmrec run` through every stage (baselines, local-teacher augmentation, LLMRec, report) and
`llmrec ablate`, on a small block dataset: what is written, what is reused, and the p-values."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from llmrec.cli import main
from tests.conftest import write_block_csv


def _config(csv: Path, tmp_path: Path) -> Path:
    path = tmp_path / "run.toml"
    path.write_text(
        f"""
seeds = 3
methods = ["bpr-mf", "lightgcn", "llmrec"]

[data]
dataset = "custom"
path = "{csv}"
items_path = "{csv.parent / "items.csv"}"
rating_col = "rating"

[split]
ratios = [0.6, 0.2, 0.2]

[train]
epochs = 20
lr = 0.05
batch_size = 64
eval_every = 5

[eval]
activity_groups = 2

[augment]
n_candidates = 4
vector_cache = "{tmp_path / "vectors.sqlite"}"
"""
    )
    return path


def _json(path: Path) -> dict:
    return json.loads(path.read_text())


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """One full `llmrec run` shared by the tests of this module (config file, run folder)."""
    tmp = tmp_path_factory.mktemp("pipeline")
    csv = write_block_csv(tmp)
    cfg, out = _config(csv, tmp), tmp / "out"
    assert main(["run", str(cfg), "--out", str(out), "--no-progress"]) == 0
    return cfg, out


def test_run_writes_every_stage(finished_run: tuple[Path, Path]) -> None:
    _, out = finished_run
    summary = _json(out / "summary.json")
    assert list(summary["models"]) == ["bpr-mf", "lightgcn", "llmrec"]
    assert summary["teacher"]["kind"] == "local" and summary["augmentation"]["teacher"]["kind"] == "local"
    metrics = {name: _json(out / name / "metrics.json") for name in summary["models"]}
    for name, m in metrics.items():
        entry = summary["models"][name]
        assert (
            entry["test"] == m["test"] and entry["test_std"] == m["test_std"] and entry["valid"] == m["valid"]
        )
        groups = m["runs"][0]["test_by_activity"]
        assert [g["group"] for g in groups] == [1, 2] and sum(g["users"] for g in groups) == 36
    # the best baseline is picked on validation, independently of test
    best = max(["bpr-mf", "lightgcn"], key=lambda n: (metrics[n]["valid"]["recall@20"], n))
    assert summary["best_baseline"] == best and "p_value" not in summary["models"][best]
    for name in set(summary["models"]) - {best}:
        for metric in ("recall@20", "ndcg@20"):
            a = [r["test"][metric] for r in metrics[name]["runs"]]
            b = [r["test"][metric] for r in metrics[best]["runs"]]
            got = summary["models"][name]["p_value"][metric]
            if a == b:
                assert got == 1.0
            else:
                assert got == pytest.approx(stats.ttest_rel(a, b).pvalue, nan_ok=True)
    # LLMRec trained on what the augmentation wrote, and its folder stands alone
    inputs = metrics["llmrec"]["inputs"]
    assert inputs["features"] == ["user_profile.npy", "item_text.npy", "item_attr_all.npy"]
    edges = (out / "augment" / "edges.tsv").read_text().splitlines()
    assert inputs["triples"] == len(edges) - 1 > 0
    assert (out / "llmrec" / "side_features.npz").is_file() and (out / "llmrec" / "augmented.npz").is_file()
    assert (out / "report.html").is_file() and (out / "report.md").is_file()


def test_saved_llmrec_run_evaluates_and_recommends(
    finished_run: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    _, out = finished_run
    capsys.readouterr()
    assert main(["evaluate", str(out / "llmrec"), "--json"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["test"] == pytest.approx(_json(out / "llmrec" / "metrics.json")["test"])
    assert main(["recommend", str(out / "llmrec"), "--user", "u3", "-k", "2", "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)) == 2


def test_rerun_reuses_and_resumes(finished_run: tuple[Path, Path], caplog: pytest.LogCaptureFixture) -> None:
    cfg, out = finished_run
    before = _json(out / "summary.json")
    first_model = (out / "llmrec" / "model-seed2024.pt").stat().st_mtime_ns
    (out / "llmrec" / "seed2026.json").unlink()  # as if killed while training the third seed
    with caplog.at_level(logging.INFO, logger="llmrec"):
        assert main(["run", str(cfg), "--out", str(out), "--no-progress"]) == 0
    reused = [r.getMessage() for r in caplog.records if "reused from" in r.getMessage()]
    assert len(reused) == 3 * 3 - 1  # every seed of every model but the deleted one
    assert (out / "llmrec" / "model-seed2024.pt").stat().st_mtime_ns == first_model
    after = _json(out / "summary.json")
    for name in ("bpr-mf", "lightgcn"):
        assert after["models"][name]["test"] == before["models"][name]["test"]
    # the retrained seed repeats itself: same seed, same sampler stream, same data
    assert after["models"]["llmrec"]["test"] == pytest.approx(before["models"]["llmrec"]["test"], abs=1e-6)


def test_train_llmrec_from_an_augmentation_folder(
    finished_run: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg, out = finished_run
    args = ["train", "--config", str(cfg), "--model", "llmrec", "--seeds", "1",
            "--out", str(tmp_path / "one"), "--set", f'llmrec.augment_dir="{out / "augment"}"',
            "--set", "llmrec.user_profiles=false", "--no-progress"]  # fmt: skip
    assert main(args) == 0
    metrics = _json(tmp_path / "one" / "metrics.json")
    assert metrics["model"] == "llmrec" and metrics["inputs"]["features"] == [
        "item_text.npy",
        "item_attr_all.npy",
    ]
    capsys.readouterr()
    assert main([*args[:-1], "--set", "split.seed=7", "--no-progress"]) == 2  # another split: refused
    assert "leak test items" in capsys.readouterr().err


def test_ablate_switches_each_part_off(finished_run: tuple[Path, Path]) -> None:
    cfg, out = finished_run
    assert main(["ablate", str(cfg), "--out", str(out), "--no-progress"]) == 0
    whole = _json(out / "ablation.json")
    assert [part["method"] for part in whole["methods"]] == ["llmrec"]
    table = whole["methods"][0]
    names = [v["name"] for v in table["variants"]]
    assert names == ["full", "no-edges", "no-attributes", "no-profiles", "no-pruning", "no-mae"]
    full = _json(out / "llmrec" / "metrics.json")["test"]
    for row in table["variants"][1:]:
        off = [k for k, on in row["switches"].items() if not on]
        assert len(off) == 1 and row["name"] == f"no-{off[0]}"
        test = _json(out / row["dir"] / "metrics.json")["test"]
        assert row["test"] == test
        expected = (test["recall@20"] - full["recall@20"]) / full["recall@20"]
        assert row["delta"]["recall@20"] == pytest.approx(expected)
    no_edges = _json(out / "ablation" / "no-edges" / "metrics.json")
    assert (
        no_edges["inputs"]["triples"] == 0 and not (out / "ablation" / "no-edges" / "augmented.npz").exists()
    )
    assert "Ablation" in (out / "report.md").read_text() or "ablation" in (out / "report.md").read_text()

    # --variants runs only those (the others' folders are left as they were); an unknown name is refused
    again = ["ablate", str(cfg), "--out", str(out), "--no-progress", "--variants"]
    assert main([*again, "no-mae,no-edges"]) == 0
    assert [v["name"] for v in _json(out / "ablation.json")["methods"][0]["variants"]] == [
        "full", "no-edges", "no-mae"
    ]  # fmt: skip
    assert main([*again, "no-such"]) != 0


def test_gfcf_refit_tests_a_filter_of_train_plus_valid(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from llmrec.evaluate import evaluate
    from llmrec.models import GFCF
    from llmrec.rundir import load_split

    csv = write_block_csv(tmp_path)
    out = tmp_path / "gf"
    args = ["train", "--dataset", "custom", "--model", "gf-cf", "--out", str(out), "--no-progress",
            "--set", f'data.path="{csv}"', "--set", 'data.rating_col="rating"', "--set", "model.gf-cf.k=4",
            "--set", "split.ratios=[0.6, 0.2, 0.2]", "--set", "train.refit=true"]  # fmt: skip
    assert main(args) == 0
    metrics = _json(out / "metrics.json")
    split = load_split(out)
    # independent route: the filter fitted by hand, on train for valid and on train + valid for test
    for edges, part, masked, key in (
        (split.train.user_items, split.valid, [split.train], "valid"),
        (
            (split.train.user_items + split.valid.user_items).tocsr(),
            split.test,
            [split.train, split.valid],
            "test",
        ),
    ):
        model = GFCF(split.train.n_users, split.train.n_items, k=4).fit(edges)
        want = evaluate(lambda u, m=model: m.score(u), part, masked, (10, 20, 50))
        assert metrics[key] == pytest.approx(want), key
    capsys.readouterr()
    assert main(["evaluate", str(out), "--json"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["valid"] == pytest.approx(metrics["valid"]) and again["test"] == pytest.approx(
        metrics["test"]
    )


def test_refit_retrains_a_trained_model_on_train_plus_valid(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    import torch

    from llmrec.config import EvalConfig, TrainConfig
    from llmrec.data.interactions import Interactions
    from llmrec.evaluate import evaluate, model_scorer
    from llmrec.graph import build_graph
    from llmrec.models import build_model
    from llmrec.rundir import load_split
    from llmrec.train import fit

    csv = write_block_csv(tmp_path)
    out = tmp_path / "lgn"
    args = ["train", "--dataset", "custom", "--model", "lightgcn", "--out", str(out), "--no-progress",
            "--set", f'data.path="{csv}"', "--set", 'data.rating_col="rating"', "--set", "model.dim=8",
            "--set", "split.ratios=[0.6, 0.2, 0.2]", "--set", "train.refit=true", "--epochs", "8",
            "--set", "train.lr=0.01", "--set", "train.batch_size=32",
            "--set", "train.eval_every=1"]  # fmt: skip
    assert main(args) == 0
    metrics = _json(out / "metrics.json")
    run = metrics["runs"][0]
    seed, best = run["seed"], run["best_epoch"]
    assert run["refit"]["epochs"] == best and len(run["refit"]["history"]) == best
    # independent route: the test model by hand, from the same seed, on a matrix of train + valid built
    # here from the saved split, and scored on a graph of those edges
    split = load_split(out)
    users = np.concatenate([split.train.pairs()[0], split.valid.pairs()[0]])
    items = np.concatenate([split.train.pairs()[1], split.valid.pairs()[1]])
    both = Interactions.from_pairs(users, items, split.train.user_ids, split.train.item_ids)
    assert both.nnz == split.train.nnz + split.valid.nnz  # the parts are disjoint
    torch.manual_seed(seed)
    model = build_model("lightgcn", both.n_users, both.n_items, 8, 3, 1e-4)
    cfg = TrainConfig(epochs=8, batch_size=32, lr=0.01, eval_every=1)
    fit(model, both, None, build_graph(both), cfg, EvalConfig(), seed, show_progress=False, stop_after=best)
    saved = torch.load(out / f"model-seed{seed}-refit.pt", weights_only=True)
    for name, weight in model.state_dict().items():
        torch.testing.assert_close(saved[name], weight, rtol=0, atol=1e-6, msg=name)
    scorer = model_scorer(model.eval(), build_graph(both))
    want = evaluate(scorer, split.test, [split.train, split.valid], (10, 20, 50))
    assert metrics["test"] == pytest.approx(want)
    selected = torch.load(out / f"model-seed{seed}.pt", weights_only=True)  # kept: it was validated
    assert not torch.allclose(selected["user_emb.weight"], saved["user_emb.weight"])
    capsys.readouterr()
    assert main(["evaluate", str(out), "--json"]) == 0  # valid from the selected model, test the refitted
    again = json.loads(capsys.readouterr().out)
    assert again["valid"] == pytest.approx(metrics["valid"]) and again["test"] == pytest.approx(
        metrics["test"]
    )
    # a run killed during its refit reruns the refit alone, from the saved selection
    (out / f"model-seed{seed}-refit.pt").unlink()
    (out / f"seed{seed}.json").unlink()
    with caplog.at_level(logging.INFO, logger="llmrec"):
        assert main(args) == 0
    assert f"seed {seed}: selection reused" in caplog.text and f"seed {seed}: reused" not in caplog.text
    assert (out / f"model-seed{seed}-refit.pt").is_file()
    assert _json(out / "metrics.json")["runs"][0]["history"] == run["history"]
    assert _json(out / "metrics.json")["test"] == pytest.approx(metrics["test"])
    # and another fingerprint (here: the schedule) does not take that selection
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="llmrec"):
        assert main([*args, "--set", "train.lr=0.02"]) == 0
    assert "selection reused" not in caplog.text


def test_a_baseline_trains_on_the_augmented_graph(
    finished_run: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import scipy.sparse as sp

    from llmrec.rundir import load_split

    cfg, out = finished_run
    base = ["train", "--config", str(cfg), "--seeds", "1", "--no-progress",
            "--set", f'train.extra_edges="{out / "augment"}"']  # fmt: skip
    run = tmp_path / "lgcn-aug"
    assert main([*base, "--model", "lightgcn", "--out", str(run)]) == 0
    metrics = _json(run / "metrics.json")
    # independent route: the liked pairs read from the augmentation's TSV by their raw ids
    split = load_split(run)
    rows = [line.split("\t") for line in (out / "augment" / "edges.tsv").read_text().splitlines()[1:]]
    user_index = {u: i for i, u in enumerate(split.train.user_ids)}
    item_index = {it: i for i, it in enumerate(split.train.item_ids)}
    header = (out / "augment" / "edges.tsv").read_text().splitlines()[0].split("\t")
    u_col, p_col = header.index("user_id"), header.index("pos_id")
    pairs = {(user_index[r[u_col]], item_index[r[p_col]]) for r in rows}
    saved = sp.load_npz(run / "graph_edges.npz").tocoo()
    assert set(zip(saved.row.tolist(), saved.col.tolist(), strict=True)) == pairs and "inputs" not in metrics
    capsys.readouterr()
    assert main(["evaluate", str(run), "--json"]) == 0  # rebuilds the same augmented graph
    assert json.loads(capsys.readouterr().out)["test"] == pytest.approx(metrics["test"])
    assert main([*base, "--model", "bpr-mf", "--out", str(tmp_path / "mf")]) == 2
    assert "bpr-mf has no graph" in capsys.readouterr().err
    # the setting of earlier versions is refused with a pointer to the new one, not silently ignored
    old = ["--set", "llmrec.graph_edges=true", "--set", f'llmrec.augment_dir="{out / "augment"}"']
    assert main([*base[:-2], *old, "--model", "lightgcn", "--out", str(tmp_path / "old")]) == 2
    assert "train.extra_edges" in capsys.readouterr().err


def test_report_command(
    finished_run: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, out = finished_run
    (out / "report.html").unlink()
    capsys.readouterr()
    assert main(["report", str(out)]) == 0
    printed = capsys.readouterr().out.split()
    assert str(out / "report.html") in printed and str(out / "report.md") in printed
    assert "<table" in (out / "report.html").read_text()
    assert main(["report", str(tmp_path)]) == 2
    assert "summary.json is missing" in capsys.readouterr().err
