"""Item texts the reranker shows: a short line for histories, a fuller one for candidates."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from llmrec.augment.prompts import cut_words

CANDIDATE_FIELDS = ("genres", "director")  # beyond title and year: what tells taste apart in one line


@dataclass(frozen=True)
class ItemTexts:
    """One line per item by internal index: `short` for histories, `full` for candidates (and encoding)."""

    short: list[str]
    full: list[str]

    def __post_init__(self) -> None:
        if len(self.short) != len(self.full):
            raise ValueError(f"{len(self.short)} short and {len(self.full)} full item texts")


def _text(value: object) -> str:
    """A metadata value as one line of text ('' for missing values: None, NaN, pandas' NA)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    text = " ".join(str(value).split())
    return "" if text in ("<NA>", "nan", "NaT") else text


def title_line(meta: Mapping[str, object], item_id: str) -> str:
    """'Title (year)', or 'untitled item <id>' for an item without a title."""
    title = _text(meta.get("title")) or f"untitled item {item_id}"
    year = _text(meta.get("year")).removesuffix(".0")  # pandas reads a year column with gaps as floats
    return f"{title} ({year})" if year and f"({year})" not in title else title


def item_texts(
    rows: Sequence[Mapping[str, object]],
    item_ids: Sequence[object],
    fields: Sequence[str] = CANDIDATE_FIELDS,
    field_words: int = 8,
) -> ItemTexts:
    """Both lines of every item from its metadata row: 'Title (year)' and 'Title (year), genres; director: X'.

    Each extra field is cut to `field_words` words so that a long cast list cannot crowd out the
    candidates; fields an item lacks are left out.
    """
    short, full = [], []
    for meta, item_id in zip(rows, item_ids, strict=True):
        head = title_line(meta, str(item_id))
        extras = []
        for name in fields:
            value = _text(meta.get(name))
            if value:
                extras.append(value if name == "genres" else f"{name}: {cut_words(value, field_words)}")
        short.append(head)
        full.append(head if not extras else f"{head}, {'; '.join(extras)}")
    return ItemTexts(short, full)
