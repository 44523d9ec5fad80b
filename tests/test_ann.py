"""The serving index: exact top-K equals brute force, FAISS kinds agree with it, seen items stay out."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from llmrec.ann import IndexParams, ItemIndex, exact_topk


def brute(users: np.ndarray, items: np.ndarray, k: int, seen: list[list[int]]) -> np.ndarray:
    """Top-k by sorting every score, seen items set to -inf: the independent reference."""
    scores = users @ items.T
    for u, row in enumerate(seen):
        scores[u, row] = -np.inf
    return np.argsort(-scores, axis=1, kind="stable")[:, :k]


def clustered(rng: np.random.Generator, n: int, dim: int) -> np.ndarray:
    centres = rng.normal(size=(20, dim))
    return (centres[rng.integers(0, 20, n)] + 0.3 * rng.normal(size=(n, dim))).astype(np.float32)


def test_exact_matches_brute_force_with_exclusion() -> None:
    rng = np.random.default_rng(0)
    items, users = rng.normal(size=(300, 8)).astype(np.float32), rng.normal(size=(40, 8)).astype(np.float32)
    seen = [list(rng.choice(300, size=int(rng.integers(0, 30)), replace=False)) for _ in range(40)]
    exclude = sp.csr_matrix(
        (np.ones(sum(map(len, seen))), np.concatenate([np.array(s, int) for s in seen]),
         np.cumsum([0] + [len(s) for s in seen])), shape=(40, 300),
    )  # fmt: skip
    index = ItemIndex.build(items, IndexParams(kind="exact"))
    scores, ids = index.search(users, 10, exclude)
    assert np.array_equal(ids, brute(users, items, 10, seen))
    assert np.allclose(scores, np.take_along_axis(users @ items.T, ids, axis=1), atol=1e-5)
    _, by_lists = index.search(users, 10, [np.array(s) for s in seen])
    assert np.array_equal(by_lists, ids)


@pytest.mark.parametrize(
    "kind,metric,floor", [("hnsw", "lift", 0.95), ("hnsw", "ip", 0.85), ("ivf", "lift", 0.95)]
)  # the inner-product graph saturates lower on clustered data with varied norms (docs/scale.md)
def test_faiss_kinds_agree_with_exact_and_skip_seen(kind: str, metric: str, floor: float) -> None:
    rng = np.random.default_rng(1)
    items, users = clustered(rng, 4000, 16), clustered(rng, 200, 16)
    seen = [rng.choice(4000, size=25, replace=False) for _ in range(200)]
    truth = brute(users, items, 20, [list(s) for s in seen])
    index = ItemIndex.build(items, IndexParams(kind=kind, nprobe=16, hnsw_metric=metric))
    _, ids = index.search(users, 20, seen)
    recall = np.mean([len(set(a) & set(b)) / 20 for a, b in zip(ids, truth, strict=True)])
    assert recall >= floor, recall
    assert all(not set(row) & set(s) for row, s in zip(ids, seen, strict=True))  # never a seen item
    assert (ids >= 0).all()  # over-fetching left k unseen items for everyone
    assert index.memory_bytes() > items.nbytes  # the graph or lists on top of the vectors


def test_auto_is_exact_for_small_catalogues_and_ivf_above() -> None:
    items = np.random.default_rng(2).normal(size=(150, 4)).astype(np.float32)
    assert ItemIndex.build(items).kind == "exact"
    assert ItemIndex.build(items).memory_bytes() == 150 * 4 * 4
    assert ItemIndex.build(items, IndexParams(exact_below=100)).kind == "ivf"


def test_fewer_unseen_items_than_k_are_padded() -> None:
    items = np.eye(5, dtype=np.float32)
    scores, ids = ItemIndex.build(items).search(np.ones((1, 5), np.float32), 4, [np.array([0, 1, 2])])
    assert ids.tolist() == [[3, 4, -1, -1]] and np.isneginf(scores[0, 2:]).all()


def test_exact_topk_breaks_ties_by_lower_id() -> None:
    _, ids = exact_topk(np.ones((1, 2)), np.ones((6, 2)), 3)
    assert ids.tolist() == [[0, 1, 2]]


def test_bad_input_is_named() -> None:
    items = np.ones((10, 4), np.float32)
    index = ItemIndex.build(items)
    with pytest.raises(ValueError, match=r"user vectors must be n x 4, got shape \(2, 3\)"):
        index.search(np.ones((2, 3)), 5)
    with pytest.raises(ValueError, match="k must be at least 1"):
        index.search(np.ones((2, 4)), 0)
    with pytest.raises(ValueError, match="exclude has 1 rows for 2 user vectors"):
        index.search(np.ones((2, 4)), 5, [np.array([1])])
    with pytest.raises(ValueError, match="NaN or infinity"):
        ItemIndex.build(np.full((3, 2), np.nan))
    with pytest.raises(ValueError, match="ann kind 'annoy' unknown"):
        IndexParams(kind="annoy")
