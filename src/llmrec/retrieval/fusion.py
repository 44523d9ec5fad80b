"""Fusing a lexical and a dense candidate list into one ranking.

- `rrf`: reciprocal-rank fusion (Cormack et al., SIGIR 2009), sum over lists of 1 / (k + rank), rank
  from 1. It needs no score calibration; k = 60 is the paper's constant.
- `sum`: a weighted sum of min-max normalised scores, w * lexical + (1 - w) * dense. Each list is scaled
  to [0, 1] over its own candidates; a document missing from a list scores 0 there.

Both take candidate lists as (doc indices, scores) with -1 marking an empty slot, and return the fused
candidates best first, ties broken by the lower document index so the order is reproducible.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

Fusion = Literal["rrf", "sum"]


def rrf(lists: list[np.ndarray], k: int = 60) -> list[tuple[int, float]]:
    """Reciprocal-rank fusion of ranked doc-index lists (each best first, -1 = no candidate)."""
    fused: dict[int, float] = {}
    for docs in lists:
        for rank, doc in enumerate(int(d) for d in docs if d >= 0):
            fused[doc] = fused.get(doc, 0.0) + 1.0 / (k + rank + 1)
    return sorted(fused.items(), key=lambda item: (-item[1], item[0]))


def minmax(scores: np.ndarray) -> np.ndarray:
    """Scores scaled to [0, 1]; a list whose scores are all equal becomes all ones."""
    if len(scores) == 0:
        return scores.astype(np.float64)
    low, high = float(scores.min()), float(scores.max())
    if high == low:
        return np.ones(len(scores))
    return (scores - low) / (high - low)


def score_sum(
    lexical: tuple[np.ndarray, np.ndarray], dense: tuple[np.ndarray, np.ndarray], weight: float = 0.5
) -> list[tuple[int, float]]:
    """weight * minmax(lexical) + (1 - weight) * minmax(dense), each given as (doc indices, scores)."""
    fused: dict[int, float] = {}
    for (docs, scores), w in ((lexical, weight), (dense, 1.0 - weight)):
        keep = docs >= 0
        for doc, s in zip(docs[keep], minmax(scores[keep]), strict=True):
            fused[int(doc)] = fused.get(int(doc), 0.0) + w * float(s)
    return sorted(fused.items(), key=lambda item: (-item[1], item[0]))
