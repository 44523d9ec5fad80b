"""SASRec and Llama4Rec's sequential task through `llmrec run`: the LLM path against a fake whose
rankings are known, checked by hand; the no-LLM teacher's augmentation; alpha 0 reproduces SASRec."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from llmrec.cli import main
from llmrec.data.sequences import padded
from llmrec.llm.testing import FakeOpenAIServer
from llmrec.methods.llama4rec_seq import NAME

K = 4  # candidates reranked per user


def _csv(tmp_path: Path) -> Path:
    """30 users walking their block's 12 items in a cycle from a random start, 8-12 steps, timed."""
    rng = np.random.default_rng(0)
    lines = ["user_id,item_id,rating,ts"]
    for u in range(30):
        start, steps = rng.integers(0, 12), rng.integers(8, 13)
        for t in range(steps):
            lines.append(f"u{u},i{(u % 3) * 12 + (start + t) % 12},5,{1000 + 10 * t}")
    path = tmp_path / "inter.csv"
    path.write_text("\n".join(lines) + "\n")
    (tmp_path / "items.csv").write_text("item_id,title\n" + "".join(f"i{i},Film {i}\n" for i in range(36)))
    return path


def _config(tmp_path: Path, server: FakeOpenAIServer | None, extra: str = "", split: str = "loo") -> Path:
    csv = _csv(tmp_path)
    llm = (
        f'[llm]\nbase_url = "{server.url}"\nmodel = "m"\ncache_path = "{tmp_path / "llm.sqlite"}"\n'
        if server
        else ""
    )
    path = tmp_path / "run.toml"
    path.write_text(
        f'seeds = 2\nmethods = ["pop", "sasrec", "{NAME}"]\n[data]\ndataset = "custom"\npath = "{csv}"\n'
        f'items_path = "{csv.parent / "items.csv"}"\nrating_col = "rating"\ntime_col = "ts"\n'
        f'[split]\nmethod = "{split}"\n[model]\ndim = 16\nn_layers = 1\n[model.sasrec]\nmax_len = 10\n'
        "dropout = 0.0\n[train]\nepochs = 30\nlr = 0.01\nbatch_size = 16\neval_every = 10\n"
        f'metric = "ndcg@5"\n[eval]\nks = [3, 5]\n[augment]\nvector_cache = "{tmp_path / "vec.sqlite"}"\n'
        f'{llm}[{NAME}]\nreranker = "{"llm" if server else "local"}"\nn_candidates = {K}\n'
        f"pick_candidates = 3\n{extra}"
    )
    return path


def reverse_the_conventional(messages: list[dict[str, str]]) -> str:
    """The fake LLM: the stated conventional ranking reversed; a pick: its first id."""
    prompt = messages[-1]["content"]
    stated = re.search(r"ranks the candidates: (.+)", prompt)
    assert stated is not None and "oldest first" in prompt
    ids = stated.group(1).strip().split(" > ")
    return ids[0] if "most likely watch next?" in prompt else " > ".join(reversed(ids))


def _by_hand(out: Path) -> dict[str, float]:
    """Test HR@5 and NDCG@5 over seeds of SASRec's test lists with their first K items reversed."""
    from llmrec.data.prepare import load_dataset
    from llmrec.data.sequences import sequence_split
    from llmrec.rundir import load_run_config
    from llmrec.tasks.sequential import SequentialRun

    cfg = load_run_config(out / "sasrec")
    split = sequence_split(load_dataset(cfg.data, []))
    run = SequentialRun("sasrec", cfg, out / "sasrec", split, split.train, {})
    hr, ndcg = [], []
    for seed in run.seeds:
        with torch.no_grad():
            scores = run.model(seed).score(torch.arange(split.n_users), torch.from_numpy(
                padded(split.with_valid(), run.max_len))).numpy()  # fmt: skip
        per_h, per_n = [], []
        for u in range(split.n_users):
            seen = set(split.train[u].tolist()) | {int(split.valid[u])}
            ranked = [int(i) for i in np.argsort(-scores[u], kind="stable") if int(i) not in seen]
            top = ranked[:K][::-1] + ranked[K:]
            rank = top[:5].index(split.test[u]) if split.test[u] in top[:5] else None
            per_h.append(0.0 if rank is None else 1.0)
            per_n.append(0.0 if rank is None else 1 / np.log2(rank + 2))
        hr.append(np.mean(per_h))
        ndcg.append(np.mean(per_n))
    return {"hit@5": float(np.mean(hr)), "ndcg@5": float(np.mean(ndcg))}


