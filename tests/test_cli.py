"""The command line, driven through `main()`: a full train/evaluate/recommend cycle and bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from llmrec.cli import main
from llmrec.rundir import load_split


def _train_args(csv: Path, out: Path, model: str = "bpr-mf") -> list[str]:
    return [
        "train", "--dataset", "custom", "--model", model, "--out", str(out), "--epochs", "40", "--seeds", "2",
        "--set", f'data.path="{csv}"', "--set", f'data.items_path="{csv.parent / "items.csv"}"',
        "--set", 'data.rating_col="rating"',
        "--set", "train.lr=0.05", "--set", "train.batch_size=64", "--set", "train.eval_every=5",
        "--set", "split.ratios=[0.6, 0.2, 0.2]", "--no-progress",
    ]  # fmt: skip


@pytest.mark.parametrize("model", ["bpr-mf", "lightgcn", "sgl", "gf-cf"])
def test_train_evaluate_recommend_cycle(csv_data: Path, tmp_path: Path, capsys, model: str) -> None:
    out = tmp_path / "run"
    assert main(_train_args(csv_data, out, model)) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["dataset"] == "custom" and metrics["model"] == model and metrics["seeds"] == [2024, 2025]
    assert {"recall@20", "ndcg@20", "precision@20", "hit@20", "mrr@20"} <= set(metrics["test"])
    assert set(metrics["test_std"]) == set(metrics["test"]) and len(metrics["runs"]) == 2
    assert metrics["train_seconds"] > 0
    # blocks are learnable: every held-out item is among the user's ~7 unseen in-block items
    assert metrics["test"]["recall@20"] > 0.9
    # 36 users x 12 items; 12 * 0.2 = 2.4 rounds to 2 valid and 2 test; the rating-1 event is dropped
    assert (metrics["split"]["train"], metrics["split"]["valid"], metrics["split"]["test"]) == (288, 72, 72)

    capsys.readouterr()
    assert main(["evaluate", str(out), "--json"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["test"] == pytest.approx(metrics["test"])  # same weights, same split: same numbers

    assert main(["recommend", str(out), "--user", "u0", "-k", "3", "--json"]) == 0
    recs = json.loads(capsys.readouterr().out)
    assert [r["rank"] for r in recs] == [1, 2, 3]
    assert all(r["title"].startswith("Film ") for r in recs)
    split = load_split(out)
    u0 = int(np.flatnonzero(split.train.user_ids == "u0")[0])
    ids = split.train.item_ids
    seen = set(ids[split.train.items_of(u0)]) | set(ids[split.valid.items_of(u0)])
    assert not seen & {r["item_id"] for r in recs}
    # the only unseen items of u0's block are its two test items: a model that learned the blocks
    # puts exactly those first
    assert {r["item_id"] for r in recs[:2]} == set(ids[split.test.items_of(u0)])


def _error(capsys, argv: list[str]) -> str:
    """Run argv, assert a one-line error and exit code 2, return the message."""
    capsys.readouterr()
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("llmrec: error: ") and "\n" not in err and "Traceback" not in err
    return err


def test_bad_input_gives_one_line_errors(csv_data: Path, tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.delenv("LLMREC_DATA_DIR", raising=False)  # only the --data-dir given here is searched
    assert "nosuch.toml" in _error(capsys, ["train", "--config", str(tmp_path / "nosuch.toml")])
    assert "unknown dataset 'nope'" in _error(
        capsys, ["train", "--dataset", "nope", "--data-dir", str(tmp_path)]
    )
    assert "unknown method 'gcn'" in _error(capsys, ["train", "--model", "gcn"])
    assert "llmrec.augment_dir" in _error(capsys, ["train", "--model", "llmrec"])
    err = _error(capsys, ["train", "--set", "train.learning_rate=1"])
    assert "learning_rate" in err and "'lr'" in err
    assert "train.metric" in _error(capsys, ["train", "--set", 'train.metric="recall@7"'])
    assert "ml-100k" in _error(capsys, ["train", "--dataset", "ml-100k", "--data-dir", str(tmp_path / "x")])
    bad = tmp_path / "bad.csv"
    bad.write_text("user_id,item_id,rating\nu1,i1,5\nu2,i2,five\n")
    err = _error(
        capsys,
        ["train", "--dataset", "custom", "--set", f'data.path="{bad}"', "--set", 'data.rating_col="rating"'],
    )
    assert "bad.csv" in err and "line 3" in err
    missing_col = tmp_path / "cols.csv"
    missing_col.write_text("user,item\n1,2\n")
    assert "user_id" in _error(
        capsys, ["train", "--dataset", "custom", "--set", f'data.path="{missing_col}"']
    )
    assert "not a run directory" in _error(capsys, ["evaluate", str(tmp_path)])
    # a model knob the model rejects: named with the config key, before the (here missing) data is read
    nowhere = ["--dataset", "custom", "--set", f'data.path="{tmp_path / "none.csv"}"']
    err = _error(capsys, ["train", *nowhere, "--model", "sgl", "--set", "model.sgl.drop_ratio=1.5"])
    assert "'sgl'" in err and "[0, 1), got 1.5" in err and "model.sgl.drop_ratio" in err
    err = _error(capsys, ["train", *nowhere, "--model", "simgcl", "--set", 'model.simgcl.init="he"'])
    assert "'normal' or 'xavier', got 'he'" in err and "model.simgcl.init" in err
    # a knob given to the wrong model, and a knob of an earlier version, before any data is read
    err = _error(capsys, ["train", *nowhere, "--model", "lightgcn", "--set", "model.lightgcn.eps=0.2"])
    assert "[model.lightgcn]: unknown key(s) ['eps']" in err and "[model.simgcl]" in err
    err = _error(capsys, ["train", *nowhere, "--model", "sgl", "--set", "model.sgl_drop=0.2"])
    assert "sgl_drop is now model.sgl.drop_ratio" in err


def test_empty_split_and_unknown_user(csv_data: Path, tmp_path: Path, capsys) -> None:
    tiny = tmp_path / "tiny.csv"
    tiny.write_text("user_id,item_id,rating\nu1,i1,5\nu1,i2,5\nu2,i1,5\n")  # < 3 events per user: all train
    err = _error(capsys, ["train", "--dataset", "custom", "--set", f'data.path="{tiny}"'])
    assert "empty" in err
    out = tmp_path / "run"
    assert main(_train_args(csv_data, out)) == 0
    assert "'nobody' is not in run" in _error(capsys, ["recommend", str(out), "--user", "nobody"])


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    from llmrec.errors import ConfigError

    with pytest.raises(ConfigError):
        main(["train", "--debug", "--config", str(tmp_path / "nosuch.toml")])


def test_datasets_lists_what_is_missing(tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.delenv("LLMREC_DATA_DIR", raising=False)
    monkeypatch.chdir(tmp_path)  # ./data must not exist either
    assert main(["datasets", "--data-dir", str(tmp_path), "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["ml-100k"]["path"] is None and "ml-100k/u.data" in rows["ml-100k"]["missing"]


def test_cache_stats_and_export(tmp_path: Path, capsys) -> None:
    from llmrec.cache import Cache

    path = tmp_path / "c.sqlite"
    with Cache(path) as cache:
        cache.put("k1", {"text": "a"}, stage="edges")
        cache.put("k2", {"text": "b"}, stage="edges")
        cache.put("k3", {"text": "c"}, stage="profiles")
    capsys.readouterr()
    assert main(["cache", "stats", "--path", str(path), "--json"]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats["entries"] == 3 and stats["stages"] == {"edges": 2, "profiles": 1}
    out = tmp_path / "dump.jsonl"
    assert main(["cache", "export", str(out), "--path", str(path)]) == 0
    assert len(out.read_text().splitlines()) == 3
    assert "no cache" in _error(capsys, ["cache", "stats", "--path", str(tmp_path / "none.sqlite")])


def test_run_chains_training_and_augmentation(csv_data: Path, tmp_path: Path, capsys) -> None:
    config = tmp_path / "run.toml"
    config.write_text(
        f"""
