"""ER2ALM's parsers and prompts: values checked by hand."""

from __future__ import annotations

import pytest

from llmrec.augment.parsers import ParseError
from llmrec.er2alm.parsers import normalise_aspect, parse_aspects, parse_profile, parse_weights
from llmrec.er2alm.prompts import DEFAULT_ASPECTS, aspects_prompt, profile_prompt, weights_prompt

ASPECTS = ("genre", "director", "cast", "era", "country")


def test_aspects_are_normalised_and_aliases_read() -> None:
    text = (
        '```json\n{"Genres": ["drama", "War"], "Directors": "David Lean", '
        '"actors": ["A", "B", "C", "D", "E", "F"], "decade": 1962, "country": "UK", "title": "ignored"}\n```'
    )
    got = parse_aspects(text, ASPECTS)
    assert got == {
        "genre": "Drama, War",
        "director": "David Lean",
        "cast": "A, B, C, D, E",  # at most five leading actors
        "era": "1960s",  # a year becomes its decade
        "country": "United Kingdom",
    }


def test_unknown_values_stay_missing_and_missing_keys_are_rejected() -> None:
    got = parse_aspects(
        '{"genre": "unknown", "director": null, "cast": [], "era": "90s", "country": "n/a"}', ASPECTS
    )
    assert got == {"genre": None, "director": None, "cast": None, "era": "1990s", "country": None}
    with pytest.raises(ParseError, match=r"missing key\(s\) \['era', 'country'\]"):
        parse_aspects('{"genre": "Drama", "director": "X", "cast": "Y"}', ASPECTS)
    with pytest.raises(ParseError) as err:
        parse_aspects('{"genre": 3, "director": "X", "cast": "Y", "era": "1990s", "country": "US"}', ASPECTS)
    assert err.value.kind == "type"
    assert normalise_aspect("era", "1995") == "1990s" and normalise_aspect("era", "1990's") == "1990s"


def test_profile_needs_every_aspect_and_something_said() -> None:
    got = parse_profile('{"genre": ["drama", "war"], "director": {"liked": "Lean"}, "cast": "unknown", '
                        '"era": "1960s", "country": null}', ASPECTS)  # fmt: skip
    assert got == {"genre": "drama, war", "director": "Lean", "cast": None, "era": "1960s", "country": None}
    with pytest.raises(ParseError, match="every aspect is unknown"):
        parse_profile(
            '{"genre": null, "director": null, "cast": null, "era": null, "country": null}', ASPECTS
        )


def test_weights_count_each_problem_and_fall_back() -> None:
    answer = parse_weights(
        '{"genre": 0.8, "director": "0.3", "cast": "high", "era": 1.7, "country": 1, "mood": 0.5}', ASPECTS
    )
    assert answer.weights == {"genre": 0.8, "director": 0.3, "cast": None, "era": None, "country": 0.99}
    assert dict(answer.issues) == {"not_number": 1, "out_of_range": 1, "boundary": 1, "unknown_aspect": 1}
    assert answer.filled(0.5) == {"genre": 0.8, "director": 0.3, "cast": 0.5, "era": 0.5, "country": 0.99}
    missing = parse_weights('{"genre": "40%"}', ASPECTS)
    assert missing.weights["genre"] == pytest.approx(0.4) and missing.issues["missing"] == 4
    with pytest.raises(ParseError) as err:
        parse_weights('{"genre": 2, "director": -1, "cast": 7, "era": 3, "country": 9}', ASPECTS)
    assert err.value.kind == "out_of_range"
    with pytest.raises(ParseError):
        parse_weights("no idea", ASPECTS)


def test_prompts_have_table_1_sections_in_order() -> None:
    sections = ["## Task description", "## Task instructions", "## Specific detail requirements",
                "## Output format specifications", "## Emphasis on details"]  # fmt: skip
    item = aspects_prompt("Heat (1995), Action", "Heat (1995)\ndirector: Michael Mann\n" + "word " * 50,
                          DEFAULT_ASPECTS, "movie", 10)  # fmt: skip
    profile = profile_prompt(["Heat (1995); director: Michael Mann"], DEFAULT_ASPECTS, "movie", 100)
    weights = weights_prompt(dict.fromkeys(DEFAULT_ASPECTS, "x"), 12, "movie")
    for prompt in (item, profile, weights):
        positions = [prompt.index(s) for s in sections]
        assert positions == sorted(positions)
    passage = item[item.index("<<<\n") + 4 : item.index("\n>>>")]
    assert passage == "Heat (1995)\ndirector: Michael Mann\nword word word word word..."  # cut to 10 words
    assert '"plot_keywords"' in item and "Never invent names" in item
    assert "No reference document" in aspects_prompt("X (1990)", None, ("genre",), "movie", 10)
    assert "12 movies they liked" in weights and "strictly between 0 and 1" in weights
