"""Adaptive aggregation against values computed by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from llmrec.rerank import NO_ITEM, adaptive_alpha, aggregate, long_tail, merge_lists, utility


def test_utilities_by_hand() -> None:
    assert utility(np.arange(4), 4, "linear").tolist() == [1.0, 0.75, 0.5, 0.25]
    assert utility(np.arange(3), 4, "log") == pytest.approx([1.0, 1 / math.log2(3), 0.5])
    with pytest.raises(ValueError, match="unknown utility"):
        utility(np.arange(2), 2, "softmax")


def test_alpha_grows_into_the_long_tail() -> None:
    # l = log(1), log(10), log(100) = 0, 2.3026, 4.6052: depth (l_max - l) / (l_max - l_min) = 1, 0.5, 0
    n_train = np.array([0, 9, 99])
    assert long_tail(n_train) == pytest.approx([0.0, math.log(10), math.log(100)])
    # alpha1 = 0.8, alpha2 = 0.25: 0.8 * max(1, .25), 0.8 * max(.5, .25), 0.8 * max(0, .25)
    assert adaptive_alpha(n_train, 0.8, 0.25) == pytest.approx([0.8, 0.4, 0.2])
    # alpha2 above the depth lifts the floor: 0.5 * max(0.5, 0.6) = 0.3
    assert adaptive_alpha(n_train, 0.5, 0.6) == pytest.approx([0.5, 0.3, 0.3])


def test_the_other_reading_of_the_cut_off() -> None:
    # max(alpha1 * depth, alpha2): max(.8, .25), max(.4, .25), max(0, .25)
    assert adaptive_alpha(np.array([0, 9, 99]), 0.8, 0.25, "outside") == pytest.approx([0.8, 0.4, 0.25])
    with pytest.raises(ValueError, match="unknown cutoff"):
        adaptive_alpha(np.array([0, 9]), 0.8, 0.25, "below")


def test_linear_utility_merges_as_the_papers_minus_position() -> None:
    # the paper: U = -s * C with s the 1-based position and C = 1, for both models
    rng = np.random.default_rng(3)
    k, n = 10, 200
    candidates = np.tile(np.arange(100, 100 + k), (n, 1))
    order = np.array([rng.permutation(k) for _ in range(n)])
    alpha = rng.random(n)
    llm_s = np.argsort(order, axis=1) + 1.0  # 1-based LLM position of each conventional position
    paper = alpha[:, None] * -llm_s + (1 - alpha[:, None]) * -(np.arange(k) + 1.0)
    expected = np.take_along_axis(candidates, np.argsort(-np.round(paper, 12), axis=1, kind="stable"), axis=1)
    assert (aggregate(candidates, order, alpha, "linear") == expected).all()


def test_alpha_when_every_user_is_equally_active() -> None:
    assert adaptive_alpha(np.array([5, 5]), 0.8, 0.25) == pytest.approx([0.2, 0.2])


def test_merged_ranking_by_hand() -> None:
    candidates = np.array([[10, 11, 12, 13]] * 3 + [[20, 21, NO_ITEM, NO_ITEM]])
    # the reranker's order, as conventional positions: 3 first, then 2, 0, 1
    order = np.array([[3, 2, 0, 1]] * 3 + [[1, 0, -1, -1]])
    alpha = np.array([0.8, 0.4, 0.2, 0.8])
    merged = aggregate(candidates, order, alpha, "linear")
    # U_LLM by position: 0.5, 0.25, 0.75, 1;  U_Rec: 1, 0.75, 0.5, 0.25
    # alpha 0.8: 0.6, 0.35, 0.7, 0.85 -> positions 3, 2, 0, 1
    assert merged[0].tolist() == [13, 12, 10, 11]
    # alpha 0.4: 0.8, 0.55, 0.6, 0.55 -> 0, 2, then the tie 1 / 3 in conventional order
    assert merged[1].tolist() == [10, 12, 11, 13]
    # alpha 0.2: 0.9, 0.65, 0.55, 0.4 -> the conventional order
    assert merged[2].tolist() == [10, 11, 12, 13]
    # a short list: position 1 is the LLM's first: 0.8 * 1 + 0.2 * 0.75 = 0.95 over 0.8 * 0.75 + 0.2 = 0.8
    assert merged[3].tolist() == [21, 20, NO_ITEM, NO_ITEM]


def test_log_utility_ties_keep_the_conventional_order() -> None:
    # reversed order at alpha 0.5: position p and 3 - p get the same U (0.715, 0.565, 0.565, 0.715)
    merged = aggregate(np.array([[10, 11, 12, 13]]), np.array([[3, 2, 1, 0]]), np.array([0.5]), "log")
    assert merged.tolist() == [[10, 13, 11, 12]]


def test_items_outside_the_candidates_keep_the_conventional_order() -> None:
    base_top = np.array([[10, 11, 12, 13, 14, 15]])
    merged = np.array([[13, 12, 10, 11]])
    assert merge_lists(merged, base_top, 6).tolist() == [[13, 12, 10, 11, 14, 15]]
    assert merge_lists(merged, base_top, 3).tolist() == [[13, 12, 10]]
    with pytest.raises(ValueError, match="lists of 7 items"):
        merge_lists(merged, base_top, 7)
