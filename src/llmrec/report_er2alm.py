"""The report's ER2ALM audit: retrieval outcomes, aspect coverage, weight problems, and what the
reliability gate kept and dropped per aspect and by which route. Reads summary.json's `er2alm` only."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from llmrec.report_augment import count, teacher_text
from llmrec.report_render import Block, Cell, Section, Table


def er2alm_section(audit: Any) -> Section | None:
    """The ER2ALM audit section, or None for a run without ER2ALM."""
    if not isinstance(audit, Mapping):
        return None
    teacher = audit.get("teacher") or {}
    note = str(teacher.get("note") or "")
    blocks: list[Block] = [
        f"Teacher: {teacher_text(teacher)}." + (f" {note[:1].upper()}{note[1:]}." if note else "")
    ]
    retrieval = audit.get("retrieval") or {}
    outcomes = [
        k for k in ("accepted", "title", "year", "no_year", "ambiguous", "no_candidate") if k in retrieval
    ]
    if outcomes:
        rows = [[Cell(k), Cell(count(retrieval[k]), "num")] for k in outcomes]
        blocks += [
            f"Retrieval of {count(retrieval.get('items'))} items: the trust gate's outcomes.",
            Table(["Outcome", "Items"], rows),
        ]
    coverage = (audit.get("supplement") or {}).get("coverage") or {}
    gate = audit.get("gate") or {}
    per_aspect = gate.get("per_aspect") or {}
    if coverage:
        rows = []
        for name, share in coverage.items():
            kept = per_aspect.get(name, {})
            rows.append(
                [
                    Cell(name),
                    Cell(f"{share:.1%}", "num"),
                    Cell(count(kept.get("present")), "num"),
                    Cell(count(kept.get("kept")), "num"),
                ]
            )
        blocks += [
            "Item aspects: share of items that have each, and what the reliability gate kept.",
            Table(["Aspect", "coverage", "present", "kept by the gate"], rows),
        ]
    if gate.get("decided_by"):
        rows = [
            [Cell(route), Cell(count(n), "num"), Cell(count(gate.get("dropped_by", {}).get(route)), "num")]
            for route, n in gate["decided_by"].items()
            if n
        ]
        blocks += [
            f"Gate routes: {count(gate.get('kept'))} of {count(gate.get('aspects_present'))} aspects kept; "
            f"{count(gate.get('items_with_none_kept'))} items kept none "
            "(their basic-attribute vector stands in).",
            Table(["Route", "decided", "dropped"], rows),
        ]
    weights = (audit.get("analysis") or {}).get("weights") or {}
    if weights.get("issues"):
        rows = [[Cell(k), Cell(count(v), "num")] for k, v in weights["issues"].items()]
        blocks += [
            f"Preference weights the LLM got wrong (fallback weight {weights.get('fallback_weight')}).",
            Table(["Problem", "Count"], rows),
        ]
    return Section("er2alm", "ER2ALM audit", blocks)


__all__ = ["er2alm_section"]
