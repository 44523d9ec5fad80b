"""Contract tests run against every model: shapes, determinism, and a block matrix with a known answer."""

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from llmrec.config import EvalConfig, TrainConfig
from llmrec.data.interactions import Interactions
from llmrec.evaluate import evaluate, model_scorer, topk_unseen
from llmrec.graph import Graph, build_graph
from llmrec.models import MODELS, SideFeatures, build_model
from llmrec.train import fit, validate

FEATURED = "llmrec+features"  # LLMRec given a random user and a random item feature matrix
# sequential models read item sequences, not a graph: their own contract is tests/models/test_sasrec.py
CASES = [*sorted(n for n, spec in MODELS.items() if not spec.capabilities.sequential), FEATURED]
# popularity ranks the same items for everyone by design: it cannot learn per-user blocks (its own
# hand-computed test is tests/models/test_pop.py)
PERSONAL_CASES = [c for c in CASES if c != "pop"]
GRAPH_MODELS = sorted(n for n, spec in MODELS.items() if spec.capabilities.graph)
GRAPH_CASES = [*GRAPH_MODELS, FEATURED]


def block_split(
    n_blocks: int = 3, size: int = 8, n_users: int | None = None
) -> tuple[Interactions, Interactions]:
    """Users of block b like exactly the items of block b; one item per user is held out.

    `n_users` beyond n_blocks * size adds users without any interaction.
    """
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
    user_ids, item_ids = np.arange(n_users or n), np.arange(n)
    return (
        Interactions.from_pairs(users, items, user_ids, item_ids),
        Interactions.from_pairs(held_u, held_i, user_ids, item_ids),
    )


def make(
    case: str, train: Interactions, dim: int, extra: sp.csr_matrix | None = None
) -> tuple[torch.nn.Module, Graph]:
    """The model of a contract case and the graph it is trained and scored on."""
    if case != FEATURED:
        model = build_model(case, train.n_users, train.n_items, dim=dim, n_layers=2, reg=1e-4)
        return model, build_graph(train, extra)
    gen = torch.Generator().manual_seed(7)  # its own stream: the caller's torch seed fixes the weights
    user = torch.randn(train.n_users, 5, generator=gen)
    item = torch.randn(train.n_items, 6, generator=gen)
    features = SideFeatures(user={"profile": user}, item={"text": item})
    model = build_model(
        "llmrec", train.n_users, train.n_items, dim, 2, 1e-4, user_feature_dims=(5,), item_feature_dims=(6,)
    )
    return model, build_graph(train, extra, features)


def ready(model: torch.nn.Module, graph: object, seed: int = 0) -> torch.nn.Module:
    """What `fit` does before the first batch: solve a closed-form model, or draw the epoch's state."""
    if hasattr(model, "fit"):
        model.fit(graph.user_items)  # type: ignore[attr-defined]
    if hasattr(model, "start_epoch"):
        model.start_epoch(graph, np.random.default_rng(seed))
    return model


@pytest.mark.parametrize("name", CASES)
def test_shapes_and_seeded_determinism(name: str) -> None:
    train, _ = block_split()
    scores, losses = [], []
    for _ in range(2):
        torch.manual_seed(3)
        model, graph = make(name, train, dim=8)
        model = ready(model, graph)
        if hasattr(model, "embed"):
            users, items = model.embed(graph)
            assert users.shape == (24, 8) and items.shape == (24, 8)
        scores.append(model.score(torch.tensor([0, 5]), graph))
        assert scores[-1].shape == (2, 24) and torch.isfinite(scores[-1]).all()
        if any(True for _ in model.parameters()):  # a training-free model has no loss
            batch = (torch.tensor([0, 1]), torch.tensor([1, 2]), torch.tensor([20, 21]))
            loss = model.loss(batch, graph)
            assert loss.ndim == 0 and torch.isfinite(loss)
            losses.append(loss.item())
    torch.testing.assert_close(scores[0], scores[1], rtol=0, atol=0)
    assert losses[:1] == losses[1:]


@pytest.mark.parametrize("name", CASES)
def test_score_agrees_with_the_evaluation_scorer(name: str) -> None:
    train, _ = block_split()
    torch.manual_seed(0)
    model, graph = make(name, train, dim=8)
    model = ready(model, graph)
    users = torch.tensor([3, 0, 17])
    with torch.no_grad():
        torch.testing.assert_close(model_scorer(model, graph)(users), model.score(users, graph))


