"""Metric definitions against values computed by hand."""

import math

import numpy as np
import pytest
import torch

from llmrec.data.interactions import Interactions
from llmrec.evaluate import embedding_scorer, evaluate, hits_of, metrics_from_hits


def test_metrics_single_user_by_hand() -> None:
    # top-5 list with hits at ranks 1 and 4, three held-out items
    hits = torch.tensor([[1, 0, 0, 1, 0]])
    out = metrics_from_hits(hits, torch.tensor([3]), ks=(5, 2))
    dcg = 1 / math.log2(2) + 1 / math.log2(5)
    idcg = 1 / math.log2(2) + 1 / math.log2(3) + 1 / math.log2(4)
    assert out["recall@5"].item() == pytest.approx(2 / 3)
    assert out["precision@5"].item() == pytest.approx(2 / 5)
    assert out["ndcg@5"].item() == pytest.approx(dcg / idcg)
    assert out["hit@5"].item() == 1.0
    assert out["mrr@5"].item() == 1.0
    # at K=2 only the first hit counts, and the ideal DCG is truncated at min(K, |T|) = 2
    assert out["recall@2"].item() == pytest.approx(1 / 3)
    assert out["precision@2"].item() == pytest.approx(1 / 2)
    assert out["ndcg@2"].item() == pytest.approx(1 / (1 + 1 / math.log2(3)))


def test_metrics_first_hit_late_and_no_hit() -> None:
    hits = torch.tensor([[0, 0, 1], [0, 0, 0]])
    out = metrics_from_hits(hits, torch.tensor([1, 2]), ks=(3,))
    assert out["mrr@3"].tolist() == pytest.approx([1 / 3, 0.0])
    assert out["hit@3"].tolist() == [1.0, 0.0]
    assert out["ndcg@3"].tolist() == pytest.approx([1 / math.log2(4), 0.0])


def _inter(rows: list[list[int]], n_items: int) -> Interactions:
    users = np.repeat(np.arange(len(rows)), [len(r) for r in rows])
    items = np.array([i for r in rows for i in r], dtype=np.int64)
    return Interactions.from_pairs(users, items, np.arange(len(rows)), np.arange(n_items))


def test_evaluate_masks_seen_items_and_skips_users_without_truth() -> None:
    # scores rank items 0 > 1 > 2 > 3 > 4 for everyone
    scores = torch.tensor([[5.0, 4, 3, 2, 1]]).repeat(3, 1)
    train = _inter([[0], [1], [0, 1]], 5)
    test = _inter([[1], [], [3]], 5)
    out = evaluate(lambda u: scores[u].clone(), test, [train], ks=(1, 2), batch_size=2)
    # user 0: item 0 masked, top-1 = item 1 -> hit. user 2: items 0,1 masked, top-2 = [2, 3] -> hit at rank 2.
    # user 1 has no test item and is not counted.
    assert out["recall@1"] == pytest.approx((1 + 0) / 2)
    assert out["recall@2"] == pytest.approx((1 + 1) / 2)
    assert out["mrr@2"] == pytest.approx((1 + 0.5) / 2)
    assert out["precision@2"] == pytest.approx((0.5 + 0.5) / 2)


def test_evaluate_batches_agree_with_one_batch() -> None:
    rng = np.random.default_rng(0)
    scores = torch.from_numpy(rng.normal(size=(50, 30)).astype(np.float32))
    train = _inter([list(rng.choice(30, 5, replace=False)) for _ in range(50)], 30)
    test = _inter([list(set(rng.choice(30, 3)) - set(train.items_of(u))) for u in range(50)], 30)
    a = evaluate(lambda u: scores[u].clone(), test, [train], ks=(5, 10), batch_size=7)
    b = evaluate(lambda u: scores[u].clone(), test, [train], ks=(5, 10), batch_size=1000)
    assert a == pytest.approx(b)


def _reference_metrics(
    scores: np.ndarray, train: list[set[int]], test: list[set[int]], k: int
) -> dict[str, float]:
    """Plain-Python loops over users: an independent route to every metric."""
    totals = dict.fromkeys(("recall", "precision", "ndcg", "hit", "mrr"), 0.0)
    n_users = 0
    for u, truth in enumerate(test):
        if not truth:
            continue
        n_users += 1
        ranked = [
            i for i in sorted(range(scores.shape[1]), key=lambda i: -scores[u, i]) if i not in train[u]
        ][:k]
        hits = [1.0 if i in truth else 0.0 for i in ranked]
        dcg = sum(h / math.log2(r + 2) for r, h in enumerate(hits))
        idcg = sum(1 / math.log2(r + 2) for r in range(min(k, len(truth))))
        totals["recall"] += sum(hits) / len(truth)
        totals["precision"] += sum(hits) / k
        totals["ndcg"] += dcg / idcg
        totals["hit"] += float(any(hits))
        totals["mrr"] += next((1 / (r + 1) for r, h in enumerate(hits) if h), 0.0)
    return {f"{name}@{k}": value / n_users for name, value in totals.items()}


