"""BM25 against the formula worked by hand, and top-k's tie order."""

from __future__ import annotations

import math

import numpy as np
import pytest

from llmrec.retrieval.bm25 import BM25Index, top_k

# d0 = "a b", d1 = "a c c", d2 = "b"; N = 3, lengths 2, 3, 1, avgdl = 2, k1 = 1.5, b = 0.75
DOCS = [["a", "b"], ["a", "c", "c"], ["b"]]


def test_bm25_scores_match_the_formula_by_hand() -> None:
    index = BM25Index(k1=1.5, b=0.75).fit(DOCS)
    idf_a = math.log(1 + (3 - 2 + 0.5) / (2 + 0.5))  # ln 1.6 = 0.470004
    idf_c = math.log(1 + (3 - 1 + 0.5) / (1 + 0.5))  # ln 8/3 = 0.980829
    assert idf_a == pytest.approx(0.470004, abs=1e-6) and idf_c == pytest.approx(0.980829, abs=1e-6)
    # d0: norm = 0.25 + 0.75 * 2/2 = 1; a: 1 * 2.5 / (1 + 1.5) = 1            -> 0.470004
    # d1: norm = 0.25 + 0.75 * 3/2 = 1.375; a: 2.5 / (1 + 2.0625) = 0.816327  -> 0.383677
    #     c (tf 2): 5 / (2 + 2.0625) = 1.230769                                -> 1.207174; sum 1.590851
    # d2: neither term                                                          -> 0
    scores = index.scores([["a", "c", "c"]])  # a repeated query term counts once
    np.testing.assert_allclose(scores[0], [0.470004, 1.590851, 0.0], atol=1e-5)
    top, docs = index.search([["a", "c"], ["zzz"]], k=3)
    assert docs[0].tolist() == [1, 0, -1]  # d2 shares no term: not a candidate
    assert docs[1].tolist() == [-1, -1, -1]
    np.testing.assert_allclose(top[0][:2], [1.590851, 0.470004], atol=1e-5)


def test_top_k_breaks_ties_by_lower_index() -> None:
    scores = np.array([[0.5, 0.9, 0.5, 0.5, 0.1]], dtype=np.float32)
    values, docs = top_k(scores, 3)
    assert docs.tolist() == [[1, 0, 2]]
    np.testing.assert_allclose(values, [[0.9, 0.5, 0.5]])
