"""Lexical grounding of generated aspects in the item's trusted evidence: a feature for the gate.

A generated director, cast or keyword that the retrieved passage (or the basic attributes) names is
far more likely right than one they never mention, and a sentence encoder hardly sees the difference:
a person's name barely moves the vector of a plot paragraph. So the gate may also read, for each
(item, aspect) pair, the share of the aspect's words that occur in the item's evidence, and whether
the item has any evidence beyond its basic attributes at all. The paper's gate (Eq. 6) reads vectors
only; this is our addition (`er2alm.gate_grounding`), measured in docs/er2alm.md.

Words are lower-cased letter/digit runs of two characters or more, minus a few English stop words; a
four-digit year in the evidence also stands for its decade ("1995" supports "1990s"), since eras are
written that way.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

_WORD = re.compile(r"[^\W_]{2,}", re.UNICODE)
_YEAR = re.compile(r"^(1[89]|20)\d\d$")
STOP = frozenset(
    {"the", "and", "of", "in", "on", "at", "to", "for", "with", "by", "from", "an", "as", "is", "it", "its",
     "this", "that", "or", "be", "are", "was", "were", "his", "her", "their", "he", "she", "they", "film",
     "movie"}
)  # fmt: skip


def words(text: str | None) -> frozenset[str]:
    """The content words of `text` (lower case, stop words out)."""
    if not text:
        return frozenset()
    return frozenset(w for w in _WORD.findall(text.lower()) if w not in STOP)


def evidence_words(texts: Sequence[str | None]) -> frozenset[str]:
    """The words of an item's evidence texts, with each year's decade added ("1995" -> "1990s")."""
    found: set[str] = set()
    for text in texts:
        found |= words(text)
    found |= {f"{w[:3]}0s" for w in found if _YEAR.match(w)}
    return frozenset(found)


@dataclass(frozen=True)
class Grounding:
    """Word sets of every item's aspects and evidence, to score any (item, aspect-of-item) pair."""

    aspects: list[list[frozenset[str]]]  # [n_items][n_aspects]
    evidence: list[frozenset[str]]  # [n_items]: basic attributes + retrieved passage
    has_passage: np.ndarray  # [n_items] bool: a passage was retrieved and trusted

    def features(self, items: np.ndarray, donors: np.ndarray, kinds: np.ndarray) -> np.ndarray:
        """[B, 2] float32: the share of aspect `kinds` of `donors` found in the evidence of `items`,
        and whether `items` has a passage. A pair's own aspect has donor == item."""
        out = np.zeros((len(items), 2), dtype=np.float32)
        for row, (i, d, k) in enumerate(zip(items.tolist(), donors.tolist(), kinds.tolist(), strict=True)):
            said = self.aspects[d][k]
            if said:
                out[row, 0] = len(said & self.evidence[i]) / len(said)
        out[:, 1] = self.has_passage[items]
        return out


def build_grounding(
    table: Sequence[Sequence[str | None]], basics: Sequence[str], passages: Sequence[str | None]
) -> Grounding:
    """The `Grounding` of a [item][aspect] table of generated values, against each item's basic text
    and retrieved passage (None or "" where nothing was retrieved)."""
    if not len(table) == len(basics) == len(passages):
        raise ValueError(
            f"grounding needs one row per item: {len(table)} aspect rows, {len(basics)} basic texts, "
            f"{len(passages)} passages"
        )
    return Grounding(
        aspects=[[words(v) for v in row] for row in table],
        evidence=[evidence_words([b, p]) for b, p in zip(basics, passages, strict=True)],
        has_passage=np.array([bool(p) for p in passages], dtype=bool),
    )


__all__ = ["Grounding", "build_grounding", "evidence_words", "words"]
