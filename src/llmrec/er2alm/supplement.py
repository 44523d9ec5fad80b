"""Auxiliary information supplement (Sec. 3.1, Eq. 1): i^A = L(P_I(i, A[R(i)])).

Each item's basic attributes (title, year, genres: the trusted part, never changed) and the passage
the retrieval accepted for it go into the hard prompt of `prompts.aspects_prompt`; the JSON answer is
parsed by `parsers.parse_aspects` with one repair re-ask, through the cached, resumable, costed LLM
layer. The no-LLM teacher (`teacher.local_aspects`) reads the same aspects off the document's fields.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from llmrec.augment.ask import ask
from llmrec.augment.audit import sample_positions
from llmrec.augment.prompts import HEAD_FIELDS, chat, estimate_tokens, item_line
from llmrec.er2alm.parsers import parse_aspects
from llmrec.er2alm.prompts import ASPECTS_TEMPLATE, aspects_expected, aspects_prompt
from llmrec.er2alm.teacher import local_aspects
from llmrec.errors import DataError
from llmrec.llm import Backend, StageStats

TEACHER, LOCAL = "teacher", "local"


@dataclass
class ItemAspects:
    """Per item (internal index) the value of each aspect (None: missing) and who wrote it."""

    aspects: tuple[str, ...]
    values: list[dict[str, str | None]]
    source: list[str]  # "teacher" (the LLM), "local" (the no-LLM teacher) or "" (nothing usable)
    report: dict[str, Any] = field(default_factory=dict)
    samples: list[dict[str, Any]] = field(default_factory=list)

    def table(self) -> list[list[str | None]]:
        """The values as [item][aspect], in `aspects` order."""
        return [[row.get(a) for a in self.aspects] for row in self.values]

    def coverage(self) -> dict[str, float]:
        """Share of items that have each aspect."""
        n = max(len(self.values), 1)
        return {a: round(sum(bool(r.get(a)) for r in self.values) / n, 4) for a in self.aspects}


def basic_text(meta: Mapping[str, str], item_id: str) -> str:
    """The item's basic attributes only ('Heat (1995), Action|Crime|Thriller'): the trusted marker."""
    return item_line({k: v for k, v in meta.items() if k in HEAD_FIELDS}, item_id, 12)


def local_supplement(
    items: Sequence[Mapping[str, str]], documents: Sequence[Mapping[str, str] | None], aspects: Sequence[str]
) -> ItemAspects:
    """The no-LLM teacher's aspects of every item."""
    values = [local_aspects(meta, doc, aspects) for meta, doc in zip(items, documents, strict=True)]
    source = [LOCAL if any(v.values()) else "" for v in values]
    report = {"items": len(items), "with_document": sum(d is not None for d in documents), "prompts": 0}
    return ItemAspects(tuple(aspects), values, source, report)


def llm_supplement(
    llm: Backend,
    stats: StageStats,
    items: Sequence[Mapping[str, str]],
    item_ids: Sequence[str],
    passages: Sequence[str | None],
    aspects: Sequence[str],
    noun: str,
    passage_words: int = 220,
    token_budget: int = 3072,
    audit_samples: int = 3,
    seed: int = 0,
) -> ItemAspects:
    """Ask the LLM for every titled item's aspects in one batch (one repair each); untitled items and
    prompts over `token_budget` are skipped and counted."""
    values: list[dict[str, str | None]] = [{a: None for a in aspects} for _ in items]
    source = [""] * len(items)
    todo: list[tuple[int, str]] = []
    untitled = over = 0
    for i, meta in enumerate(items):
        if not meta.get("title"):
            untitled += 1  # nothing identifies it: any answer would be invented
            continue
        prompt = aspects_prompt(basic_text(meta, item_ids[i]), passages[i], aspects, noun, passage_words)
        if estimate_tokens(prompt) > token_budget:
            over += 1
            continue
        todo.append((i, prompt))
    keys = tuple(aspects)
    asked = ask(
        llm,
        [chat(p, ASPECTS_TEMPLATE) for _, p in todo],
        [keys] * len(todo),
        lambda k: functools.partial(parse_aspects, aspects=k),
        aspects_expected,
        stats,
    )
    for (i, _), parsed in zip(todo, asked.values, strict=True):
        if parsed is not None and any(parsed.values()):
            values[i], source[i] = parsed, TEACHER
    report = {
        "items": len(items),
        "with_passage": sum(p is not None for p in passages),
        "untitled_skipped": untitled,
        "over_budget": over,
        **asked.summary(),
    }
    result = ItemAspects(keys, values, source, report)
    for k in sample_positions(len(todo), audit_samples, seed):
        i, prompt = todo[k]
        result.samples.append(
            {
                "item_id": str(item_ids[i]),
                "prompt": prompt,
                "answer": asked.answers[k],
                "parsed": asked.values[k],
            }
        )
    return result


def basic_attributes(meta: pd.DataFrame | None, n_items: int, dataset: str) -> list[dict[str, str]]:
    """Each item's basic attributes (title, year, genres) as text, by internal index (`meta` indexed so)."""
    if meta is None or "title" not in meta.columns:
        raise DataError(f"er2alm needs item titles; dataset {dataset} has none")
    rows = []
    for r in meta.reindex(range(n_items)).to_dict("records"):
        row = {"title": _text(r.get("title")), "year": _year(r.get("year")), "genres": _text(r.get("genres"))}
        rows.append({k: v for k, v in row.items() if v})
    return rows


def _text(value: Any) -> str:
    """A metadata cell as stripped text, '' when missing."""
    return "" if value is None or (isinstance(value, float) and math.isnan(value)) else str(value).strip()


def _year(value: Any) -> str:
    """A year cell as '1995', '' when missing."""
    text = _text(value)
    try:
        return str(int(float(text))) if text else ""
    except ValueError:
        return ""


def documents_of(
    decisions: Sequence[Any], fields: Mapping[str, Sequence[str]]
) -> list[dict[str, str] | None]:
    """The accepted document's fields per item (None where the retrieval's gate refused all)."""
    out: list[dict[str, str] | None] = []
    for d in decisions:
        if d.accepted and d.match is not None:
            out.append({name: column[d.match.doc] for name, column in fields.items() if column[d.match.doc]})
        else:
            out.append(None)
    return out


__all__ = [
    "LOCAL",
    "TEACHER",
    "ItemAspects",
    "basic_text",
    "documents_of",
    "llm_supplement",
    "local_supplement",
]
