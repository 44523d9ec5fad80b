"""Paired significance tests between two models trained on the same split with the same seeds.

Seed i of one model and seed i of the other share the split, the sampler's stream and the
initialisation seed, so their test metrics are paired; the test asks whether the mean per-seed
difference is zero. With five seeds a two-sided Wilcoxon test cannot go below p = 0.0625, which is why
the paired t-test is the default.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

TESTS = ("ttest", "wilcoxon")
LOWER_IS_BETTER = frozenset({"rmse", "mae"})  # rating errors; every ranking metric is higher-is-better


def higher_is_better(metric: str) -> bool:
    """Whether a larger value of `metric` is better (False for the rating task's RMSE and MAE)."""
    return metric.partition("@")[0] not in LOWER_IS_BETTER


def paired_p_value(a: Sequence[float], b: Sequence[float], test: str = "ttest") -> float | None:
    """Two-sided p-value of the paired `test` on a[i] - b[i]; None with fewer than two pairs.

    Identical samples give p = 1 (no evidence of a difference) rather than the NaN of a zero variance.
    """
    if test not in TESTS:
        raise ValueError(f"unknown significance test {test!r}; use one of {TESTS}")
    if len(a) != len(b):
        raise ValueError(f"paired samples differ in length: {len(a)} and {len(b)}")
    diff = np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)
    if len(diff) < 2:
        return None
    if not np.any(diff):
        return 1.0
    from scipy import stats  # lazy: importing scipy.stats costs 0.7 s of every command's start-up

    if test == "ttest":
        if np.ptp(diff) <= 1e-12 * np.abs(diff).max():  # a constant shift (up to rounding): no variance
            # t is infinite: a difference that never varies over seeds is not chance
            return 0.0
        p = float(stats.ttest_rel(a, b).pvalue)
    else:
        p = float(stats.wilcoxon(diff, zero_method="wilcox").pvalue)
    return None if math.isnan(p) else p


def paired_p_values(
    runs: Sequence[dict[str, float]], baseline: Sequence[dict[str, float]], test: str = "ttest"
) -> dict[str, float | None]:
    """Per metric both sides hold, the p-value of `runs` against `baseline` (per-seed metric maps in the
    same seed order; a reranker reports more cut-offs than a baseline, and only shared ones pair)."""
    if len(runs) != len(baseline):
        raise ValueError(f"cannot pair {len(runs)} seeds with {len(baseline)}")
    if not runs:
        return {}
    shared = [name for name in runs[0] if name in baseline[0]]
    pairs = {name: ([r[name] for r in runs], [r[name] for r in baseline]) for name in shared}
    return {name: paired_p_value(a, b, test) for name, (a, b) in pairs.items()}


def stars(p: float | None) -> str:
    """Significance marks: * p < 0.05, ** p < 0.01, *** p < 0.001; empty otherwise."""
    if p is None:
        return ""
    return "***" if p < 0.001 else "**" if p < 0.01 else "*" if p < 0.05 else ""


__all__ = ["TESTS", "paired_p_value", "paired_p_values", "stars"]
