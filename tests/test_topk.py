"""The bf16-screened exact top-K (llmrec.topk) against brute-force fp64 ranking."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from llmrec.data.interactions import Interactions
from llmrec.evaluate import embedding_scorer, evaluate
from llmrec.topk import BLOCK, NEG_INF_KEY, ScreenedTopK, _key, _mth_largest, _value, error_bounds


def _bf16_bits(values: list[float]) -> np.ndarray:
    return torch.tensor(values, dtype=torch.float32).bfloat16().view(torch.int16).numpy()


def test_keys_order_bf16_values_like_floats_and_invert() -> None:
    values = [-float("inf"), -3.0e38, -2.5, -1.0, -1e-30, -0.0, 0.0, 1e-30, 0.75, 1.0, 2.5, 3.0e38]
    bits = _bf16_bits(values)
    keys = [int(_key(b)) for b in bits]
    assert keys == sorted(keys) and len(set(keys)) == len(keys)  # strictly increasing, as the values
    assert keys[0] == NEG_INF_KEY
    rounded = torch.tensor(values).bfloat16().float().tolist()
    assert [float(_value(np.int32(k))) for k in keys] == rounded


def test_radix_select_finds_the_mth_largest() -> None:
    rng = np.random.default_rng(3)
    hist = np.empty(256, np.int64)
    for n in (1, 7, 300):
        keys = rng.integers(-32768, 32768, size=n).astype(np.int32)
        keys[: n // 3] = keys[0]  # ties
        for m in {1, max(1, n // 2), n}:
            assert _mth_largest(keys, m, hist) == np.sort(keys)[::-1][m - 1]


def test_error_bound_holds_for_the_bf16_product() -> None:
    """S <= S~ + 2^-8 |S~| + err_u and S >= S~ - 2^-8 |S~| - err_u, S in fp64, over varied scales."""
    g = torch.Generator().manual_seed(0)
    user = torch.randn(300, 64, generator=g) * torch.logspace(-3, 3, 300)[:, None]
    item = torch.randn(2000, 64, generator=g) * torch.rand(2000, 1, generator=g) * 10
    user[:, :8] += 5.0  # correlated components: large scores
    item[:, :8] += 5.0
    ub, ib = user.bfloat16(), item.bfloat16()
    approx = torch.mm(ub, ib.T.contiguous()).double()
    exact = user.double() @ item.double().T
    err = torch.from_numpy(error_bounds(user, item, ub, ib)).double()[:, None]
    slack = exact - approx
    assert (slack.abs() <= 2.0**-8 * approx.abs() + err).all()
    worst_case = 3 * 2.0**-8 * user.norm(dim=1) * item.norm(dim=1).max()
    assert (err[:, 0] < worst_case.double()).all()  # measured residuals beat the worst case


def _brute_top(user: torch.Tensor, item: torch.Tensor, seen: sp.csr_matrix, k: int) -> list[list[int]]:
    """Best k unseen items per user by fp64 score, ties to the lower index."""
    scores = (user.double() @ item.double().T).numpy()
    out = []
    for u in range(scores.shape[0]):
        row = scores[u].copy()
        row[seen[u].indices] = -np.inf
        order = np.lexsort((np.arange(len(row)), -row))
        out.append(order[:k].tolist())
    return out


@pytest.mark.parametrize("sign", ["mixed", "negative"])
def test_screened_top_k_is_the_exact_ranking(sign: str) -> None:
    g = torch.Generator().manual_seed(1)
    n_users, n_items, k = 120, 9 * BLOCK * 40 + 17, 30  # a ragged last block
    user = torch.randn(n_users, 32, generator=g)
    item = torch.randn(n_items, 32, generator=g) * torch.rand(n_items, 1, generator=g)
    if sign == "negative":  # every score below zero: the threshold's negative branch
        user[:, -1], item[:, -1] = 1.0, -40.0
    seen = sp.random(n_users, n_items, density=0.02, format="csr", random_state=2)
    top, ok = ScreenedTopK(user, item).top_k(np.arange(n_users), seen, k)
    assert ok.mean() > 0.9  # the screen proves most users; the rest are ranked in full by the caller
    expected = _brute_top(user, item, seen, k)
    for u in np.flatnonzero(ok):
        assert top[u].tolist() == expected[u]


def test_each_row_is_proven_with_its_own_users_bound() -> None:
    """Rows are users in any order: user 1's infinite bound must refuse its row, wherever it sits."""
    g = torch.Generator().manual_seed(6)
    screen = ScreenedTopK(torch.randn(3, 16, generator=g), torch.randn(20 * BLOCK, 16, generator=g))
    screen.err = np.array([0.0, np.inf, 0.0], dtype=np.float32)
    _, ok = screen.top_k(np.array([1, 0, 2]), None, 5)
    assert ok.tolist() == [False, True, True]


def test_ties_go_to_the_lower_index_and_short_users_fall_back() -> None:
    """Exact ties rank by item index, as the brute force does; a user with fewer than k unseen items
    is not claimed exact (the caller ranks it in full)."""
    g = torch.Generator().manual_seed(4)
    n_items, k = 40 * BLOCK, 10
    user = torch.randn(3, 8, generator=g)
    item = torch.randn(n_items, 8, generator=g)
    item[7] = item[100:140] = 6.0 * user[1] / user[1].norm()  # 41 tied items, far ahead for user 1
    seen = sp.lil_matrix((3, n_items))
    seen[0, : n_items - 5] = 1  # user 0 has 5 unseen items
    seen[2, 7] = 1
    seen = seen.tocsr()
    top, ok = ScreenedTopK(user, item).top_k(np.arange(3), seen, k)
    assert ok.tolist() == [False, True, True]
    assert top[1].tolist() == [7, *range(100, 109)] == _brute_top(user, item, seen, k)[1]
    assert top[2].tolist() == _brute_top(user, item, seen, k)[2]


def test_evaluate_gives_the_same_metrics_with_and_without_the_screen() -> None:
    g = torch.Generator().manual_seed(5)
    rng = np.random.default_rng(5)
    n_users, n_items = 300, 6000
    user_emb = torch.randn(n_users, 16, generator=g)
    item_emb = torch.randn(n_items, 16, generator=g)
    # held-out items among each user's top scorers, so the metrics are far from zero
    best = torch.topk(user_emb @ item_emb.T, 200, dim=1).indices.numpy()
    pairs = [(u, i) for u in range(n_users) for i in rng.choice(best[u], 12, replace=False)]
    users, items = np.array(pairs).T
    uid, iid = np.arange(n_users), np.arange(n_items)
    train = Interactions.from_pairs(users[::2], items[::2], uid, iid)
    test = Interactions.from_pairs(users[1::2], items[1::2], uid, iid)
    exact = evaluate(embedding_scorer(user_emb, item_emb, screen=False), test, [train], (5, 20, 50), 64)
    screened = evaluate(embedding_scorer(user_emb, item_emb, screen=True), test, [train], (5, 20, 50), 64)
    assert exact["recall@20"] > 0.05
    assert screened == pytest.approx(exact, abs=1e-12)