seeds = 1
methods = ["bpr-mf", "lightgcn", "llmrec:augment"]
[data]
dataset = "custom"
path = "{csv_data}"
items_path = "{csv_data.parent / "items.csv"}"
rating_col = "rating"
[split]
ratios = [0.6, 0.2, 0.2]
[train]
epochs = 20
lr = 0.05
batch_size = 64
eval_every = 5
[augment]
teacher = "local"
n_candidates = 5
vector_cache = "{tmp_path / "vectors.sqlite"}"
"""
    )
    out = tmp_path / "run"
    assert main(["run", str(config), "--out", str(out), "--no-progress"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary["models"]) == {"bpr-mf", "lightgcn"}  # LLMRec stopped after its augmentation
    assert summary["teacher"]["kind"] == "local"
    edges = np.load(out / "augment" / "edges.npz")
    assert len(edges["user"]) == 36  # one (liked, disliked) pair per user: all 36 users have 5 candidates
    assert (edges["pos"] != edges["neg"]).all()
    assert "local teacher, no LLM" in capsys.readouterr().out
    # a stage the method does not have, a method that needs a baseline the run lacks, an unknown method
    # and the keys of earlier versions: one line each, before any data loads
    bad = tmp_path / "bad.toml"
    run_bad = ["run", str(bad), "--out", str(tmp_path / "x"), "--data-dir", str(tmp_path / "none")]
    for methods, message in (
        (
            '["lightgcn", "llmrec:agument"]',
            "method llmrec has no stage 'agument'; its stages: ['augment', 'train']",
        ),
        ('["llmrec"]', "llmrec:augment builds on the best baseline, and this run trains none"),
        ('["lightgcn", "ngcf"]', "unknown method 'ngcf'"),
    ):
        bad.write_text(config.read_text().replace('["bpr-mf", "lightgcn", "llmrec:augment"]', methods))
        assert message in _error(capsys, run_bad)
    bad.write_text(
        config.read_text().replace(
            'methods = ["bpr-mf", "lightgcn", "llmrec:augment"]',
            'models = ["lightgcn"]\nstages = ["train", "augment"]',
        )
    )
    assert "`models` and `stages` are now one list, `methods`" in _error(capsys, run_bad)


def test_diverging_training_is_a_one_line_error(csv_data: Path, tmp_path: Path, capsys) -> None:
    args = _train_args(csv_data, tmp_path / "nan", "lightgcn")
    err = _error(capsys, [*args, "--set", "train.lr=1e30"])
    assert "LightGCN: training loss became" in err and "lower train.lr" in err


def test_init_from_continues_an_earlier_run(csv_data: Path, tmp_path: Path, capsys) -> None:
    first = tmp_path / "first"
    assert main([*_train_args(csv_data, first, "lightgcn"), "--set", "model.dim=16"]) == 0
    before = json.loads((first / "metrics.json").read_text())
    # a learning rate of 1e-12 leaves each seed's loaded weights as they are: the warm-started run
    # must then score what the first run's selected models scored, seed by seed
    again = tmp_path / "again"
    args = [*_train_args(csv_data, again, "lightgcn"), "--set", "model.dim=16", "--epochs", "1"]
    args += ["--set", "train.lr=1e-12", "--set", f'train.init_from="{first}"']
    assert main(args) == 0
    after = json.loads((again / "metrics.json").read_text())
    for old, new in zip(before["runs"], after["runs"], strict=True):
        assert new["test"] == pytest.approx(old["test"], abs=1e-6)
    # without the warm start, one epoch at that rate ranks far worse (propagation alone finds the blocks,
    # so recall is high either way; the order within them is what training learned)
    fresh = tmp_path / "fresh"
    assert main([*args[:-2], "--out", str(fresh)]) == 0
    fresh_ndcg = json.loads((fresh / "metrics.json").read_text())["test"]["ndcg@20"]
    assert fresh_ndcg < before["test"]["ndcg@20"] - 0.1

    other_split = [*args, "--set", "split.ratios=[0.8, 0.1, 0.1]", "--out", str(tmp_path / "x")]
    assert "another split (train differs)" in _error(capsys, other_split)
    other_dim = [*args, "--set", "model.dim=8", "--out", str(tmp_path / "y")]
    assert "does not fit LightGCN" in _error(capsys, other_dim)
    more_seeds = [*args, "--seeds", "3", "--out", str(tmp_path / "z")]  # the first run has 2024 and 2025
    assert "no trained model for seed 2026" in _error(capsys, more_seeds)
    missing = [*args[:-2], "--set", f'train.init_from="{tmp_path / "nowhere"}"', "--out", str(tmp_path / "w")]
    assert "not a run directory" in _error(capsys, missing)


def test_option_prefixes_are_not_guessed(csv_data: Path, tmp_path: Path, capsys) -> None:
    # argparse would read `--seed 7` as `--seeds 7` and train seven seeds; it must be refused instead
    with pytest.raises(SystemExit) as exit_info:
        main([*_train_args(csv_data, tmp_path / "run"), "--seed", "7"])
    assert exit_info.value.code == 2
    assert "unrecognized arguments: --seed 7" in capsys.readouterr().err
    assert not (tmp_path / "run" / "metrics.json").exists()