def test_evaluate_matches_brute_force_reference() -> None:
    rng = np.random.default_rng(7)
    n_users, n_items = 60, 45
    scores = rng.normal(size=(n_users, n_items)).astype(np.float32)
    train = [set(rng.choice(n_items, rng.integers(1, 15), replace=False).tolist()) for _ in range(n_users)]
    test = [
        set(rng.choice(n_items, rng.integers(0, 6), replace=False).tolist()) - train[u]
        for u in range(n_users)
    ]
    tr = _inter([sorted(s) for s in train], n_items)
    te = _inter([sorted(s) for s in test], n_items)
    got = evaluate(lambda u: torch.from_numpy(scores)[u].clone(), te, [tr], ks=(5, 20), batch_size=16)
    for k in (5, 20):
        assert {m: got[m] for m in _reference_metrics(scores, train, test, k)} == pytest.approx(
            _reference_metrics(scores, train, test, k), rel=1e-5
        )


def test_embedding_scorer_through_evaluate_matches_brute_force_reference() -> None:
    # the scorer reuses one output buffer; batches of 16, then a last short one, must still be exact
    rng = np.random.default_rng(3)
    n_users, n_items = 50, 40
    user_emb = torch.from_numpy(rng.normal(size=(n_users, 8)).astype(np.float32))
    item_emb = torch.from_numpy(rng.normal(size=(n_items, 8)).astype(np.float32))
    scores = (user_emb.double() @ item_emb.double().T).numpy()
    train = [set(rng.choice(n_items, rng.integers(1, 10), replace=False).tolist()) for _ in range(n_users)]
    test = [set(rng.choice(n_items, 4, replace=False).tolist()) - train[u] for u in range(n_users)]
    tr = _inter([sorted(s) for s in train], n_items)
    te = _inter([sorted(s) for s in test], n_items)
    got = evaluate(embedding_scorer(user_emb, item_emb), te, [tr], ks=(10,), batch_size=16)
    assert got == pytest.approx(_reference_metrics(scores, train, test, 10), rel=1e-5)


def test_embedding_scorer_grows_its_buffer() -> None:
    user_emb, item_emb = torch.randn(9, 4), torch.randn(6, 4)
    score = embedding_scorer(user_emb, item_emb)
    small = score(torch.tensor([2])).clone()
    big = score(torch.arange(9))
    assert torch.allclose(small, user_emb[[2]] @ item_emb.T)
    assert torch.allclose(big, user_emb @ item_emb.T)


def test_hits_of_against_a_dense_mask() -> None:
    rng = np.random.default_rng(11)
    n_users, n_items = 30, 25
    truth = _inter(
        [sorted(rng.choice(n_items, rng.integers(0, 6), replace=False).tolist()) for _ in range(n_users)],
        n_items,
    )
    rows = np.array([3, 0, 17, 29, 8])
    top = torch.from_numpy(rng.integers(0, n_items, size=(len(rows), 7)))
    dense = truth.user_items[rows].toarray().astype(bool)
    expected = torch.from_numpy(np.take_along_axis(dense, top.numpy(), axis=1))
    assert torch.equal(hits_of(top, truth.user_items, rows), expected)
    empty = _inter([[] for _ in range(n_users)], n_items)
    assert not hits_of(top, empty.user_items, rows).any()


def test_group_means_split_users_by_activity() -> None:
    from llmrec.evaluate import group_means

    users = np.array([0, 1, 2, 3, 4])
    activity = np.array([9, 1, 5, 1, 3, 100])  # user 5 has no held-out item: not among `users`
    values = {"recall@20": np.array([0.9, 0.1, 0.5, 0.3, 0.4])}
    groups = group_means(users, values, activity, 2)
    # by activity (ties by index): users 1, 3, 4 | 2, 0 -> sizes 3 and 2 (array_split puts the extra first)
    assert [g["users"] for g in groups] == [3, 2]
    assert groups[0]["recall@20"] == pytest.approx((0.1 + 0.3 + 0.4) / 3)
    assert groups[1]["recall@20"] == pytest.approx((0.5 + 0.9) / 2)
    assert (groups[0]["min_interactions"], groups[0]["max_interactions"]) == (1, 3)
    assert (groups[1]["min_interactions"], groups[1]["max_interactions"]) == (5, 9)
    assert len(group_means(users, values, activity, 10)) == 5  # never more groups than users


def test_seed_mean_and_sample_std_by_hand() -> None:
    from llmrec.evaluate import mean_metrics, std_metrics

    seeds = [{"recall@20": 0.1828, "ndcg@20": 0.15}, {"recall@20": 0.1804, "ndcg@20": 0.15}]
    seeds.append({"recall@20": 0.1802, "ndcg@20": 0.15})
    assert mean_metrics(seeds) == pytest.approx({"recall@20": 0.1811333, "ndcg@20": 0.15}, abs=1e-7)
    # sample std (n - 1): deviations 0.0016667, -0.0007333, -0.0009333; squares 2.7778e-6, 0.5378e-6,
    # 0.8711e-6 sum to 4.1867e-6; / 2 = 2.0933e-6; its root is 0.0014468
    assert std_metrics(seeds)["recall@20"] == pytest.approx(0.0014468, abs=1e-7)
    assert std_metrics(seeds)["ndcg@20"] == pytest.approx(0.0, abs=1e-12)
    assert std_metrics(seeds[:1]) == {"recall@20": 0.0, "ndcg@20": 0.0}  # one seed: no spread, not NaN
