"""Training-loop policies that are not covered by the model contract tests."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from llmrec.config import EvalConfig, TrainConfig
from llmrec.data.interactions import Interactions
from llmrec.graph import build_graph
from llmrec.models import build_model
from llmrec.train import SINGLE_THREAD_EDGES, choose_threads, fit


def test_thread_choice() -> None:
    assert choose_threads(3, 10) == 3  # an explicit request wins
    assert choose_threads(0, SINGLE_THREAD_EDGES - 1) == 1  # small data: no OpenMP team to wait on
    assert choose_threads(0, SINGLE_THREAD_EDGES) >= 1


def _blocks(rng: np.random.Generator, n: int, noise: float) -> Interactions:
    """n edges of 30 users in three taste blocks of 12 items (of 40), a `noise` share of them random."""
    users = rng.integers(0, 30, n)
    items = (users % 3) * 12 + rng.integers(0, 12, n)
    flip = rng.random(n) < noise
    items[flip] = rng.integers(0, 40, int(flip.sum()))
    return Interactions.from_pairs(users, items, np.arange(30).astype(str), np.arange(40).astype(str))


@pytest.mark.parametrize("schedule", ["constant", "cosine"])
def test_a_blind_refit_replays_the_selection_run(schedule: str) -> None:
    # `train.refit` retrains on train + valid for the selected epoch count with no validation. On the
    # same data, that blind pass must land on exactly the weights the validated run selected: same
    # seeded sampler, same schedule (cut at the chosen epoch), so only the edges differ in a refit.
    rng = np.random.default_rng(0)
    train, valid = _blocks(rng, 150, noise=0.5), _blocks(rng, 60, noise=0.0)
    graph = build_graph(train)
    cfg = TrainConfig(
        epochs=12, batch_size=32, lr=0.005, lr_schedule=schedule, eval_every=1, patience=100, metric="ndcg@10"
    )
    eval_cfg = EvalConfig(ks=(5, 10), batch_size=16)
    torch.manual_seed(3)
    selected = build_model("lightgcn", 30, 40, 8, 2, 1e-4)
    result = fit(selected, train, valid, graph, cfg, eval_cfg, seed=3, show_progress=False)
    assert 1 < result.best_epoch < 12  # selected mid-run (11 constant, 6 cosine): the cut matters
    torch.manual_seed(3)
    blind = build_model("lightgcn", 30, 40, 8, 2, 1e-4)
    again = fit(
        blind, train, None, graph, cfg, eval_cfg, seed=3, show_progress=False, stop_after=result.best_epoch
    )
    assert again.best_epoch == result.best_epoch and len(again.history) == result.best_epoch
    for name, weight in selected.state_dict().items():
        torch.testing.assert_close(blind.state_dict()[name], weight, rtol=0, atol=1e-6, msg=name)
    # one epoch fewer is a different model: the cut is where it should be
    torch.manual_seed(3)
    short = build_model("lightgcn", 30, 40, 8, 2, 1e-4)
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
    train, valid = _blocks(rng, 300, noise=0.0), _blocks(rng, 60, noise=0.0)
    cfg = TrainConfig(epochs=1, batch_size=64, metric="recall@10", negatives=4)
    llmrec = build_model("llmrec", 30, 40, 8, 2, 1e-4)
    with pytest.raises(ConfigError, match="LLMRec trains on uniform negatives only"):
        fit(llmrec, train, valid, build_graph(train), cfg, EvalConfig(ks=(10,)), seed=0, show_progress=False)
