"""Title normalisation: MovieLens' quirks and OMDb's spellings meet in the middle."""

from __future__ import annotations

import pytest

from llmrec.retrieval.text import (
    display_title,
    normalize,
    parse_year,
    split_year,
    title_parts,
    title_similarity,
    title_variants,
    tokenize,
)


def test_split_year_and_parse_year() -> None:
    assert split_year("Twelve Monkeys (1995)") == ("Twelve Monkeys", 1995)
    assert split_year("unknown") == ("unknown", None)
    assert [parse_year(v) for v in (1962.0, "1995-1998", "Episode aired Apr 3, 2014", "TV Movie")] == [
        1962, 1995, 2014, None,
    ]  # fmt: skip
    assert parse_year(float("nan")) is None


def test_movielens_title_quirks() -> None:
    assert title_parts("Shawshank Redemption, The (1994)") == ["The Shawshank Redemption"]
    assert title_parts("Flower of My Secret, The (Flor de mi secreto, La) (1995)") == [
        "The Flower of My Secret", "La Flor de mi secreto",
    ]  # fmt: skip
    assert title_parts("Twelve Monkeys (a.k.a. 12 Monkeys) (1995)") == ["Twelve Monkeys", "12 Monkeys"]
    assert title_parts("Homme, L' (1990)") == ["L'Homme"]
    assert title_parts("Paris, Texas (1984)") == ["Paris, Texas"]  # "Texas" is no article
    assert display_title("Postino, Il (1994)") == "Il Postino"


def test_normalize_accents_numbers_and_punctuation() -> None:
    assert normalize("Double vie de Véronique") == "double vie de veronique"
    assert normalize("Twelve Monkeys") == normalize("12 Monkeys") == "12 monkeys"
    assert normalize("Schindler's List") == "schindlers list"
    assert tokenize("Wallace & Gromit: A Close Shave") == ["wallace", "and", "gromit", "a", "close", "shave"]
    assert normalize("Rocky II") == "rocky 2"


def test_title_similarity() -> None:
    def sim(a: str, b: str) -> float:
        return title_similarity(title_variants(a), title_variants(b))

    assert sim("Shawshank Redemption, The (1994)", "The Shawshank Redemption") == 1.0
    assert sim("Seven (Se7en) (1995)", "Se7en") == 1.0
    # a short form (before ':') matches the other side's full title, with a little less weight
    assert sim("Star Wars (1977)", "Star Wars: Episode IV - A New Hope") == pytest.approx(0.92)
    assert sim("Air Bud", "Air Bud") > sim("Air Bud", "Air Bud: Golden Receiver")
    # two subtitles under one franchise name are not the same film
    assert sim("Star Trek: Deep Space Nine: Season 1", "Star Trek: Generations") < 0.7
    # a sequel number makes another film: "rocky 2" vs "rocky 3" is 6/7 alike in characters, halved
    assert sim("Rocky II", "Rocky III") == pytest.approx(0.5 * 12 / 14)
    assert sim("Heat", "") == 0.0
