"""The no-LLM teacher: aspects from a document's fields, profiles and weights from counts (by hand)."""

from __future__ import annotations

import pytest

from llmrec.er2alm.teacher import (
    LOCAL_TEACHER,
    concentration_weights,
    local_aspects,
    local_profile,
    plot_keywords,
)


def test_aspects_come_from_the_document_and_basic_attributes_only() -> None:
    meta = {"title": "Heat", "year": "1995", "genres": "Action|Crime"}
    doc = {"director": "Michael Mann", "cast": "Al Pacino, Robert De Niro", "description": "A group of "
           "professional bank robbers start to feel the heat from police."}  # fmt: skip
    got = local_aspects(meta, doc, ("genre", "director", "cast", "country", "era", "plot_keywords"))
    assert got == {
        "genre": "Action, Crime",  # the document has no genre: the dataset's genres
        "director": "Michael Mann",
        "cast": "Al Pacino, Robert De Niro",
        "country": None,  # neither source has it: never guessed
        "era": "1990s",
        "plot_keywords": "group, professional, bank, robbers, start, feel",
    }
    assert local_aspects(meta, None, ("director",)) == {"director": None}
    assert plot_keywords("The the a of") is None
    assert "no LLM" in LOCAL_TEACHER["note"] and LOCAL_TEACHER["kind"] == "local"


def test_profile_and_concentration_weights_by_hand() -> None:
    history = [
        {"director": "Spielberg", "genre": "Drama, War"},
        {"director": "Spielberg", "genre": "Drama"},
        {"director": "Lean", "genre": "Comedy"},
        {"director": None, "genre": "Drama"},
    ]
    profile = local_profile(history, ("director", "genre", "cast"))
    assert profile == {"director": "Spielberg, Lean", "genre": "Drama, War, Comedy", "cast": None}
    weights = concentration_weights(history, ("director", "genre", "cast"))
    # director: top share 2/3 of the 3 bearing items, times 3/4 bearing -> 0.5
    # genre: Drama in 3 of 4, all 4 bear it -> 0.75; cast: nobody -> the floor 0.05
    assert weights == {"director": pytest.approx(0.5), "genre": pytest.approx(0.75), "cast": 0.05}
    assert concentration_weights([{"director": "X"}] * 3, ("director",)) == {"director": 0.95}  # capped
