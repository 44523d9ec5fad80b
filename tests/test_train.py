"""Training-loop policies that are not covered by the model contract tests."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from llmrec.config import EvalConfig, TrainConfig
from llmrec.errors import ConfigError
from llmrec.graph import build_graph
from llmrec.models import build_model
from llmrec.train import SINGLE_THREAD_EDGES, choose_threads, fit
from tests.conftest import block_interactions


def test_thread_choice() -> None:
    assert choose_threads(3, 10) == 3  # an explicit request wins
    assert choose_threads(0, SINGLE_THREAD_EDGES - 1) == 1  # small data: no OpenMP team to wait on
    assert choose_threads(0, SINGLE_THREAD_EDGES) >= 1


@pytest.mark.parametrize(
    ("name", "schedule"),
    [("lightgcn", "constant"), ("lightgcn", "cosine"), ("simgcl", "constant"), ("sgl", "constant")],
)
def test_a_blind_refit_replays_the_selection_run(name: str, schedule: str) -> None:
    # `train.refit` retrains on train + valid for the selected epoch count with no validation. On the
    # same data, that blind pass must land on exactly the weights the validated run selected: same
    # seeded sampler, same schedule (cut at the chosen epoch), so only the edges differ in a refit.
    # Validation must not draw from any stream training uses (SimGCL's noise is torch's generator,
    # SGL's dropped edges the trainer's per-epoch one); benchmarks/test_selected.py relies on it too.
    rng = np.random.default_rng(0)
    train, valid = block_interactions(rng, 150, noise=0.5), block_interactions(rng, 60, noise=0.0)
    graph = build_graph(train)
    cfg = TrainConfig(
        epochs=12, batch_size=32, lr=0.005, lr_schedule=schedule, eval_every=1, patience=100, metric="ndcg@10"
    )
    eval_cfg = EvalConfig(ks=(5, 10), batch_size=16)
    torch.manual_seed(3)
    selected = build_model(name, 30, 40, 8, 2, 1e-4)
    result = fit(selected, train, valid, graph, cfg, eval_cfg, seed=3, show_progress=False)
    assert 1 < result.best_epoch < 12  # selected mid-run (11 constant, 6 cosine): the cut matters
    torch.manual_seed(3)
    blind = build_model(name, 30, 40, 8, 2, 1e-4)
    again = fit(
        blind, train, None, graph, cfg, eval_cfg, seed=3, show_progress=False, stop_after=result.best_epoch
    )
    assert again.best_epoch == result.best_epoch and len(again.history) == result.best_epoch
    for key, weight in selected.state_dict().items():
        torch.testing.assert_close(blind.state_dict()[key], weight, rtol=0, atol=1e-6, msg=key)
    # one epoch fewer is a different model: the cut is where it should be
    torch.manual_seed(3)
    short = build_model(name, 30, 40, 8, 2, 1e-4)
    fit(
        short,
        train,
        None,
        graph,
        cfg,
        eval_cfg,
        seed=3,
        show_progress=False,
        stop_after=result.best_epoch - 1,
    )
    assert not torch.allclose(short.state_dict()["user_emb.weight"], selected.state_dict()["user_emb.weight"])


def test_train_negatives_are_checked() -> None:
    from llmrec.errors import ConfigError
    from llmrec.train import check_train_config

    with pytest.raises(ConfigError, match="train.negatives must be at least 1"):
        check_train_config(TrainConfig(negatives=0), EvalConfig())
    rng = np.random.default_rng(0)
    train, valid = block_interactions(rng, 300, noise=0.0), block_interactions(rng, 60, noise=0.0)
    cfg = TrainConfig(epochs=1, batch_size=64, metric="recall@10", negatives=4)
    llmrec = build_model("llmrec", 30, 40, 8, 2, 1e-4)
    with pytest.raises(ConfigError, match="LLMRec trains on uniform negatives only"):
        fit(llmrec, train, valid, build_graph(train), cfg, EvalConfig(ks=(10,)), seed=0, show_progress=False)


def test_min_epochs_holds_off_early_stopping() -> None:
    """With patience 1, a run stops at its first evaluation without improvement; min_epochs delays
    that stop (but not the selection: the best epoch is still the best validated one)."""
    rng = np.random.default_rng(0)
    train, valid = block_interactions(rng, 150, noise=0.5), block_interactions(rng, 60, noise=0.5)
    graph = build_graph(train)
    base = dict(epochs=30, batch_size=32, lr=0.05, eval_every=1, patience=1, metric="ndcg@10")
    eval_cfg = EvalConfig(ks=(10,), batch_size=16)
    runs = {}
    for min_epochs in (0, 20):
        torch.manual_seed(3)
        model = build_model("bpr-mf", 30, 40, 8, 2, 1e-4)
        runs[min_epochs] = fit(
            model, train, valid, graph, TrainConfig(**base, min_epochs=min_epochs), eval_cfg, 3, False
        )
    early, held = runs[0], runs[20]
    assert early.stopped_by == "patience" and len(early.history) < 20
    same = [(h["epoch"], h["loss"], h["valid"]) for h in early.history]  # the same run until it stopped
    assert (
        len(held.history) >= 20
        and [(h["epoch"], h["loss"], h["valid"]) for h in held.history][: len(same)] == same
    )
    assert held.best_valid["ndcg@10"] == max(h["valid"]["ndcg@10"] for h in held.history)
    with pytest.raises(ConfigError, match="min_epochs"):
        fit(model, train, valid, graph, TrainConfig(**base, min_epochs=31), eval_cfg, 3, False)
