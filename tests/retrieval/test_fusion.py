"""Fusion ranks, worked by hand."""

from __future__ import annotations

import numpy as np
import pytest

from llmrec.retrieval.fusion import rrf, score_sum

LEXICAL = np.array([2, 0, 1]), np.array([3.0, 2.0, 1.0])
DENSE = np.array([0, 3, -1]), np.array([0.9, 0.5, 0.0])


def test_reciprocal_rank_fusion_by_hand() -> None:
    fused = rrf([LEXICAL[0], DENSE[0]], k=60)
    # doc 0: 1/62 + 1/61 = 0.032523; doc 2: 1/61 = 0.016393; doc 3: 1/62 = 0.016129; doc 1: 1/63
    assert [d for d, _ in fused] == [0, 2, 3, 1]
    assert [s for _, s in fused] == pytest.approx([1 / 62 + 1 / 61, 1 / 61, 1 / 62, 1 / 63])


def test_normalised_score_sum_by_hand() -> None:
    fused = score_sum(LEXICAL, DENSE, weight=0.5)
    # lexical min-max: doc2 1, doc0 0.5, doc1 0; dense: doc0 1, doc3 0 (the -1 slot is ignored)
    # doc0 = 0.5 * 0.5 + 0.5 * 1 = 0.75; doc2 = 0.5; doc1 = doc3 = 0, tie -> lower index first
    assert fused == [(0, pytest.approx(0.75)), (2, pytest.approx(0.5)), (1, 0.0), (3, 0.0)]
    lexical_only = score_sum(LEXICAL, DENSE, weight=1.0)
    assert [d for d, _ in lexical_only][:2] == [2, 0]
