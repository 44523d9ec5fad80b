"""Eq. 5, pooling after the gate, Table 2's edge count and the input helpers, by hand."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from llmrec.er2alm.artefacts import find_file
from llmrec.er2alm.embed import aspect_texts, pool_items, weighted_profiles
from llmrec.er2alm.supplement import basic_attributes, basic_text
from llmrec.er2alm.users import eta_subset
from llmrec.errors import DataError


def test_weighted_profile_is_eq_5_over_present_aspects() -> None:
    vectors = np.array([[[1.0, 0.0], [0.0, 1.0], [5.0, 5.0]]])  # one user, three aspects
    weights = np.array([[0.8, 0.25, 0.9]])
    present = np.array([[True, True, False]])  # the third aspect has no profile text
    assert weighted_profiles(vectors, weights, present).tolist() == [[pytest.approx(0.8), 0.25]]


def test_pooling_keeps_only_kept_aspects_and_falls_back_to_basic() -> None:
    vectors = np.array([[[1.0, 0.0], [0.0, 1.0]], [[3.0, 3.0], [1.0, 1.0]]])
    kept = np.array([[True, True], [False, False]])
    basic = np.array([[9.0, 9.0], [7.0, 0.0]])
    pooled, report = pool_items(vectors, kept, basic)
    assert pooled.tolist() == [[0.5, 0.5], [7.0, 0.0]] and report["items_with_no_kept_aspect"] == 1
    concat, _ = pool_items(vectors, np.array([[True, False], [False, False]]), basic, "concat")
    assert concat.tolist() == [[1.0, 0.0, 0.0, 0.0], [7.0, 0.0, 0.0, 0.0]]
    assert aspect_texts([{"genre": "Drama", "era": None}, None], ("genre", "era")) == [
        "genre: Drama",
        "",
        "",
        "",
    ]


def test_eta_gives_table_2s_edge_count() -> None:
    # ceil(2 * 943 * 0.1) = 189 edges, one liked and one disliked per triple -> ceil(94.3) = 95 triples
    assert len(eta_subset(900, 943, 0.1, 0)) == 95
    assert len(eta_subset(50, 943, 0.1, 0)) == 50  # fewer picks than asked: all of them
    assert len(set(eta_subset(900, 943, 0.2, 1).tolist())) == 189


def test_inputs_are_checked(tmp_path: Path) -> None:
    meta = pd.DataFrame({"title": ["Heat", None], "year": [1995.0, None], "genres": ["Action|Crime", None]})
    rows = basic_attributes(meta, 3, "toy")
    assert rows == [{"title": "Heat", "year": "1995", "genres": "Action|Crime"}, {}, {}]
    assert basic_text(rows[0], "1") == "Heat (1995), Action|Crime"
    with pytest.raises(DataError, match="er2alm needs item titles; dataset toy has none"):
        basic_attributes(pd.DataFrame({"year": [1]}), 1, "toy")
    (tmp_path / "docs.csv").write_text("id\n")
    assert find_file("docs.csv", [tmp_path / "nowhere", tmp_path]) == tmp_path / "docs.csv"
    with pytest.raises(DataError, match="er2alm.corpus: missing.csv not found under"):
        find_file("missing.csv", [tmp_path])
    with pytest.raises(DataError, match="not found"):
        find_file(str(tmp_path / "absent.csv"), [])


def test_report_section_shows_the_gate() -> None:
    from llmrec.report_er2alm import er2alm_section
    from llmrec.report_render import render_markdown

    audit = {
        "teacher": {"kind": "local", "note": "no LLM was used"},
        "retrieval": {"items": 3, "accepted": 2, "title": 1},
        "supplement": {"coverage": {"director": 0.5}},
        "gate": {
            "aspects_present": 4,
            "kept": 3,
            "items_with_none_kept": 0,
            "per_aspect": {"director": {"present": 2, "kept": 1}},
            "decided_by": {"fill": 4, "sure": 0},
            "dropped_by": {"fill": 1, "sure": 0},
        },
        "analysis": {"weights": {"issues": {"not_number": 2}, "fallback_weight": 0.5}},
    }
    text = render_markdown("t", "l", [], [er2alm_section(audit)])
    assert (
        "| director | 50.0% | 2 | 1 |" in text
        and "3 of 4 aspects kept" in text
        and "| not\\_number | 2 |" in text
    )
    assert er2alm_section(None) is None
