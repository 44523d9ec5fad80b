"""Contract tests run against every model: shapes, determinism, and a block matrix with a known answer."""

import numpy as np
import pytest
import torch

from llmrec.config import EvalConfig, TrainConfig
from llmrec.data.interactions import Interactions
from llmrec.evaluate import embedding_scorer, evaluate
from llmrec.graph import build_graph
from llmrec.models import MODELS, build_model
from llmrec.train import fit, validate


def block_split(n_blocks: int = 3, size: int = 8) -> tuple[Interactions, Interactions]:
    """Users of block b like exactly the items of block b; one item per user is held out."""
    users, items, held_u, held_i = [], [], [], []
    for b in range(n_blocks):
        for k in range(size):
            u = b * size + k
            block_items = [b * size + j for j in range(size)]
            held = block_items[k]  # a different held-out item for each user of the block
            for i in block_items:
                (held_u if i == held else users).append(u)
                (held_i if i == held else items).append(i)
    n = n_blocks * size
    ids = np.arange(n)
    return Interactions.from_pairs(users, items, ids, ids), Interactions.from_pairs(held_u, held_i, ids, ids)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_shapes_and_seeded_determinism(name: str) -> None:
    train, _ = block_split()
    graph = build_graph(train)
    outs = []
    for _ in range(2):
        torch.manual_seed(3)
        model = build_model(name, train.n_users, train.n_items, dim=8, n_layers=2, reg=1e-4)
        users, items = model.embed(graph)
        assert users.shape == (24, 8) and items.shape == (24, 8)
        assert model.score(torch.tensor([0, 5]), graph).shape == (2, 24)
        batch = (torch.tensor([0, 1]), torch.tensor([1, 2]), torch.tensor([20, 21]))
        loss = model.loss(batch, graph)
        assert loss.ndim == 0 and torch.isfinite(loss)
        outs.append(loss.item())
    assert outs[0] == outs[1]


@pytest.mark.parametrize("name", sorted(MODELS))
def test_learns_block_structure(name: str) -> None:
    # The held-out item is the only unseen item of the user's own block, so a model that learned
    # the blocks ranks it first: recall@1 must be near 1 (random ranking gives 1/17).
    train, held = block_split()
    graph = build_graph(train)
    torch.manual_seed(0)
    model = build_model(name, train.n_users, train.n_items, dim=16, n_layers=2, reg=1e-4)
    cfg = TrainConfig(epochs=150, batch_size=64, lr=0.05, eval_every=10, patience=100, metric="recall@1")
    result = fit(model, train, held, graph, cfg, EvalConfig(ks=(1,)), seed=0, show_progress=False)
    assert result.best_valid["recall@1"] >= 0.9
    # the weights left in the model are the selected ones, not the last epoch's
    assert validate(model, graph, held, train, EvalConfig(ks=(1,))) == pytest.approx(result.best_valid)
    with torch.no_grad():
        scorer = embedding_scorer(*model.embed(graph))
    assert evaluate(scorer, held, [train], ks=(1,))["recall@1"] >= 0.9
