"""The parsers: every tolerated format with its exact result, and the rejections with their kinds."""

from __future__ import annotations

import pytest

from llmrec.augment.parsers import (
    ParseError,
    canonical_country,
    canonical_language,
    normalise_value,
    parse_attributes,
    parse_pair,
    parse_profile,
    rejection_kind,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("3::7", (3, 7)),
        ("3 :: 7", (3, 7)),
        ("3:7", (3, 7)),
        ("3 7", (3, 7)),
        ("3,7", (3, 7)),
        ("3, 7", (3, 7)),
        ("3; 7", (3, 7)),
        ("3/7", (3, 7)),
        ("[3] and [7]", (3, 7)),
        ("[3] [7]", (3, 7)),
        ("[3, 7]", (3, 7)),
        ("  7::3  \n", (7, 3)),
        ("10::1", (10, 1)),
        ("3::7.", (3, 7)),
        ("Answer: 3::7", (3, 7)),
        ("`3::7`", (3, 7)),
        ("liked: 3, disliked: 7", (3, 7)),
        ("Liked [3]\nDisliked [7]", (3, 7)),
        ('{"liked": 3, "disliked": 7}', (3, 7)),
        ('{"disliked": 7, "liked": 3}', (3, 7)),
        ('{"Liked": "3", "Disliked": "7"}', (3, 7)),
        ('{"positive": 3, "negative": 7}', (3, 7)),
        ("[3, 7]", (3, 7)),
        ('["3", "7"]', (3, 7)),
        ('```json\n{"liked": 3, "disliked": 7}\n```', (3, 7)),
        ("```\n3::7\n```", (3, 7)),
        ("**3::7**", (3, 7)),
        ("3::7 because the user likes action", (3, 7)),  # one pair inside a sentence (issue 26)
        ("Based on the history, the answer is 4::1.", (4, 1)),
    ],
)
def test_pair_formats_tolerated(text: str, expected: tuple[int, int]) -> None:
    assert parse_pair(text, 10) == expected


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("", "format"),
        ("3", "format"),
        ("37", "format"),
        ("3 7 9", "format"),
        ("3::7::9", "format"),
        ("1::2, or maybe 3::4", "format"),  # two different pairs: which one?
        ("I think the user would like Heat.", "format"),
        ("3.5::7", "format"),
        ("-3::7", "format"),
        ("three::seven", "format"),
        ("Le premier et le dernier", "format"),
        ("用户会喜欢第三部电影，不喜欢第七部", "language"),
        ("Пользователю понравится фильм три", "language"),
        ('{"liked": 3}', "format"),
        ('{"liked": 3, "disliked": 7, "reason": "x"}', "format"),
        ('{"liked": 3, "disliked": ', "format"),
        ("[3, 7, 9]", "format"),
        ('{"liked": true, "disliked": 7}', "type"),
        ('{"liked": 3.0, "disliked": 7}', "type"),
        ("0::4", "out_of_range"),
        ("3::11", "out_of_range"),
        ("[11] and [2]", "out_of_range"),
        ("4::4", "same_item"),
        ('{"liked": 5, "disliked": "5"}', "same_item"),
    ],
)
def test_pair_rejections(text: str, kind: str) -> None:
    with pytest.raises(ParseError) as caught:
        parse_pair(text, 10)
    assert caught.value.kind == kind and rejection_kind(caught.value) == kind
    assert isinstance(caught.value, ValueError) and str(caught.value)  # the repair quotes the reason


def test_pair_range_depends_on_the_list_length() -> None:
    assert parse_pair("3::1", 3) == (3, 1)
    with pytest.raises(ParseError, match="numbers 1 to 3"):
        parse_pair("4::1", 3)


def test_plain_value_error_counts_as_format() -> None:
    assert rejection_kind(ValueError("x")) == "format"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("USA", "United States"),
        ("U.S.A.", "United States"),
        ("united states of america", "United States"),
        ("United States", "United States"),
        (" US ", "United States"),
        ("UK", "United Kingdom"),
        ("England", "United Kingdom"),
        ("West Germany", "Germany"),
        ("france", "France"),
        ("FRANCE", "France"),
        ("New Zealand", "New Zealand"),
        ("USA, UK", "United States, United Kingdom"),
        ("USA / United States", "United States"),
        ("unknown", None),
        ("N/A", None),
        ("", None),
    ],
)
def test_country_normalisation(raw: str, expected: str | None) -> None:
    assert canonical_country(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("en", "English"),
        ("English", "English"),
        ("english language", "English"),
        ("English Language", "English"),
        ("Français", "French"),
        ("Mandarin Chinese", "Mandarin"),
        ("English, French", "English, French"),
        ("none", None),
    ],
)
def test_language_normalisation(raw: str, expected: str | None) -> None:
    assert canonical_language(raw) == expected


