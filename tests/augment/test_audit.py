"""Audit shares and coverage, computed by hand on a toy case."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from llmrec.augment.audit import attribute_coverage, edge_quality, hit_share, random_candidates
from llmrec.augment.candidates import NO_ITEM

VALID = sp.csr_matrix(
    (np.ones(4), ([0, 0, 1, 3], [2, 5, 4, 1])), shape=(4, 6)
)  # user 0: {2, 5}; user 1: {4}; user 2: none; user 3: {1}


def test_hit_share() -> None:
    users = np.array([0, 0, 1, 3])
    items = np.array([2, 3, 4, 0])
    assert hit_share(users, items, VALID) == pytest.approx(2 / 4)
    assert hit_share(np.zeros(0, int), np.zeros(0, int), VALID) is None


def test_random_candidate_stays_in_the_list() -> None:
    candidates = np.array([[1, 2, NO_ITEM], [3, 4, 5]])
    picks = [random_candidates(candidates, np.array([0, 1]), seed)[0] for seed in range(50)]
    assert set(picks) == {1, 2}  # never the padding


def test_edge_quality_by_hand() -> None:
    candidates = np.array([[2, 3, 4], [0, 4, 1], [5, 4, 3], [1, 0, 2]])
    users = np.array([0, 1, 2, 3])  # user 2 has no validation item: left out of every share
    pos = np.array([5, 4, 5, 2])  # hits: 5 in {2, 5}, 4 in {4}; 2 not in {1}
    neg = np.array([3, 1, 4, 1])  # hits: 1 in {1}
    quality = edge_quality(users, pos, neg, candidates, VALID, seed=0)
    assert quality["users"] == 3
    assert quality["augmented_positive"] == pytest.approx(2 / 3)
    assert quality["base_top1"] == pytest.approx(2 / 3)  # 2 in {2, 5}; 0 not in {4}; 1 in {1}
    assert quality["augmented_negative"] == pytest.approx(1 / 3)
    random_picks = random_candidates(candidates, np.array([0, 1, 3]), 0)
    hits = [p in s for p, s in zip(random_picks, [{2, 5}, {4}, {1}], strict=True)]
    assert quality["random_candidate"] == pytest.approx(np.mean(hits))


def test_coverage_by_source() -> None:
    sources = {"country": ["dataset", "teacher", "", "teacher"]}
    values = {"country": ["France", "United States", None, "United States"]}
    assert attribute_coverage(sources, values) == {
        "country": {"dataset": 0.25, "teacher": 0.5, "missing": 0.25, "distinct_values": 2}
    }
