"""The report's augmentation audit: what the teacher produced, its edges' quality against baselines,
attribute coverage, LLM cost and sample prompts. Reads the audit JSON only."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from llmrec import report_charts as charts
from llmrec.report_render import Block, Cell, Chart, Sample, Section, Table

QUALITY = (
    ("augmented_positive", "augmented positive"),
    ("base_top1", "base model's top-1"),
    ("random_candidate", "random candidate"),
    ("augmented_negative", "augmented negative"),
)
CATALOGUE = (("users", "users"), ("items", "items"), ("untitled_items", "items without a title"))
COUNTS = (
    ("users", "users"),
    ("items", "items"),
    ("usable", "usable"),
    ("no_history", "users without history"),
    ("too_few_candidates", "users with fewer than 2 candidates"),
    ("short_candidates", "users with a short candidate list"),
    ("prompts", "prompts"),
    ("over_budget", "prompts over the token budget (not sent)"),
    ("failed_requests", "failed requests"),
    ("repaired", "answers repaired"),
    ("invalid_after_repair", "answers dropped after repair"),
    ("imported_entries", "entries imported from LLMRec's files"),
    ("texts", "texts"),
    ("unique", "distinct texts"),
    ("encoded", "encoded"),
    ("cached", "from the cache"),
    ("seconds", "seconds"),
)
USAGE = (
    ("requests", "requests"),
    ("cache_hits", "cache hits"),
    ("answered", "answered"),
    ("failures", "failures"),
    ("retries", "retries"),
    ("prompt_tokens", "prompt tokens"),
    ("completion_tokens", "completion tokens"),
    ("invalid", "invalid answers"),
    ("repairs", "repairs"),
    ("cost_usd", "cost (USD)"),
)


def teacher_text(teacher: Any) -> str:
    """Who wrote the augmentations, in plain words."""
    if not isinstance(teacher, Mapping):
        return "no teacher (augmentation not run)"
    if teacher.get("kind") == "local":
        return "local teacher (no LLM)"
    if teacher.get("kind") == "popularity":
        return "popularity teacher (no LLM, a baseline)"
    if teacher.get("kind") == "simulated":
        return f"SIMULATED teacher of quality p={teacher.get('quality', '?')} (no LLM, a measurement)"
    if teacher.get("kind") == "llm":
        return f"LLM teacher {teacher.get('backend', '?')} / {teacher.get('model', '?')}"
    return f"teacher: {teacher.get('kind', '?')}"


def augmentation_section(audit: Any) -> Section | None:
    """What the teacher produced: counts, edge quality against baselines, coverage, LLM cost, samples."""
    if not audit:
        return None
    base = audit.get("base") or {}
    teacher = audit.get("teacher") or {}
    note = str(teacher.get("note") or "")
    intro = f"Teacher: {teacher_text(teacher)}." + (f" {note[:1].upper()}{note[1:]}." if note else "")
    if base:
        intro += (
            f" Candidates from base model {base.get('model', '?')} (seed {base.get('seed', '?')}, "
            f"{base.get('selected_by', '')}), {audit.get('n_candidates', '?')} per user."
        )
    blocks: list[Block] = [intro, Table(["Part", "What", "Count"], _count_rows(audit))]
    quality = (audit.get("edges") or {}).get("quality") or {}
    shares = [(label, quality[key]) for key, label in QUALITY if quality.get(key) is not None]
    if shares:
        title = "Edge quality: picks the user went on to choose"
        group = [[f"{count(quality.get('users'))} users with a validation item"]]
        bars = [charts.Bars(label, charts.colour(i), [v]) for i, (label, v) in enumerate(shares)]
        svg = charts.bar_chart(group, bars, title, "share in the user's validation items", percent=True)
        caption = (
            "Share of users whose pick is one of their validation items (never shown to the teacher). "
            "Augmented positives should beat a random candidate and augmented negatives fall below it."
        )
        rows = [[Cell(label), Cell(f"{v:.1%}", "num")] for label, v in shares]
        blocks += [Chart("edge-quality", title, svg, caption), Table(["Pick", "In validation"], rows)]
    coverage = (audit.get("attributes") or {}).get("coverage") or {}
    if coverage:
        header = ["Attribute", "from dataset", "from teacher", "missing", "distinct values"]
        rows = [
            [Cell(name)]
            + [Cell(f"{c.get(k, 0):.1%}", "num") for k in ("dataset", "teacher", "missing")]
            + [Cell(count(c.get("distinct_values")), "num")]
            for name, c in coverage.items()
        ]
        blocks += ["Item attributes: share of items valued by each source.", Table(header, rows)]
    usage = audit.get("llm_usage") or {}
    if any(usage.get(key) for key, _ in USAGE):
        rows = [
            [Cell(label), Cell(_usage_value(key, usage[key]), "num")] for key, label in USAGE if key in usage
        ]
        blocks += ["LLM usage:", Table(["Quantity", "Value"], rows)]
    else:
        blocks.append("LLM usage: no requests were sent.")
    samples = [_sample(stage, s) for stage, group in (audit.get("samples") or {}).items() for s in group]
    if samples:
        blocks += ["Sample prompts with the teacher's answers (click to open):", *samples]
    return Section("augmentation", "Augmentation audit", blocks)


def _count_rows(audit: Mapping[str, Any]) -> list[list[Cell]]:
    """(part, what, value) rows for every counter the audit holds, catalogue first; a part is named on
    its first row only, so the parts read as blocks."""
    found = [("catalogue", what, count(audit[key])) for key, what in CATALOGUE if key in audit]
    for part in ("edges", "attributes", "profiles", "encoding"):
        stage = audit.get(part) or {}
        found += [
            (part, what, count(stage[key]))
            for key, what in COUNTS
            if isinstance(stage.get(key), int | float) and not isinstance(stage.get(key), bool)
        ]
        rejected = stage.get("rejected_first_answers")
        if isinstance(rejected, Mapping):
            kinds = ", ".join(f"{k} {v}" for k, v in rejected.items()) or "none"
            found.append((part, f"first answers rejected ({kinds})", count(sum(rejected.values()))))
        if stage.get("parse_failure_rate") is not None:
            found.append((part, "parse-failure rate", f"{stage['parse_failure_rate']:.2%}"))
    return [
        [Cell(part if i == 0 or found[i - 1][0] != part else ""), Cell(what), Cell(value, "num")]
        for i, (part, what, value) in enumerate(found)
    ]


def _sample(stage: str, sample: Mapping[str, Any]) -> Sample:
    """A sample prompt with its answer, parsed value and note, as a collapsible block."""
    who = f"user {sample['user_id']}" if "user_id" in sample else f"item {sample.get('item_id', '?')}"
    parsed = sample.get("parsed")
    gist = json.dumps(parsed, ensure_ascii=False) if parsed is not None else sample.get("note", "no answer")
    parts = [("PROMPT", sample.get("prompt")), ("ANSWER", sample.get("answer"))]
    parts += [("PARSED", None if parsed is None else json.dumps(parsed, indent=2, ensure_ascii=False))]
    parts += [("NOTE", sample.get("note"))]
    body = "\n\n".join(f"{label}\n{text}" for label, text in parts if text is not None)
    return Sample(f"{stage}, {who}: {_clip(str(gist))}", body)


def count(value: Any) -> str:
    """An integer with thousands separators, a float with one decimal, '?' for nothing."""
    if value is None:
        return "?"
    return f"{value:,}" if isinstance(value, int) else f"{value:,.1f}"


def _usage_value(key: str, value: Any) -> str:
    """An LLM usage counter; the cost in dollars."""
    return f"${value:,.4f}" if key == "cost_usd" else count(value)


def _clip(text: str, n: int = 110) -> str:
    """One line of at most n characters."""
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1] + "…"


__all__ = ["augmentation_section", "count", "teacher_text"]
