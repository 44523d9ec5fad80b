"""The quality audit: do augmented positives land on items the user really chose later? Plus coverage,
parse failures and a sample of prompts with their answers.

The validation split is the yardstick: it is never shown to the teacher, and test stays untouched.
An augmented positive is compared with two baselines for the same users: the base model's top
candidate (what the teacher could have copied) and a random candidate (what a coin would pick).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import scipy.sparse as sp

from llmrec.augment.candidates import NO_ITEM


def sample_positions(n: int, k: int, seed: int) -> list[int]:
    """`k` of the positions 0..n-1 (all when n <= k), fixed by `seed`, in order: the audit's sample."""
    return sorted(np.random.default_rng(seed).choice(n, size=min(n, k), replace=False).tolist())


def hit_share(users: np.ndarray, items: np.ndarray, valid: sp.csr_matrix) -> float | None:
    """Share of (user, item) pairs whose item is among the user's validation items; None for no pairs."""
    if len(users) == 0:
        return None
    return float((np.asarray(valid[users, items]).ravel() > 0).mean())


def random_candidates(candidates: np.ndarray, users: np.ndarray, seed: int) -> np.ndarray:
    """One candidate per user drawn uniformly from the user's real candidates."""
    rng = np.random.default_rng(seed)
    counts = (candidates[users] != NO_ITEM).sum(axis=1)
    picks = (rng.random(len(users)) * counts).astype(np.int64)  # real candidates come first in a row
    return candidates[users, picks]


def edge_quality(
    users: np.ndarray,
    pos: np.ndarray,
    neg: np.ndarray,
    candidates: np.ndarray,
    valid: sp.csr_matrix,
    seed: int,
) -> dict[str, Any]:
    """Validation-hit shares of augmented positives and negatives, the base top-1 and a random candidate.

    Only users with at least one validation item count (the others cannot hit anything).
    """
    has_valid = np.diff(valid.indptr)[users] > 0
    u, p, n = users[has_valid], pos[has_valid], neg[has_valid]
    return {
        "users": len(u),
        "augmented_positive": hit_share(u, p, valid),
        "base_top1": hit_share(u, candidates[u, 0], valid),
        "random_candidate": hit_share(u, random_candidates(candidates, u, seed), valid),
        "augmented_negative": hit_share(u, n, valid),
    }


def attribute_coverage(sources: Mapping[str, list[str]], values: Mapping[str, list[str | None]]) -> dict:
    """Per attribute: shares of items valued by the dataset, by the teacher, or missing; distinct values."""
    coverage = {}
    for name, where in sources.items():
        n = max(len(where), 1)
        coverage[name] = {
            "dataset": round(where.count("dataset") / n, 4),
            "teacher": round(where.count("teacher") / n, 4),
            "missing": round(where.count("") / n, 4),
            "distinct_values": len({v for v in values[name] if v}),
        }
    return coverage