def test_the_llm_path_end_to_end_against_a_known_fake(tmp_path: Path, capsys) -> None:
    with FakeOpenAIServer(answer=reverse_the_conventional, models={"m"}) as server:
        config = _config(tmp_path, server, 'aggregation = "llm"\naugment = false\n')
        out = tmp_path / "out"
        assert main(["run", str(config), "--out", str(out), "--no-progress"]) == 0
        asked = server.requests
        summary = json.loads((out / "summary.json").read_text())
        got, want = summary["models"][NAME]["test"], _by_hand(out)
        assert got["hit@5"] == pytest.approx(want["hit@5"]) and got["ndcg@5"] == pytest.approx(want["ndcg@5"])
        assert summary["models"]["sasrec"]["test"]["hit@5"] > 0.3  # the cycles were learned
        metrics = json.loads((out / NAME / "metrics.json").read_text())
        assert metrics["reranker"]["kind"] == "llm" and metrics["runs"][0]["audit"]["test"]["reranked"] == 30
        assert "p_value" in summary["models"][NAME]  # paired against the best baseline
        assert main(["run", str(config), "--out", str(out), "--no-progress"]) == 0  # a rerun asks nothing
        assert server.requests == asked
    assert NAME in capsys.readouterr().out


def test_the_no_llm_augmentation_and_alpha_zero(tmp_path: Path) -> None:
    config = _config(tmp_path, None, 'aggregation = "base"\n')
    out = tmp_path / "out"
    assert main(["run", str(config), "--out", str(out), "--no-progress"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert list(summary["models"]) == ["pop", "sasrec", "llama4rec-seq-sasrec", NAME]
    # alpha 0 keeps the order of the model it reranks: the SASRec retrained on augmented sequences
    got, base = summary["models"][NAME]["test"], summary["models"]["llama4rec-seq-sasrec"]["test"]
    assert {k: got[k] for k in base} == pytest.approx(base)
    picks = np.load(out / NAME / "picks.npz")
    assert (picks["position"] >= 0).sum() == 30 and (picks["item"] >= 0).all()
    audit = json.loads((out / NAME / "augment_audit.json").read_text())
    assert audit["teacher"]["kind"] == "local" and "no LLM" in audit["teacher"]["note"]
    retrained = json.loads((out / "llama4rec-seq-sasrec" / "metrics.json").read_text())
    assert retrained["sequences"]["added"] == 30
    assert "ties in time keep the dataset file's order" in " ".join(retrained["split"]["notes"])


def test_sasrec_needs_the_loo_split(tmp_path: Path, capsys) -> None:
    config = _config(tmp_path, None, split="ratio")
    assert main(["run", str(config), "--out", str(tmp_path / "out")]) == 2
    assert 'set [split] method = "loo"' in capsys.readouterr().err


def test_llama4rec_seq_needs_sasrec_in_the_run(tmp_path: Path, capsys) -> None:
    config = _config(tmp_path, None)
    out = str(tmp_path / "out")
    assert main(["run", str(config), "--out", out, "--set", 'methods=["pop", "llama4rec-seq"]']) == 2
    assert 'add "sasrec" to methods' in capsys.readouterr().err


def test_ablation_variants_rerun_only_the_rerank(tmp_path: Path) -> None:
    config = _config(tmp_path, None)
    out = tmp_path / "out"
    assert main(["ablate", str(config), "--out", str(out), "--no-progress"]) == 0
    part = json.loads((out / "ablation.json").read_text())["methods"][0]
    rows = {r["name"]: r for r in part["variants"]}
    assert part["method"] == NAME and list(rows) == [
        "full",
        "no-aggregation",
        "fixed-alpha",
        "no-augmentation",
    ]
    assert rows["no-augmentation"]["switches"] == {
        "adaptive": True,
        "aggregation": True,
        "augmentation": False,
    }
    plain = json.loads((out / rows["no-augmentation"]["dir"] / "metrics.json").read_text())
    assert plain["base"] == "sasrec" and "p_value" in rows["fixed-alpha"]
    assert not (out / "ablation" / "no-augmentation" / "sasrec").exists()  # SASRec was not retrained
