"""The reliability gate: Eq. 8 and Algorithm 1's decisions by hand; the scorer on a synthetic catalogue."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from llmrec.er2alm.corrupt import corrupt, nonsense
from llmrec.er2alm.reliability import ROUTES, ReliabilityConfig, concrete, decide, run_gate
from llmrec.errors import ConfigError


def test_concrete_is_sigmoid_of_w_over_tau_at_half() -> None:
    w = torch.tensor([0.4, -0.8])
    assert concrete(w, 0.4, 1e-4, None).tolist() == pytest.approx(
        [1 / (1 + math.exp(-1)), 1 / (1 + math.exp(2))]
    )
    # eps drawn in (bias, 1 - bias): with bias near 1/2 the draw cannot move J
    drawn = concrete(w, 0.4, 0.4999, torch.Generator().manual_seed(0))
    assert drawn.tolist() == pytest.approx(concrete(w, 0.4, 0.0, None).tolist(), abs=1e-3)
    with pytest.raises(ConfigError):
        ReliabilityConfig(theta=0.95, sure=0.9)


def test_algorithm_1_fills_the_sets_then_asks_delta() -> None:
    vectors = np.array([[1, 0], [0, 1], [0.9, 0.1], [0.1, 0.9], [0, 1]], dtype=np.float32)[:, None, :]
    scores = np.array([[0.9], [0.1], [0.6], [0.6], [0.95]])
    present = np.ones((5, 1), dtype=bool)
    cfg = ReliabilityConfig(theta=0.5, sure=0.92, n_sets=1)
    got = decide(cfg, scores, vectors, present)
    # item 0 fills retain, item 1 abandon; 2 is closer to retain (kept), 3 to abandon (dropped);
    # 4 is sure (J >= 0.92) and kept although it equals the abandoned vector
    assert got.kept[:, 0].tolist() == [True, False, True, False, True]
    assert [ROUTES[r] for r in got.routes[:, 0]] == ["fill", "fill", "cosine", "cosine", "sure"]
    assert got.report["dropped_by"] == {"fill": 1, "sure": 0, "cosine": 1, "theta": 0}
    assert got.report["kept"] == 3 and got.report["kept_share"] == 0.6
    theta_only = decide(ReliabilityConfig(theta=0.5, cosine=False), scores, vectors, present)
    assert theta_only.kept[:, 0].tolist() == [True, False, True, True, True]
    low = decide(cfg, np.array([[0.1]] * 5), vectors, present)
    assert low.report["items_with_none_kept"] == 5  # a gate that keeps nothing says so


def test_the_scorer_tells_an_items_own_aspect_from_another_items() -> None:
    rng = np.random.default_rng(0)
    n, d, kinds = 240, 16, 2
    basic = rng.normal(size=(n, d)).astype(np.float32)
    # each aspect kind is its own rotation of the item's basic vector, plus noise
    maps = [np.linalg.qr(rng.normal(size=(d, d)))[0] for _ in range(kinds)]
    aspect = np.stack([basic @ maps[k] + 0.3 * rng.normal(size=(n, d)) for k in range(kinds)], axis=1)
    wrong = rng.random((n, kinds)) < 0.2
    swapped = aspect[rng.permutation(n)]
    aspect = np.where(wrong[:, :, None], swapped, aspect).astype(np.float32)
    present = np.ones((n, kinds), dtype=bool)
    cfg = ReliabilityConfig(epochs=60, folds=4, n_sets=10_000, hidden=32, lr=0.02)
    got = run_gate(cfg, basic, np.zeros_like(basic), aspect, present)
    assert got.kept[wrong].mean() < 0.2  # swapped aspects removed (measured 0.12)
    assert got.kept[~wrong].mean() > 0.85  # genuine ones kept (measured 0.92)
    memorised = run_gate(ReliabilityConfig(epochs=200, folds=1, n_sets=10_000, hidden=32, lr=0.02),
                         basic, np.zeros_like(basic), aspect, present)  # fmt: skip
    assert memorised.kept[wrong].mean() > 0.5  # without cross-fitting the scorer learns the errors too


def test_corruption_replaces_the_asked_share_with_other_values() -> None:
    values = [["Drama", "Lean"], ["Comedy", "Wilder"], ["War", None], ["Drama", "Ford"], ["Noir", "Hawks"]]
    table, mask = corrupt(values, ("genre", "director"), "swap", 0.5, seed=1)
    assert mask.sum() == 4  # half of the 9 present cells, rounded
    for i, k in zip(*np.nonzero(mask), strict=True):
        assert table[i][k] != values[i][k] and table[i][k] in [row[k] for row in values]
    assert table[2][1] is None  # a missing aspect stays missing
    fake, mask = corrupt(values, ("genre", "director"), "nonsense", 1.0, seed=1)
    assert mask.sum() == 9 and all(
        fake[i][k] not in {r[k] for r in values} for i, k in zip(*np.nonzero(mask), strict=True)
    )
    assert nonsense("era", np.random.default_rng(5)) != ""
