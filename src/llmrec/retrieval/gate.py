"""The trust gate and ER2ALM's A(.): accept an item's retrieved document only when it is that item's.

A wrong movie's plot in the attribute prompt is worse than none: the LLM writes confident, wrong
attributes from it. So each fused candidate, best first, is checked against the item:

- title: the best character similarity between the two titles' forms (main title, alternates, the
  part before ':'; see `text.title_similarity`) must reach `min_title_similarity`;
- year: when both years are known they may differ by at most `max_year_gap` (release years differ by
  one between sources), but a weaker title match (similarity below `exact_year_below`: a fuzzy match,
  or one through the part before ':') needs the same year, known on both sides: 'Shanghai Grand
  (1996)' is not 'Shanghai Triad (1995)', nor 'The X-Files: Season 5 (1997)' the film 'The X Files
  (1998)'. With `require_year`, any document without a year is refused when the item has one;
- margin: another candidate that passes both checks, is a different movie (another title or year), is
  as close in year and within `min_margin` in title similarity makes the item ambiguous: rejected.

Only the first `scan` candidates may be accepted (1 = the best fused match or nothing). The reason
recorded for a rejected item is that of its best-ranked candidate.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import pandas as pd

from llmrec.errors import ConfigError, DataError
from llmrec.retrieval.retriever import Match, Query, Retriever, build_query
from llmrec.retrieval.text import (
    TitleForms,
    normalize,
    strip_article,
    title_parts,
    title_similarity,
    title_variants,
)

ACCEPTED = "accepted"
OUTCOMES = (ACCEPTED, "no_candidate", "title", "year", "no_year", "ambiguous")


@dataclass(frozen=True)
class GateConfig:
    """Thresholds of the trust gate; the defaults were chosen on a development pairing (docs/er2alm.md)."""

    min_title_similarity: float = 0.85
    max_year_gap: int = 1
    exact_year_below: float = 0.95
    require_year: bool = False
    min_margin: float = 0.05
    scan: int = 3
    candidates: int = 10  # fused matches fetched per item: the scanned ones plus the margin's rivals

    def __post_init__(self) -> None:
        if not 0.0 <= self.min_title_similarity <= 1.0:
            raise ConfigError(f"min_title_similarity must be in [0, 1], not {self.min_title_similarity}")
        if self.scan < 1 or self.candidates < self.scan:
            raise ConfigError(f"need 1 <= scan <= candidates, got scan={self.scan}, "
                              f"candidates={self.candidates}")  # fmt: skip


@dataclass(frozen=True)
class Decision:
    """What the gate decided for one item: the accepted match (or None), why, and the evidence."""

    outcome: str
    match: Match | None  # the accepted match; for a rejection, the best-ranked candidate
    title_similarity: float | None
    year_gap: int | None

    @property
    def accepted(self) -> bool:
        """Whether the item gets the document's text."""
        return self.outcome == ACCEPTED

    def to_dict(self) -> dict[str, Any]:
        """Plain values for JSON: outcome, doc id or None, rank, scores and checks."""
        m = self.match
        return {
            "outcome": self.outcome,
            "doc_id": m.doc_id if m is not None and self.accepted else None,
            "candidate_id": m.doc_id if m is not None else None,
            "candidate_title": m.title if m is not None else None,
            "candidate_year": m.year if m is not None else None,
            "rank": m.rank if m is not None else None,
            "fused": m.score if m is not None else None,
            "lexical": m.lexical if m is not None else None,
            "dense": m.dense if m is not None else None,
            "title_similarity": self.title_similarity,
            "year_gap": self.year_gap,
        }


class Checked(NamedTuple):
    """One candidate after the checks."""

    match: Match
    similarity: float
    gap: int | None
    reason: str


def _movie_key(title: str, year: int | None) -> tuple[str, int | None]:
    """Two candidates with the same main title and year are one movie listed twice."""
    return strip_article(normalize(title_parts(title)[0])), year


