"""Llama4Rec through `llmrec run`: the LLM path against a fake server whose rankings are known, checked
by hand; the no-LLM path; alpha 0 reproduces the base model; pair augmentation retrains the base."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from llmrec.cli import main
from llmrec.inference import base_run
from llmrec.llm.testing import FakeOpenAIServer
from tests.conftest import block_interactions, write_block_csv

K = 4  # candidates reranked per user


def reverse_the_conventional(messages: list[dict[str, str]]) -> str:
    """The fake LLM: the conventional ranking stated in the prompt, reversed; pairs: always the first."""
    prompt = messages[-1]["content"]
    if "Which of two" in prompt:
        return "A"
    stated = re.search(r"ranks the candidates: (.+)", prompt)
    assert stated is not None
    return " > ".join(reversed(stated.group(1).strip().split(" > ")))


def _noisy_csv(tmp_path: Path) -> Path:
    """The block users with a third of their edges random: accuracy well below 1, so that the
    comparisons below are not between two perfect scores."""
    csv = write_block_csv(tmp_path)
    inter = block_interactions(np.random.default_rng(3), 900, 0.35)
    users, items = inter.pairs()
    csv.write_text(
        "user_id,item_id,rating\n" + "".join(f"u{u},i{i},5\n" for u, i in zip(users, items, strict=True))
    )
    return csv


def _config(tmp_path: Path, server: FakeOpenAIServer | None, extra: str = "", noisy: bool = False) -> Path:
    csv = _noisy_csv(tmp_path) if noisy else write_block_csv(tmp_path)
    path = tmp_path / "run.toml"
    reranker = "llm" if server else "local"
    llm = (
        f'[llm]\nbase_url = "{server.url}"\nmodel = "m"\ncache_path = "{tmp_path / "llm.sqlite"}"\n'
        if server
        else ""
    )
    path.write_text(
        f'seeds = 2\nmethods = ["lightgcn", "llama4rec"]\n[data]\ndataset = "custom"\npath = "{csv}"\n'
        f'items_path = "{csv.parent / "items.csv"}"\n'
        f'rating_col = "rating"\n[split]\nratios = [0.6, 0.2, 0.2]\n[model]\ndim = 8\n'
        '[train]\nepochs = 10\nlr = 0.05\nbatch_size = 64\neval_every = 5\nmetric = "recall@5"\n'
        f'[eval]\nks = [2, 5]\n[augment]\nvector_cache = "{tmp_path / "vec.sqlite"}"\n{llm}'
        f'[llama4rec]\nreranker = "{reranker}"\nn_candidates = {K}\n{extra}'
    )
    return path


def _by_hand(out: Path) -> dict[str, float]:
    """Test Recall@5 and NDCG@5, mean over seeds, of each user's top items with the first K reversed."""
    base = base_run(out / "lightgcn")
    split = base.split
    recalls, ndcgs = [], []
    for seed in (2024, 2025):
        from llmrec.experiment import load_trained

        run = load_trained(out / "lightgcn")
        with torch.no_grad():
            scores = run.test_model(seed).score(torch.arange(split.train.n_users), run.test_graph).numpy()
        seen = (split.train.user_items + split.valid.user_items).toarray() > 0
        scores[seen] = -np.inf
        per_r, per_n = [], []
        for u in split.test.active_users():
            ranked = [int(i) for i in np.argsort(-scores[u], kind="stable") if np.isfinite(scores[u, i])]
            top = ranked[:K][::-1] + ranked[K:]
            held = set(split.test.items_of(u).tolist())
            hits = [1.0 if i in held else 0.0 for i in top[:5]]
            ideal = sum(1 / np.log2(r + 2) for r in range(min(5, len(held))))
            per_r.append(sum(hits) / len(held))
            per_n.append(sum(h / np.log2(r + 2) for r, h in enumerate(hits)) / ideal)
        recalls.append(np.mean(per_r))
        ndcgs.append(np.mean(per_n))
    return {"recall@5": float(np.mean(recalls)), "ndcg@5": float(np.mean(ndcgs))}