def test_other_values_only_cleaned() -> None:
    assert normalise_value("director", "  john   lasseter ", "director") == "John Lasseter"
    assert normalise_value("director", "Martin McDonagh", "director") == "Martin McDonagh"
    assert (
        normalise_value("director", ["Joel Coen", "Ethan Coen", "Joel Coen"], "director")
        == "Joel Coen, Ethan Coen"
    )
    assert normalise_value("director", None, "director") is None
    assert normalise_value("director", "Unknown director", "director") is None
    with pytest.raises(ParseError) as caught:
        normalise_value("director", 42, "director")
    assert caught.value.kind == "type"


def test_attributes_parsed_from_json() -> None:
    text = 'Here you go:\n```json\n{"Country": "USA", "language": ["en", "French"], "title": "Heat"}\n```'
    assert parse_attributes(text, ["country", "language"]) == {
        "country": "United States",
        "language": "English, French",
    }
    assert parse_attributes('{"country": null, "language": "unknown"}', ["country", "language"]) == {
        "country": None,
        "language": None,
    }


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ('{"country": "USA"}', "format"),  # a key missing
        ("USA, English", "format"),
        ('{"country": "USA", "language": ', "format"),
        ('["USA", "English"]', "format"),
        ('{"country": {"name": "USA"}, "language": "en"}', "type"),
        ('{"country": true, "language": "en"}', "type"),
        ("美国，英语", "language"),
    ],
)
def test_attributes_rejected(text: str, kind: str) -> None:
    with pytest.raises(ParseError) as caught:
        parse_attributes(text, ["country", "language"])
    assert caught.value.kind == kind


FULL = (
    '{"age": 34, "gender": "Female", "liked_genres": ["drama", "Comedy", "drama"], '
    '"disliked_genres": "Horror, War", "liked_directors": ["Nora Ephron"], "country": "USA", '
    '"language": "en", "summary": " Likes  warm comedies. "}'
)


def test_profile_parsed_and_cleaned() -> None:
    assert parse_profile(FULL) == {
        "age": 34,
        "gender": "female",
        "liked_genres": ["Drama", "Comedy"],
        "disliked_genres": ["Horror", "War"],
        "liked_directors": ["Nora Ephron"],
        "country": "United States",
        "language": "English",
        "summary": "Likes warm comedies.",
    }


def test_profile_in_llmrec_spelling() -> None:
    text = (
        "{'age': '25-34', 'gender': 'M', 'liked genre': 'Action, Sci-Fi', 'disliked genre': 'Romance', "
        "'liked directors': 'James Cameron', 'country': 'U.S.', 'language': 'English language'}"
    )
    assert parse_profile(text, require_summary=False) == {
        "age": 29,
        "gender": "male",
        "liked_genres": ["Action", "Sci-Fi"],
        "disliked_genres": ["Romance"],
        "liked_directors": ["James Cameron"],
        "country": "United States",
        "language": "English",
        "summary": "",
    }


@pytest.mark.parametrize(
    ("change", "kind"),
    [
        ({"summary": None}, "format"),
        ({"summary": ""}, "format"),
        ({"summary": 3}, "type"),
        ({"age": "very old"}, "type"),
        ({"age": 250}, "type"),
        ({"age": True}, "type"),
        ({"gender": 1}, "type"),
        ({"liked_genres": [1, 2]}, "type"),
    ],
)
def test_profile_rejected(change: dict, kind: str) -> None:
    import json

    data = {**json.loads(FULL), **change}
    with pytest.raises(ParseError) as caught:
        parse_profile(json.dumps(data))
    assert caught.value.kind == kind


def test_profile_missing_key_and_not_json() -> None:
    with pytest.raises(ParseError, match="missing key"):
        parse_profile('{"age": 30, "summary": "x"}')
    with pytest.raises(ParseError, match="JSON object"):
        parse_profile("The user likes comedies.")
    with pytest.raises(ParseError, match="characters long"):
        parse_profile("{" + "x" * 30_000 + "}")