def _check(query: Query, wanted: TitleForms, m: Match, doc_forms: TitleForms, gate: GateConfig) -> Checked:
    """One candidate against the item: its title similarity, year gap, and the outcome of the checks."""
    similarity = title_similarity(wanted, doc_forms)
    gap = abs(m.year - query.year) if m.year is not None and query.year is not None else None
    weak = similarity < gate.exact_year_below
    if similarity < gate.min_title_similarity:
        reason = "title"
    elif gap is not None and gap > (0 if weak else gate.max_year_gap):
        reason = "year"
    elif query.year is not None and m.year is None and (gate.require_year or weak):
        reason = "no_year"
    else:
        reason = ACCEPTED
    return Checked(m, similarity, gap, reason)


def judge(query: Query, matches: Sequence[Match], forms: Sequence[TitleForms], gate: GateConfig) -> Decision:
    """The gate's decision for one item, given its fused matches (best first) and the documents' forms."""
    if not matches:
        return Decision("no_candidate", None, None, None)
    wanted = title_variants(query.title)
    checked = [_check(query, wanted, m, forms[m.doc], gate) for m in matches]
    best = next((c for c in checked[: gate.scan] if c.reason == ACCEPTED), None)
    if best is None:
        first = checked[0]
        return Decision(first.reason, first.match, first.similarity, first.gap)
    key = _movie_key(best.match.title, best.match.year)
    for other in checked:
        rival = (
            other.reason == ACCEPTED
            and other is not best
            and _movie_key(other.match.title, other.match.year) != key
        )
        # a rival must be as close in year (a known year beats an unknown one) and nearly as close in title
        as_close = best.gap is None or (other.gap is not None and other.gap <= best.gap)
        if rival and as_close and other.similarity >= best.similarity - gate.min_margin:
            return Decision("ambiguous", best.match, best.similarity, best.gap)
    return Decision(ACCEPTED, best.match, best.similarity, best.gap)


@dataclass
class RetrievalResult:
    """Per item (in the order of `items`): the gate's decision and the accepted passage or None."""

    items: list[Hashable]
    decisions: list[Decision]
    passages: list[str | None]
    audit: dict[str, int] = field(default_factory=dict)

    def passage_of(self, item: Hashable) -> str | None:
        """The accepted document text of one item (None when the gate gave it none)."""
        return self.passages[self.items.index(item)]

    def texts(self) -> dict[Hashable, str]:
        """item -> accepted passage, only for items that got one: what an attribute prompt takes."""
        return {i: p for i, p in zip(self.items, self.passages, strict=True) if p is not None}

    def to_frame(self) -> pd.DataFrame:
        """One row per item: the decision's fields and the passage."""
        rows = [d.to_dict() | {"passage": p} for d, p in zip(self.decisions, self.passages, strict=True)]
        return pd.DataFrame(rows, index=pd.Index(self.items, name="item"))


def queries_from_meta(items_meta: pd.DataFrame) -> list[Query]:
    """Queries from an item-metadata frame with a `title` column and optional `year` and `genres`."""
    if "title" not in items_meta.columns:
        raise DataError(f"item metadata needs a 'title' column; columns present: {list(items_meta.columns)}")
    years = items_meta["year"] if "year" in items_meta.columns else pd.Series(pd.NA, index=items_meta.index)
    genres = items_meta["genres"] if "genres" in items_meta.columns else pd.Series("", index=items_meta.index)
    return [
        build_query(
            str(t) if pd.notna(t) else "", None if pd.isna(y) else int(y), str(g) if pd.notna(g) else ""
        )
        for t, y, g in zip(items_meta["title"], years, genres, strict=True)
    ]


def retrieve_items(
    items_meta: pd.DataFrame, retriever: Retriever, gate: GateConfig | None = None
) -> RetrievalResult:
    """Search the corpus for every item, gate the matches, and keep the accepted passages."""
    gate = gate or GateConfig()
    queries = queries_from_meta(items_meta)
    matches = retriever.search(queries, k=gate.candidates)
    decisions = [judge(q, m, retriever.forms, gate) for q, m in zip(queries, matches, strict=True)]
    passages = [
        retriever.corpus.passage(d.match.doc) if d.accepted and d.match is not None else None
        for d in decisions
    ]
    counts = Counter(d.outcome for d in decisions)
    audit = {"items": len(decisions), **{o: counts.get(o, 0) for o in OUTCOMES}}
    return RetrievalResult(list(items_meta.index), decisions, passages, audit)