def test_the_llm_reranker_end_to_end_against_a_known_fake(tmp_path: Path, capsys) -> None:
    with FakeOpenAIServer(answer=reverse_the_conventional, models={"m"}) as server:
        config = _config(tmp_path, server, 'aggregation = "llm"\n')
        out = tmp_path / "out"
        assert main(["run", str(config), "--out", str(out), "--no-progress"]) == 0
        asked = server.requests
        summary = json.loads((out / "summary.json").read_text())
        got = summary["models"]["llama4rec"]["test"]
        want = _by_hand(out)
        assert got["recall@5"] == pytest.approx(want["recall@5"]) and got["ndcg@5"] == pytest.approx(
            want["ndcg@5"]
        )
        metrics = json.loads((out / "llama4rec" / "metrics.json").read_text())
        assert metrics["reranker"]["kind"] == "llm" and metrics["base"] == "lightgcn"
        assert (
            metrics["runs"][0]["audit"]["test"]["reranked"] == 36
            and "p_value" in summary["models"]["llama4rec"]
        )
        assert main(["run", str(config), "--out", str(out), "--no-progress"]) == 0  # a rerun asks nothing
        assert server.requests == asked
    assert "llama4rec" in capsys.readouterr().out


def test_alpha_zero_is_the_base_model_and_pairs_retrain_it(tmp_path: Path, capsys) -> None:
    config = _config(
        tmp_path, None, 'aggregation = "base"\naugment_base = true\nbase = "lightgcn"\n', noisy=True
    )
    out = tmp_path / "out"
    assert main(["run", str(config), "--out", str(out), "--no-progress"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert list(summary["models"]) == ["lightgcn", "llama4rec-base", "llama4rec"]
    # alpha 0 keeps the conventional order of the model it reranks: here the pair-augmented base
    got, base = summary["models"]["llama4rec"]["test"], summary["models"]["llama4rec-base"]["test"]
    assert {k: got[k] for k in base} == pytest.approx(base) and 0.2 < base["recall@5"] < 0.9
    pairs = np.load(out / "llama4rec" / "pairs.npz")
    assert len(pairs["user"]) == 30 and (pairs["pos"] != pairs["neg"]).all()  # one pair per user
    retrained = json.loads((out / "llama4rec-base" / "metrics.json").read_text())
    assert retrained["inputs"]["pairs"] == 30 and retrained["inputs"]["teacher"]["kind"] == "local"
    capsys.readouterr()  # a named base that is not a baseline of the run: refused before data loads
    assert main(["run", str(config), "--out", str(out), "--set", 'llama4rec.base="sgl"']) == 2
    assert "llama4rec.base: 'sgl' is not a baseline of this run" in capsys.readouterr().err


def test_ablation_variants_rerun_only_the_rerank(tmp_path: Path) -> None:
    config = _config(tmp_path, None, noisy=True)
    out = tmp_path / "out"
    assert main(["ablate", str(config), "--out", str(out), "--no-progress"]) == 0
    part = json.loads((out / "ablation.json").read_text())["methods"][0]
    assert part["method"] == "llama4rec"
    rows = {r["name"]: r for r in part["variants"]}
    assert list(rows) == ["full", "no-aggregation", "fixed-alpha", "no-prompt-augmentation"]
    for name, aggregation in (("no-aggregation", "llm"), ("fixed-alpha", "fixed")):
        run = json.loads((out / rows[name]["dir"] / "metrics.json").read_text())["runs"][0]
        assert run["alpha"]["aggregation"] == aggregation
    fixed = json.loads((out / rows["fixed-alpha"]["dir"] / "metrics.json").read_text())["runs"]
    assert all(r["alpha"]["alpha2"] == 1.0 for r in fixed)  # one alpha for everyone: alpha1 * max(depth, 1)
    assert rows["no-aggregation"]["switches"]["aggregation"] is False and "p_value" in rows["fixed-alpha"]
    assert not (out / "ablation" / "no-aggregation" / "lightgcn").exists()  # the base was not retrained
