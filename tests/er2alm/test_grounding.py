"""Word grounding for the gate: the features by hand, and a gate that can only succeed through them."""

from __future__ import annotations

import numpy as np
import pytest

from llmrec.er2alm.grounding import build_grounding, evidence_words, words
from llmrec.er2alm.reliability import ReliabilityConfig, run_gate


def test_words_and_evidence() -> None:
    assert words("The Godfather, Part II") == {"godfather", "part", "ii"}
    assert words(None) == frozenset() and words("a I") == frozenset()  # one-letter words are not words
    found = evidence_words(["Heat (1995), Action|Crime", None, "Directed by Michael Mann."])
    assert {"heat", "1995", "1990s", "action", "crime", "directed", "michael", "mann"} <= found
    assert "by" not in found


def test_features_by_hand() -> None:
    table = [["Michael Mann", "1990s"], ["Ridley Scott", None]]
    g = build_grounding(table, ["Heat (1995)", "Alien (1979)"], ["Directed by Michael Mann.", None])
    items, donors, kinds = np.array([0, 0, 1, 0]), np.array([0, 1, 1, 0]), np.array([0, 0, 0, 1])
    got = g.features(items, donors, kinds)
    # own director: 2/2 words in the passage; item 1's director against item 0: 0/2; item 1's own
    # director against its basic text only: 0/2; the era "1990s" from the year 1995: 1/1
    assert got[:, 0].tolist() == [1.0, 0.0, 0.0, 1.0]
    assert got[:, 1].tolist() == [1.0, 1.0, 0.0, 1.0]  # whether the judged item has a passage
    with pytest.raises(ValueError, match="one row per item"):
        build_grounding(table, ["Heat (1995)"], [None, None])


def test_grounding_lets_the_gate_see_what_vectors_cannot() -> None:
    """Aspect vectors are pure noise, so only the words can tell an item's own aspect from a swapped
    one: with grounding the gate removes swaps and keeps the rest; without it, it cannot."""
    rng = np.random.default_rng(0)
    n, d = 200, 8
    names = [f"name{i} surname{i}" for i in range(n)]
    wrong = rng.random(n) < 0.2
    given = [names[(i + 7) % n] if wrong[i] else names[i] for i in range(n)]
    table = [[v] for v in given]
    passages = [f"a story told by {names[i]}" for i in range(n)]
    basic = rng.normal(size=(n, d)).astype(np.float32)
    aspect = rng.normal(size=(n, 1, d)).astype(np.float32)
    present = np.ones((n, 1), dtype=bool)
    cfg = ReliabilityConfig(epochs=60, folds=4, n_sets=10_000, hidden=16, lr=0.02)
    grounding = build_grounding(table, [f"item {i}" for i in range(n)], passages)
    got = run_gate(cfg, basic, np.zeros_like(basic), aspect, present, grounding)
    assert got.kept[wrong, 0].mean() < 0.1 and got.kept[~wrong, 0].mean() > 0.9
    blind = run_gate(cfg, basic, np.zeros_like(basic), aspect, present)
    assert abs(blind.kept[wrong, 0].mean() - blind.kept[~wrong, 0].mean()) < 0.3  # no better than chance
