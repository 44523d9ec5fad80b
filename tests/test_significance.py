"""Paired tests over seeds, pinned against values worked out by hand from the t and Wilcoxon tables."""

import pytest

from llmrec.significance import paired_p_value, paired_p_values, stars


def test_paired_ttest_matches_the_hand_computed_value() -> None:
    # differences 1, 2, 3: mean 2, sd 1, t = 2 / (1 / sqrt 3) = 3.4641 on 2 df;
    # two-sided p = 1 - (t / sqrt(t^2 + 2)) = 1 - 3.4641 / 3.7417 = 0.07418 (closed form for 2 df)
    assert paired_p_value([11.0, 12.0, 13.0], [10.0, 10.0, 10.0]) == pytest.approx(0.074180, abs=1e-5)
    # the sign of the difference does not change a two-sided p
    assert paired_p_value([10.0, 10.0, 10.0], [11.0, 12.0, 13.0]) == pytest.approx(0.074180, abs=1e-5)


def test_wilcoxon_exact_minimum_for_five_pairs() -> None:
    # all five differences positive: the exact two-sided p is 2 / 2^5 = 0.0625, the floor for 5 seeds
    a, b = [0.31, 0.32, 0.33, 0.34, 0.36], [0.30, 0.30, 0.30, 0.30, 0.30]
    assert paired_p_value(a, b, "wilcoxon") == pytest.approx(0.0625)


def test_degenerate_samples() -> None:
    assert paired_p_value([0.3], [0.2]) is None  # one pair: no test
    assert paired_p_value([0.3, 0.4], [0.3, 0.4]) == 1.0  # identical: no evidence
    assert paired_p_value([0.4, 0.5], [0.3, 0.4]) == 0.0  # constant non-zero shift: zero variance
    with pytest.raises(ValueError, match="differ in length"):
        paired_p_value([0.3, 0.4], [0.3])
    with pytest.raises(ValueError, match="unknown significance test"):
        paired_p_value([0.3, 0.4], [0.3, 0.5], "z")


def test_per_metric_map_and_stars() -> None:
    runs = [{"recall@20": 11.0, "ndcg@20": 1.0}, {"recall@20": 12.0, "ndcg@20": 1.0},
            {"recall@20": 13.0, "ndcg@20": 1.0}]  # fmt: skip
    base = [{"recall@20": 10.0, "ndcg@20": 1.0}] * 3
    p = paired_p_values(runs, base)
    assert p["recall@20"] == pytest.approx(0.074180, abs=1e-5) and p["ndcg@20"] == 1.0
    assert [stars(x) for x in (None, 0.2, 0.049, 0.009, 0.0009)] == ["", "", "*", "**", "***"]
