"""Item attributes for the rating task's DeepFM fields: director and star, from metadata or an LLM.

The no-LLM teacher (labelled `dataset` in every output) reads them from the dataset's metadata files
(ML-100K: the IMDb details scrape; the first director listed and the first-billed cast member). The
LLM teacher keeps those and asks, in one cached batch, for the ones an item lacks (titled items only),
with `llmrec.augment`'s attribute prompt and parser: an "unknown" answer leaves the value missing,
an unparseable one gets one repair and is then dropped, counted.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from llmrec.augment.attributes import ask_attributes
from llmrec.augment.prompts import (
    attributes_prompt,
    item_line,
)
from llmrec.llm import Backend, StageStats
from llmrec.tasks.rating_data import first_name

ATTRIBUTES = ("director", "star")
SOURCE_COLUMN = {"director": "director", "star": "cast"}  # metadata column each attribute is read from
DATASET_TEACHER = {"kind": "dataset", "llm": False, "what": "no-LLM teacher: the dataset's metadata files"}


@dataclass
class FilledAttributes:
    """Per attribute, one value per item (None: unknown), where each came from, and the audit."""

    values: dict[str, list[str | None]]
    sources: dict[str, list[str]]  # "dataset" | "llm" | "" (missing)
    audit: dict[str, Any] = field(default_factory=dict)
    samples: list[dict[str, Any]] = field(default_factory=list)

    def coverage(self) -> dict[str, dict[str, int]]:
        """How many items hold each attribute, by source."""
        return {name: dict(Counter(s or "missing" for s in src)) for name, src in self.sources.items()}


def text_records(meta: pd.DataFrame | None, n: int = 0) -> list[dict[str, str]]:
    """Item metadata rows as strings, '' where missing (n empty rows without metadata)."""
    if meta is None:
        return [{} for _ in range(n)]
    frame = meta.astype(object)
    return frame.where(frame.notna(), "").astype(str).to_dict("records")  # type: ignore[return-value]


def dataset_attributes(meta: pd.DataFrame | None, n_items: int) -> FilledAttributes:
    """Director and star as the metadata has them (the no-LLM teacher)."""
    values: dict[str, list[str | None]] = {}
    for name in ATTRIBUTES:
        column = SOURCE_COLUMN[name]
        raw = meta[column].tolist() if meta is not None and column in meta else [None] * n_items
        values[name] = [first_name(v) for v in raw]
    sources = {n: ["dataset" if v else "" for v in vs] for n, vs in values.items()}
    return FilledAttributes(values, sources, {"teacher": DATASET_TEACHER})


def llm_attributes(
    llm: Backend,
    meta: pd.DataFrame,
    item_ids: Sequence[object],
    stats: StageStats,
    noun: str = "movie",
    samples: int = 5,
) -> FilledAttributes:
    """The metadata's values, and the LLM's for what an item lacks (one prompt per such titled item)."""
    filled = dataset_attributes(meta, len(item_ids))
    records = text_records(meta)
    todo: list[tuple[int, tuple[str, ...], str]] = []
    untitled = 0
    for i, record in enumerate(records):
        missing = tuple(n for n in ATTRIBUTES if filled.values[n][i] is None)
        if not missing:
            continue
        if not record.get("title"):
            untitled += 1  # nothing identifies the item: an answer could only be invented
            continue
        shown = {k: record.get(k, "") for k in ("title", "year", "genres")}
        todo.append((i, missing, attributes_prompt(item_line(shown, str(item_ids[i]), 30), missing, noun)))
    asked = ask_attributes(llm, [prompt for _, _, prompt in todo], [keys for _, keys, _ in todo], stats)
    for (i, _, _), parsed in zip(todo, asked.values, strict=True):
        for name, value in (parsed or {}).items():
            if value:
                filled.values[name][i] = first_name(value)
                filled.sources[name][i] = "llm"
    filled.audit = {
        "teacher": {"kind": "llm", "backend": llm.kind, "model": llm.model},
        "untitled_skipped": untitled,
        **asked.summary(),
    }
    filled.samples = [
        {"item_id": str(item_ids[i]), "prompt": prompt, "answer": asked.answers[k], "parsed": asked.values[k]}
        for k, (i, _, prompt) in enumerate(todo[:samples])
    ]
    return filled


__all__ = [
    "text_records",
    "ATTRIBUTES",
    "DATASET_TEACHER",
    "FilledAttributes",
    "dataset_attributes",
    "llm_attributes",
]