def test_profile_unknowns_become_missing() -> None:
    text = (
        '{"age": "unknown", "gender": "N/A", "liked_genres": [], "disliked_genres": null, '
        '"liked_directors": "unknown", "country": "", "language": null, "summary": "Too little to say."}'
    )
    assert parse_profile(text) == {
        "age": None,
        "gender": None,
        "liked_genres": [],
        "disliked_genres": [],
        "liked_directors": [],
        "country": None,
        "language": None,
        "summary": "Too little to say.",
    }


ATTRS = ["director", "country", "language"]


@pytest.mark.parametrize(
    ("text", "keys", "expected"),
    [
        # LLMRec's own attribute format, director::country::language (issue 26)
        ("Christopher Nolan::United Kingdom::English", ATTRS,
         ("Christopher Nolan", "United Kingdom", "English")),
        ("Steven Spielberg::USA::en\n", ATTRS, ("Steven Spielberg", "United States", "English")),
        ("```\nJohn Woo::Hong Kong::Cantonese\n```", ATTRS, ("John Woo", "Hong Kong", "Cantonese")),
        ("Answer: unknown::France::French", ATTRS, (None, "France", "French")),
        ("director: Ang Lee::country: Taiwan::language: Mandarin", ATTRS, ("Ang Lee", "Taiwan", "Mandarin")),
        # three parts in LLMRec's order although only two keys were asked: the two are taken
        ("Steven Spielberg::USA::English", ["country", "language"], ("United States", "English")),
        ("USA::English", ["country", "language"], ("United States", "English")),
        # key: value lines, markdown bullets
        ("- **Director:** Ridley Scott\n- **Country:** USA\n- **Language:** English", ATTRS,
         ("Ridley Scott", "United States", "English")),
        ("Director: Jane Campion\nCountry: New Zealand\nLanguage: English", ATTRS,
         ("Jane Campion", "New Zealand", "English")),
        # JSON key variants
        ('{"Directors": ["Joel Coen", "Ethan Coen"], "country of origin": "USA", "original language": "en"}',
         ATTRS, ("Joel Coen, Ethan Coen", "United States", "English")),
    ],
)  # fmt: skip
def test_attribute_forms_real_models_write(text: str, keys: list[str], expected: tuple) -> None:
    assert parse_attributes(text, keys) == dict(zip(keys, expected, strict=True))


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("Christopher Nolan::United Kingdom", "format"),  # two parts for three keys
        ("a::b::c::d", "format"),
        ("director: Nolan\ncountry: UK", "format"),  # language missing
        ("克里斯托弗·诺兰::英国::英语", "language"),
    ],
)
def test_attribute_forms_still_strict(text: str, kind: str) -> None:
    with pytest.raises(ParseError) as caught:
        parse_attributes(text, ATTRS)
    assert caught.value.kind in (kind, "format") and (kind != "language" or caught.value.kind == "language")


LLMREC_PROFILE = {
    "age": 25, "gender": "male", "liked_genres": ["Drama", "Comedy"], "disliked_genres": ["Horror"],
    "liked_directors": [], "country": "United States", "language": "English", "summary": "",
}  # fmt: skip


@pytest.mark.parametrize(
    "text",
    [
        # LLMRec's prompt asks for '{age: , gender: , liked genre: , ...}' without quotes (issue 26)
        "{age: 25, gender: male, liked genre: Drama, Comedy, disliked genre: Horror, "
        "liked directors: unknown, country: USA, language: English}",
        '{"age": 25, "gender": "male", "liked genre": "Drama, Comedy", "disliked genre": "Horror", '
        '"liked directors": "unknown", "country": "USA", "language": "English"}',
        "Age: 25\nGender: Male\nLiked genres: Drama, Comedy\nDisliked genres: Horror\nLiked directors: none\n"
        "Country: USA\nLanguage: English",
        "Here is the profile:\n```\n- **age**: 25\n- **gender**: male\n- **favorite genres**: Drama, Comedy\n"
        "- **disliked genre**: Horror\n- **liked directors**: N/A\n- **country**: US\n"
        "- **language**: en\n```",
    ],
)
def test_profile_forms_real_models_write(text: str) -> None:
    assert parse_profile(text, require_summary=False) == LLMREC_PROFILE


def test_profile_loose_form_needs_the_keys() -> None:
    with pytest.raises(ParseError, match="missing key"):
        parse_profile("{age: 25, gender: male, country: USA}", require_summary=False)
    with pytest.raises(ParseError, match="JSON object"):
        parse_profile("The user is age: 25.", require_summary=False)  # one label is not a profile
