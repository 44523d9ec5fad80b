"""Normalised adjacency and the custom sparse backward, checked by an independent dense route."""

import numpy as np
import scipy.sparse as sp
import torch

from llmrec.data.interactions import Interactions
from llmrec.graph import build_graph, normalized_adjacency, to_torch_csr
from llmrec.models.ops import propagate, symmetric_spmm


def test_normalized_adjacency_matches_dense_formula() -> None:
    r = np.array([[1, 1, 0], [0, 1, 0]], dtype=np.float32)  # user 0 -> items 0,1; user 1 -> item 1
    adj = normalized_adjacency(sp.csr_matrix(r)).toarray()
    # degrees: u0 2, u1 1, i0 1, i1 2, i2 0 (isolated -> zero row)
    expected = np.zeros((5, 5), dtype=np.float32)
    for u, i in [(0, 0), (0, 1), (1, 1)]:
        du, di = r[u].sum(), r[:, i].sum()
        expected[u, 2 + i] = expected[2 + i, u] = 1 / np.sqrt(du * di)
    np.testing.assert_allclose(adj, expected, rtol=1e-6)
    assert adj[4].sum() == 0


def test_symmetric_spmm_gradient_matches_dense_autograd() -> None:
    rng = np.random.default_rng(1)
    r = sp.random(6, 8, density=0.4, random_state=1, format="csr")
    adj = normalized_adjacency(r)
    x = torch.from_numpy(rng.normal(size=(14, 4)).astype(np.float32)).requires_grad_()
    weights = torch.from_numpy(rng.normal(size=(14, 4)).astype(np.float32))
    (propagate(to_torch_csr(adj), x, 3) * weights).sum().backward()
    sparse_grad = x.grad.clone()

    dense = torch.from_numpy(adj.toarray())
    x2 = x.detach().clone().requires_grad_()
    h, out = x2, x2
    for _ in range(3):
        h = dense @ h
        out = out + h
    ((out / 4) * weights).sum().backward()
    torch.testing.assert_close(sparse_grad, x2.grad, rtol=1e-5, atol=1e-6)


def test_symmetric_spmm_forward() -> None:
    adj = normalized_adjacency(sp.csr_matrix(np.eye(3, dtype=np.float32)))
    x = torch.arange(12, dtype=torch.float32).reshape(6, 2)
    torch.testing.assert_close(symmetric_spmm(to_torch_csr(adj), x), torch.from_numpy(adj.toarray()) @ x)


def test_build_graph_carries_train_plus_extra_edges() -> None:
    ids = np.arange(3)
    train = Interactions.from_pairs([0, 0, 1], [0, 1, 1], ids, ids)
    extra = sp.csr_matrix(
        np.array([[1, 0, 0], [0, 0, 1], [0, 0, 1]], dtype=np.float32)
    )  # (0, 0) repeats train
    graph = build_graph(train, extra)
    expected = np.array([[1, 1, 0], [0, 1, 1], [0, 0, 1]], dtype=np.float32)  # a repeated edge counts once
    np.testing.assert_array_equal(graph.user_items.toarray(), expected)
    np.testing.assert_allclose(
        graph.adj.to_dense().numpy(), normalized_adjacency(sp.csr_matrix(expected)).toarray()
    )
    assert train.nnz == 3 and train.user_items.max() == 1  # the training matrix itself is untouched
    assert build_graph(train).user_items.nnz == 3
