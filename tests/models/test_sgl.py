"""SGL's edge-dropout views: the fraction dropped, seeding, re-normalisation, and the per-epoch hook."""

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from llmrec.config import EvalConfig, TrainConfig
from llmrec.graph import build_graph, normalized_adjacency
from llmrec.models.sgl import SGL, drop_edges
from llmrec.train import fit
from tests.models.test_contract import block_split


def test_drop_edges_keeps_the_expected_subset_and_is_seeded() -> None:
    r = sp.random(50, 60, density=0.2, random_state=0, format="csr", dtype=np.float32)
    r.data[:] = 1.0
    view = drop_edges(r, 0.1, np.random.default_rng(5))
    assert view.nnz == round(0.9 * r.nnz)
    assert (view.multiply(r) != view).nnz == 0  # only original edges survive
    again = drop_edges(r, 0.1, np.random.default_rng(5))
    assert (again != view).nnz == 0
    other = drop_edges(r, 0.1, np.random.default_rng(6))
    assert (other != view).nnz > 0


def test_start_epoch_builds_two_different_renormalised_views() -> None:
    train, _ = block_split()
    graph = build_graph(train)
    model = SGL(train.n_users, train.n_items, dim=8, n_layers=2, drop_ratio=0.25)
    model.start_epoch(graph, np.random.default_rng(0))
    assert model.views is not None
    v1, v2 = (v.to_dense().numpy() for v in model.views)
    assert not np.array_equal(v1, v2)
    # each view is the normalised adjacency of its own surviving edges (degrees after the drop)
    kept = sp.csr_matrix(v1[: train.n_users, train.n_users :] != 0, dtype=np.float32)
    assert kept.nnz == round(0.75 * train.nnz)
    np.testing.assert_allclose(v1, normalized_adjacency(kept).toarray(), rtol=1e-6)


def test_loss_needs_the_epoch_views() -> None:
    train, _ = block_split()
    model = SGL(train.n_users, train.n_items, dim=8)
    batch = (torch.tensor([0]), torch.tensor([1]), torch.tensor([20]))
    with pytest.raises(RuntimeError, match="start_epoch"):
        model.loss(batch, build_graph(train))


class RecordingSGL(SGL):
    """SGL that keeps a copy of each epoch's first view."""

    def __init__(self, *args: int) -> None:
        super().__init__(*args)
        self.drawn: list[torch.Tensor] = []

    def start_epoch(self, graph: object, generator: np.random.Generator) -> None:
        super().start_epoch(graph, generator)
        assert self.views is not None
        self.drawn.append(self.views[0].values().clone())


def test_fit_redraws_views_each_epoch_from_the_seed() -> None:
    train, held = block_split()
    graph = build_graph(train)
    cfg = TrainConfig(epochs=3, batch_size=64, lr=0.01, metric="recall@1")
    runs = []
    for _ in range(2):
        torch.manual_seed(0)
        model = RecordingSGL(train.n_users, train.n_items, 8, 2)
        fit(model, train, held, graph, cfg, EvalConfig(ks=(1,)), seed=7, show_progress=False)
        runs.append(model.drawn)
    assert len(runs[0]) == 3 and not torch.equal(runs[0][0], runs[0][1])
    assert all(torch.equal(a, b) for a, b in zip(runs[0], runs[1], strict=True))