@pytest.mark.parametrize("name", PERSONAL_CASES)
def test_learns_block_structure(name: str) -> None:
    # The held-out item is the only unseen item of the user's own block, so a model that learned
    # the blocks ranks it first: recall@1 must be near 1 (random ranking gives 1/17).
    train, held = block_split()
    torch.manual_seed(0)
    model, graph = make(name, train, dim=16)
    cfg = TrainConfig(epochs=150, batch_size=64, lr=0.05, eval_every=10, patience=100, metric="recall@1")
    result = fit(model, train, held, graph, cfg, EvalConfig(ks=(1,)), seed=0, show_progress=False)
    assert result.best_valid["recall@1"] >= 0.9
    # the weights left in the model are the selected ones, not the last epoch's
    assert validate(model, graph, held, train, EvalConfig(ks=(1,))) == pytest.approx(result.best_valid)
    assert evaluate(model_scorer(model, graph), held, [train], ks=(1,))["recall@1"] >= 0.9


@pytest.mark.parametrize("name", GRAPH_CASES)
def test_extra_edges_reach_the_model(name: str) -> None:
    # User 24 has no training interaction; extra (e.g. LLM-augmented) edges link it to seven items of
    # block 0. Only a model that reads the graph's edges can rank the eighth block-0 item first for it.
    train, held = block_split(n_users=25)
    cold, target = 24, 7
    extra = sp.csr_matrix((np.ones(7), ([cold] * 7, range(7))), shape=train.user_items.shape)
    torch.manual_seed(0)
    model, graph = make(name, train, dim=16, extra=extra)
    assert graph.user_items.nnz == train.nnz + 7
    cfg = TrainConfig(epochs=150, batch_size=64, lr=0.05, eval_every=10, patience=100, metric="recall@1")
    fit(model, train, held, graph, cfg, EvalConfig(ks=(1,)), seed=0, show_progress=False)
    with torch.no_grad():
        scores = model_scorer(model, graph)(torch.tensor([cold]))
    assert topk_unseen(scores, np.array([cold]), graph.user_items, 1).item() == target


HARD_NEGATIVE_MODELS = sorted(n for n, spec in MODELS.items() if spec.capabilities.hard_negatives)


@pytest.mark.parametrize("name", HARD_NEGATIVE_MODELS)
def test_negative_candidates_train_on_the_top_scored_one(name: str) -> None:
    # Dynamic negative sampling, by an independent route: the full score matrix picks, for each edge,
    # the candidate the model ranks highest; the loss on the candidates equals the loss on those picks.
    train, _ = block_split()
    torch.manual_seed(5)
    model, graph = make(name, train, dim=8)
    model = ready(model, graph)
    users, pos = torch.tensor([0, 3, 9, 17]), torch.tensor([1, 2, 12, 20])
    candidates = torch.tensor([[8, 16, 23], [9, 10, 11], [0, 1, 2], [4, 12, 5]])
    with torch.no_grad():
        scores = model.score(users, graph)
    picks = candidates[torch.arange(4), scores.gather(1, candidates).argmax(1)]
    torch.manual_seed(1)  # SimGCL draws noise in its loss: the same draws for both calls
    by_candidates = model.loss((users, pos, candidates), graph)
    torch.manual_seed(1)
    by_picks = model.loss((users, pos, picks), graph)
    torch.testing.assert_close(by_candidates, by_picks)


def test_hard_negatives_are_offered_by_the_bpr_trained_models_and_train_through_fit() -> None:
    assert HARD_NEGATIVE_MODELS == ["bpr-mf", "lightgcn", "sgl", "simgcl"]
    train, held = block_split()
    torch.manual_seed(0)
    model, graph = make("lightgcn", train, dim=16)
    cfg = TrainConfig(epochs=10, batch_size=64, lr=0.05, eval_every=10, metric="recall@1", negatives=4)
    result = fit(model, train, held, graph, cfg, EvalConfig(ks=(1,)), seed=0, show_progress=False)
    assert result.best_valid["recall@1"] >= 0.9