def format_audit(audit: Mapping[str, Any]) -> str:
    """The audit as a plain-text report."""
    teacher = audit["teacher"]
    who = teacher.get("note") if teacher["kind"] != "llm" else f"{teacher['backend']} / {teacher['model']}"
    base = audit["base"]
    lines = [
        f"augmentation audit: teacher {teacher['kind']} ({who})",
        f"base model {base['model']} (seed {base['seed']}) of {base['run_dir']}, "
        f"{audit['n_candidates']} candidates per user; {base['selected_by']}",
        f"catalogue: {audit['users']:,} users, {audit['items']:,} items, "
        f"{audit['untitled_items']:,} items without a title (named by id)",
    ]
    edges = audit.get("edges")
    if edges:
        lines += [
            "",
            f"edges: {edges['usable']:,} (user, pos, neg) triples from {edges['users']:,} users "
            f"({edges['no_history']} without history, {edges['too_few_candidates']} with < 2 candidates, "
            f"{edges['short_candidates']} with a short list)",
        ]
        q = edges["quality"]
        lines.append(f"  share in the user's validation items ({q['users']:,} users with one):")
        for key, label in (
            ("augmented_positive", "augmented positive"),
            ("base_top1", "base model's top-1"),
            ("random_candidate", "random candidate"),
            ("augmented_negative", "augmented negative"),
        ):
            lines.append(f"    {label:<20} {_share(q[key])}")
        lines += _parse_lines(edges)
    attributes = audit.get("attributes")
    if attributes:
        lines += ["", "attributes: share of items (dataset / teacher / missing), distinct values"]
        for name, c in attributes["coverage"].items():
            lines.append(
                f"  {name:<12} {c['dataset']:>7.1%} {c['teacher']:>7.1%} {c['missing']:>7.1%}"
                f"   {c['distinct_values']:,}"
            )
        lines += _parse_lines(attributes)
    profiles = audit.get("profiles")
    if profiles:
        lines += ["", f"profiles: {profiles['usable']:,} of {profiles['users']:,} users"]
        lines += _parse_lines(profiles)
    encoding = audit.get("encoding")
    if encoding:
        lines += [
            "",
            f"encoding: {encoding['model']}, {encoding['texts']:,} texts, {encoding['unique']:,} distinct: "
            f"{encoding['encoded']:,} encoded, {encoding['cached']:,} from the cache "
            f"({encoding['seconds']:.1f} s)",
        ]
    for stage, samples in audit.get("samples", {}).items():
        for s in samples:
            who = f"user {s['user_id']}" if "user_id" in s else f"item {s.get('item_id')}"
            said = f"answer {_clip(s['answer'])!r}" if "answer" in s else s.get("note", "")
            lines.append(f"  sample {stage}, {who}: {said} -> {_clip(s.get('parsed'))}")
    lines.append(f"(prompts of the samples in audit.json; {audit['seconds']:.1f} s in all)")
    return "\n".join(lines)


def _parse_lines(report: Mapping[str, Any]) -> list[str]:
    """The LLM-answer counters of one augmentation, when it asked an LLM or imported LLMRec's answers."""
    if "imported_entries" in report:
        invalid = ", ".join(f"{k} {v}" for k, v in report["invalid_imported"].items()) or "none"
        return [f"  imported {report['imported_entries']:,} entries from LLMRec's files; unusable: {invalid}"]
    if not report.get("prompts"):
        return []
    if report.get("mode") == "pointwise":
        return [
            f"  pointwise: {report['questions']:,} yes/no questions, {report.get('over_budget', 0)} over the "
            f"budget (not sent), {report['failed']} failed requests; scored by logprobs "
            f"{report['scored_by_logprobs']:,}, by the answer text {report['scored_by_text']:,}, "
            f"unparsable {report['unparsable']}, other language {report['language']}"
            + ("; THE SERVER RETURNED NO LOGPROBS" if report.get("no_logprobs") else ""),
            f"  users with fewer than two scored candidates (dropped): {report['too_few_scored']}",
        ]
    rejected = report["rejected_first_answers"]
    kinds = ", ".join(f"{k} {v}" for k, v in rejected.items()) or "none"
    return [
        f"  {report['prompts']:,} prompts, {report.get('over_budget', 0)} over the budget (not sent), "
        f"{report['failed_requests']} failed requests",
        f"  first answers rejected: {sum(rejected.values())} ({kinds}); parse-failure rate "
        f"{report['parse_failure_rate']:.2%}; repaired {report['repaired']}, "
        f"dropped {report['invalid_after_repair']}",
    ]


def _share(value: float | None) -> str:
    """A share as a percentage, or n/a."""
    return "n/a" if value is None else f"{value:.1%}"


def _clip(value: Any, n: int = 100) -> str:
    """A short one-line rendering of a value."""
    text = " ".join(str(value).split())
    return text if len(text) <= n else text[: n - 3] + "..."
