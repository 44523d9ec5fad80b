"""Relation encoding on a toy graph, checked by hand; training edges only; bad ids."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from llmrec.graph_relations import CHANNELS, PromptNodes, RelationEncoder

# users 0, 1, 2; items 0..3. u0-{i0, i1}, u1-{i1, i2}, u2-{i3}
TOY = sp.csr_matrix((np.ones(5, np.float32), ([0, 0, 1, 1, 2], [0, 1, 1, 2, 3])), shape=(3, 4))
ADJ, PROX, CO = (CHANNELS.index(c) for c in ("adjacent", "proximity", "cooccurrence"))


def test_toy_graph_by_hand() -> None:
    rel = RelationEncoder(TOY, max_hops=3).encode(PromptNodes(np.array([0, 1]), np.array([0, 1, 2, 3])))
    assert rel.shape == (3, 6, 6)
    u0, u1, i0, i1, i2, i3 = range(6)
    # first order: the training edges, symmetric
    assert rel[ADJ, u0, i0] == rel[ADJ, i0, u0] == 1.0
    assert rel[ADJ, u0, i2] == 0.0 and rel[ADJ, u1, i2] == 1.0
    # shortest paths: u0-i1 1 hop; u0-i1-u1-i2 3 hops; i0-u0-i1 2 hops; i0..i2 4 hops (past the cap)
    assert rel[PROX, u0, i1] == 1.0
    assert rel[PROX, u0, i2] == pytest.approx(1 / 3)
    assert rel[PROX, u0, i3] == 0.0  # another component
    assert rel[PROX, i0, i1] == 0.5 and rel[PROX, i0, i2] == 0.0
    assert rel[PROX, u0, u1] == 0.5
    # cosine co-occurrence: |N(i0) & N(i1)| = 1, degrees 1 and 2; user-item 1 / sqrt(d_u d_i)
    assert rel[CO, i0, i1] == pytest.approx(1 / np.sqrt(2))
    assert rel[CO, i1, i2] == pytest.approx(1 / np.sqrt(2 * 1))
    assert rel[CO, u0, u1] == pytest.approx(1 / 2)
    assert rel[CO, u0, i1] == pytest.approx(1 / np.sqrt(2 * 2))
    assert rel[CO, u0, i0] == pytest.approx(1 / np.sqrt(2 * 1))
    # no self relation, symmetric
    assert np.all(rel[:, range(6), range(6)] == 0)
    assert np.allclose(rel, rel.transpose(0, 2, 1))


def test_hop_cap() -> None:
    nodes = PromptNodes(np.array([0]), np.array([0, 2]))
    assert RelationEncoder(TOY, max_hops=2).encode(nodes)[PROX, 0, 2] == 0.0  # 3 hops > cap
    one = RelationEncoder(TOY, max_hops=1).encode(PromptNodes(np.array([]), np.array([0, 1])))
    assert one[PROX, 0, 1] == 0.0  # two items are 2 hops apart, past a cap of 1
    with pytest.raises(ValueError, match="max_hops"):
        RelationEncoder(TOY, max_hops=4)


def test_only_training_edges_leak_nothing() -> None:
    """An edge held out of the training matrix (valid/test) is invisible: not adjacent, and it
    creates no co-occurrence or path."""
    held_out = (0, 3)  # u0-i3 is a test edge
    full = TOY.tolil()
    full[held_out] = 1.0
    train_only = RelationEncoder(TOY, max_hops=3).encode(PromptNodes(np.array([0, 2]), np.array([0, 3])))
    u0, u2, i0, i3 = range(4)
    assert train_only[ADJ, u0, i3] == 0 and train_only[PROX, u0, i3] == 0
    assert train_only[CO, i0, i3] == 0 and train_only[CO, u0, u2] == 0
    leaky = RelationEncoder(full.tocsr(), max_hops=3).encode(PromptNodes(np.array([0, 2]), np.array([0, 3])))
    assert leaky[ADJ, u0, i3] == 1 and leaky[CO, i0, i3] > 0  # the same code would see it if given


def test_bad_nodes_and_empty_prompt() -> None:
    enc = RelationEncoder(TOY)
    with pytest.raises(ValueError, match="unknown item index \\[7\\]"):
        enc.encode(PromptNodes(np.array([0]), np.array([7])))
    with pytest.raises(ValueError, match="repeat"):
        enc.encode(PromptNodes(np.array([0, 0]), np.array([])))
    assert enc.encode(PromptNodes(np.array([], np.int64), np.array([], np.int64))).shape == (3, 0, 0)
