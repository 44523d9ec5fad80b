"""The teacher probe's statistics: hit rate and rank AUC per user, bootstrap intervals, a paired test
against popularity, position bias and the verdict. Pure functions of score matrices.

A probe user has n candidates, some of them hidden training positives (`hidden`, a boolean matrix).
A teacher gives each candidate a score (NaN: no answer for it). Its pick is the highest score; a hit is
a pick that is hidden. Rank AUC is the chance that a hidden candidate outscores a shown one (ties count
half), 0.5 for a teacher that knows nothing. Users the teacher did not answer at all are left out of
its numbers and counted.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

ALPHA = 0.05


def user_metrics(scores: np.ndarray, hidden: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(hit, auc, answered) per user; hit and auc are NaN where the user was not answered."""
    answered = ~np.isnan(scores).all(axis=1)
    filled = np.where(np.isnan(scores), -np.inf, scores)
    pick = np.argmax(filled, axis=1)
    hit = hidden[np.arange(len(scores)), pick].astype(np.float64)
    auc = np.array([_auc(filled[u], hidden[u]) for u in range(len(scores))])
    hit[~answered], auc[~answered] = np.nan, np.nan
    return hit, auc, answered


def _auc(score: np.ndarray, positive: np.ndarray) -> float:
    """Share of (positive, negative) pairs ordered right, ties half; NaN without both kinds."""
    pos, neg = score[positive], score[~positive]
    if not len(pos) or not len(neg):
        return float("nan")
    greater = (pos[:, None] > neg[None, :]).sum()
    ties = (pos[:, None] == neg[None, :]).sum()
    return float((greater + 0.5 * ties) / (len(pos) * len(neg)))


def bootstrap_interval(values: np.ndarray, n: int, seed: int) -> tuple[float, float]:
    """95% percentile interval of the mean of `values` (NaN dropped) over `n` resamples of users."""
    values = values[~np.isnan(values)]
    if len(values) == 0:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    means = values[rng.integers(0, len(values), size=(n, len(values)))].mean(axis=1)
    low, high = np.quantile(means, [ALPHA / 2, 1 - ALPHA / 2])
    return round(float(low), 4), round(float(high), 4)


def summarise(scores: np.ndarray, hidden: np.ndarray, n_boot: int, seed: int) -> dict[str, Any]:
    """A teacher's hit rate and AUC with 95% intervals, and how many users it answered."""
    hit, auc, answered = user_metrics(scores, hidden)
    out: dict[str, Any] = {"users_answered": int(answered.sum()), "users_unanswered": int((~answered).sum())}
    for name, values in (("hit_rate", hit), ("auc", auc)):
        mean = float(np.nanmean(values)) if answered.any() else float("nan")
        out[name] = round(mean, 4)
        out[f"{name}_ci"] = bootstrap_interval(values, n_boot, seed)
    return out


def paired_test(teacher: np.ndarray, reference: np.ndarray, metric: str = "auc") -> dict[str, Any]:
    """Is the teacher's per-user `metric` (hit or AUC) above the reference's? One-sided Wilcoxon
    signed-rank on the users both answered; the mean difference and its p-value."""
    both = ~np.isnan(teacher) & ~np.isnan(reference)
    diff = teacher[both] - reference[both]
    if len(diff) == 0 or not np.any(diff != 0):
        return {"metric": metric, "users": int(both.sum()), "mean_difference": 0.0, "p_value": 1.0}
    mean = round(float(diff.mean()), 4)
    diff = diff[diff != 0]
    # exact for few distinct differences; the normal approximation otherwise (scipy's fallback for
    # ties is a permutation test that takes seconds)
    exact = len(diff) <= 25 and len(np.unique(np.abs(diff))) == len(diff)
    from scipy import stats  # lazy: scipy.stats costs 0.7 s of every start-up

    p = float(stats.wilcoxon(diff, alternative="greater", method="exact" if exact else "approx").pvalue)
    return {"metric": metric, "users": int(both.sum()), "mean_difference": mean, "p_value": p}


def position_counts(picks: np.ndarray, n: int) -> dict[str, Any]:
    """How often each list position (1-based) was picked, and a chi-square test against uniform."""
    picks = picks[picks >= 0]
    counts = np.bincount(picks, minlength=n)[:n]
    from scipy import stats  # lazy: scipy.stats costs 0.7 s of every start-up

    p = float(stats.chisquare(counts).pvalue) if counts.sum() >= n else float("nan")
    top = int(np.argmax(counts)) + 1 if counts.sum() else 0
    share = round(float(counts.max() / counts.sum()), 4) if counts.sum() else 0.0
    return {"by_position": counts.tolist(), "most_picked": top, "most_picked_share": share, "uniform_p": p}


