"""Prompt builders: item lines, the token estimate, and histories cut to a budget."""

from __future__ import annotations

from llmrec.augment.prompts import (
    attributes_prompt,
    cut_history,
    cut_words,
    edges_prompt,
    estimate_tokens,
    history_block,
    item_line,
    item_noun,
    profiles_prompt,
)


def test_token_estimate_takes_the_larger_rule() -> None:
    assert estimate_tokens("") == 0
    assert estimate_tokens("one two three") == 4  # 13 chars -> 4; 3 words * 4/3 -> 4
    assert estimate_tokens("a b c d e f") == 8  # 11 chars -> 3; 6 words -> 8
    assert estimate_tokens("x" * 40) == 10  # one long word: 40 chars -> 10


def test_cut_words() -> None:
    assert cut_words("a b c", 3) == "a b c"
    assert cut_words("a  b c d", 2) == "a b..."


def test_item_line_head_fields_and_cuts() -> None:
    meta = {
        "title": "Heat",
        "year": "1995",
        "genres": "Action|Crime",
        "director": "Michael Mann",
        "plot": "A group of high-end professional thieves start to feel the heat",
        "imdb_url": "http://x",
        "release_date": "01-Jan-1995",
    }
    assert item_line(meta, "6", 4) == (
        "Heat (1995), Action|Crime; director: Michael Mann; plot: A group of high-end..."
    )


def test_item_line_without_title_or_year() -> None:
    assert item_line({}, "i42", 5) == "untitled item i42"
    assert item_line({"title": "Up (2009)", "year": "2009"}, "1", 5) == "Up (2009)"  # no year twice
    assert item_line({"title": "Air", "tags": "rock,  indie"}, "1", 5) == "Air; tags: rock, indie"


def test_item_nouns() -> None:
    assert [item_noun(d) for d in ("ml-100k", "llmrec-netflix", "lastfm", "gowalla", "custom")] == [
        "movie", "movie", "artist", "place", "item",
    ]  # fmt: skip


def test_history_cut_to_budget() -> None:
    lines = ["one two three", "four five six", "seven eight nine", "ten"]
    # each line costs estimate_tokens("- " + line + "\n"): 6, 6, 6, 3
    assert cut_history(lines, 12) == ["one two three", "four five six"]
    assert cut_history(lines, 11) == ["one two three"]
    assert cut_history(lines, 100) == lines
    assert cut_history([], 10) == []


def test_history_keeps_a_cut_first_line_when_nothing_fits() -> None:
    long_line = " ".join(f"w{i}" for i in range(100))
    assert cut_history([long_line], 8) == ["w0 w1 w2 w3 w4 w5..."]


def test_history_block_says_how_much_is_shown() -> None:
    lines = ["one two three", "four five six", "seven eight nine"]
    assert history_block(lines, 12, "movie") == (
        "User history (2 of 3 movies the user liked):\n- one two three\n- four five six\n"
    )
    assert history_block(lines, 100, "movie").startswith("User history (all 3 movies")


def test_edges_prompt_numbers_the_candidates() -> None:
    prompt = edges_prompt(["Heat (1995)"], ["Up (2009)", "Alien (1979)"], "movie", 100)
    assert "- Heat (1995)\n" in prompt
    assert "Candidates:\n[1] Up (2009)\n[2] Alien (1979)\n" in prompt
    assert "(1 to 2)" in prompt and prompt.endswith("Output only the two numbers.")


def test_attributes_and_profile_prompts() -> None:
    prompt = attributes_prompt("Heat (1995), Action", ["country", "language"], "movie")
    assert 'exactly these keys: "country", "language"' in prompt and "Movie: Heat (1995), Action" in prompt
    prompt = profiles_prompt(["Heat (1995)"], {"age": "24", "gender": "M", "zip": ""}, "movie", 100)
    assert "Known about the user: age: 24; gender: M\n" in prompt and '"summary"' in prompt
    assert "nothing beyond the history" in profiles_prompt(["x"], {}, "movie", 100)
