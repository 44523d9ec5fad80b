"""`llmrec methods`: every registered method with its stages (what each reads and makes), its own
config table and its model's knobs, with their defaults, as data and as text."""

from __future__ import annotations

import dataclasses
from typing import Any

from llmrec.factory import model_spec
from llmrec.methods import METHODS, get_method


def _knobs(cls: type[Any] | None) -> dict[str, Any]:
    """A config dataclass's fields and defaults."""
    if cls is None:
        return {}
    return {f.name: dataclasses.asdict(cls()).get(f.name) for f in dataclasses.fields(cls)}


def describe(name: str | None = None) -> list[dict[str, Any]]:
    """One entry per method (or the one named): summary, paper, evaluation, stages, knobs, model."""
    methods = [get_method(name)] if name else list(METHODS.values())
    rows = []
    for method in methods:
        entry: dict[str, Any] = {
            "name": method.name,
            "summary": method.summary,
            "paper": method.paper,
            "kind": "baseline" if method.baseline else "method",
            "evaluation": method.evaluation,
            "stages": [
                {"name": s.name, "doc": s.doc, "consumes": list(s.consumes), "produces": list(s.produces)}
                for s in method.stages
            ],
            "section": {"table": f"[{method.name}]", "knobs": _knobs(method.section)}
            if method.section
            else None,
            "variants": [v.name for v in method.variants],
        }
        if method.model is not None:
            spec = model_spec(method.model)
            entry["model"] = {
                "name": method.model,
                "table": f"[model.{method.model}]",
                "knobs": _knobs(spec.config),
                "shared": list(spec.shared),
                "capabilities": spec.capabilities.names(),
            }
        rows.append(entry)
    return rows


def format_methods(rows: list[dict[str, Any]]) -> str:
    """The listing as text."""
    lines: list[str] = []
    for row in rows:
        lines.append(f"{row['name']}  ({row['kind']}, {row['evaluation']}): {row['summary']}")
        lines.append(f"  paper: {row['paper']}")
        for stage in row["stages"]:
            flow = ""
            if stage["consumes"] or stage["produces"]:
                flow = f"  [{', '.join(stage['consumes']) or '-'} -> {', '.join(stage['produces']) or '-'}]"
            lines.append(f"  stage {stage['name']}: {stage['doc']}{flow}")
        if row["section"]:
            lines.append(f"  {row['section']['table']}: " + _format_knobs(row["section"]["knobs"]))
        model = row.get("model")
        if model:
            caps = ", ".join(model["capabilities"]) or "none"
            shared = ", ".join(model["shared"]) or "none"
            lines.append(f"  model {model['name']} (capabilities: {caps}; shared knobs: {shared})")
            if model["knobs"]:
                lines.append(f"  {model['table']}: " + _format_knobs(model["knobs"]))
        if row["variants"]:
            lines.append(f"  ablation variants: {', '.join(row['variants'])}")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def _format_knobs(knobs: dict[str, Any]) -> str:
    """ "key = default, ..."."""
    return ", ".join(f"{k} = {v!r}" for k, v in knobs.items()) or "(none)"


__all__ = ["describe", "format_methods"]