def verdict(teacher: Mapping[str, Any], random_level: float) -> str:
    """One line: better than popularity, only better than random, or not even that.

    The metric is the one of `teacher["vs_popularity"]`: hit rate for a teacher that only picks
    (listwise, simulated), AUC for one that scores every candidate (pointwise); `random_level` is a
    random pick's value of it.
    """
    vs = teacher.get("vs_popularity") or {}
    metric = vs.get("metric", "auc")
    low = teacher[f"{metric}_ci"][0]
    if teacher["users_answered"] == 0:
        return "no answers: nothing to judge"
    if not low > random_level:
        return "no better than random: augmentation will add noise"
    if vs.get("p_value", 1.0) < ALPHA and vs.get("mean_difference", 0.0) > 0:
        return "adds signal beyond popularity"
    return "no better than popularity: augmentation will add noise"


def format_probe(report: Mapping[str, Any]) -> str:
    """The probe's report as plain text: one line per teacher, then parse failures and position bias."""
    sample = report["sample"]
    lines = [
        f"teacher probe: {sample['probed']} users (asked for {sample['asked_for']}), "
        f"{report['n_candidates']} candidates each, {report.get('hidden_per_user', 0)} hidden training "
        "positives per user on average (a random pick hits "
        f"{report.get('random_hit_rate_expected', 0):.1%})",
        f"{'teacher':<22} {'hit rate':>8} {'95% CI':>15} {'AUC':>7} {'95% CI':>15} "
        f"{'vs popularity':>20}  label",
    ]
    for name, t in report["teachers"].items():
        vs = t.get("vs_popularity")
        name_of = {"auc": "AUC", "hit_rate": "hit"}
        against = f"{name_of[vs['metric']]} {vs['mean_difference']:+.3f} p={vs['p_value']:.2g}" if vs else ""
        lines.append(
            f"{name:<22} {t['hit_rate']:>8.1%} {_ci(t['hit_rate_ci']):>15} {t['auc']:>7.3f} "
            f"{_ci(t['auc_ci'], '.3f'):>15} {against:>20}  {t['label']}"
        )
    for name, t in report["teachers"].items():
        if "verdict" in t:
            lines.append(f"verdict, {name}: {t['verdict']}")
        if t.get("parse"):
            lines.append(f"  {name} answers: {t['parse']}")
        if t.get("position_bias"):
            b = t["position_bias"]
            lines.append(
                f"  {name} position bias: liked picks by list position {b['by_position']}; position "
                f"{b['most_picked']} takes {b['most_picked_share']:.0%} (uniform test p={b['uniform_p']:.2g})"
            )
        if t.get("projected_full_run"):
            p = t["projected_full_run"]
            lines.append(
                f"  {name} full run: {p['prompts']:,} prompts, ~{p['prompt_tokens_estimated']:,} prompt "
                f"tokens, ~${p['cost_usd_estimated']:.2f}"
            )
    acc = report.get("attribute_accuracy")
    if acc and acc.get("asked"):
        lines.append(
            f"attributes: director right for {acc['right']} of {acc['asked']} items ({acc['accuracy']:.0%}; "
            f"unknown or unparsed {acc['unknown_or_unparsed']}; first answers rejected "
            f"{acc['rejected_first_answers'] or 'none'})"
        )
    skipped = {k: v for k, v in sample.items() if k not in ("asked_for", "probed") and v}
    if skipped:
        lines.append(f"users not probed: {skipped}")
    lines += [f"note: {m}" for m in report.get("messages", [])]
    return "\n".join(lines)


def _ci(ci: Any, fmt: str = ".1%") -> str:
    """An interval as '[low, high]'."""
    low, high = ci
    return "[n/a]" if np.isnan(low) else f"[{low:{fmt}}, {high:{fmt}}]"


PROBE_JSON = "teacher_probe.json"


def failed_probe(report: Mapping[str, Any], label: str, mode: str) -> str | None:
    """The verdict of `mode` in a saved probe report when it probed the teacher `label` and found it
    no better than popularity or random; None when it passed, or probed another teacher or mode."""
    row = (report.get("teachers") or {}).get(mode) or {}
    found = row.get("verdict")
    if row.get("label") != label or found is None or found == "adds signal beyond popularity":
        return None
    return str(found)
