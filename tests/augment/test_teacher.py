"""The local teacher on hand-built cases whose nearest, farthest and profile are known."""

from __future__ import annotations

from collections import Counter

import numpy as np
import scipy.sparse as sp

from llmrec.augment.candidates import NO_ITEM
from llmrec.augment.teacher import (
    LOCAL_TEACHER,
    catalogue_genres,
    dataset_attributes,
    local_profile,
    nearest_farthest,
)

# Unit vectors at angles 0, 10, 180, 90, 45 degrees (items 0..4); item 5 has no text (zeros).
ANGLES = np.radians([0, 10, 180, 90, 45])
VECS = np.vstack([np.c_[np.cos(ANGLES), np.sin(ANGLES)], [[0.0, 0.0]]]).astype(np.float32)


def _train(rows: list[list[int]]) -> sp.csr_matrix:
    users = [u for u, items in enumerate(rows) for _ in items]
    items = [i for r in rows for i in r]
    return sp.csr_matrix((np.ones(len(users), np.float32), (users, items)), shape=(len(rows), len(VECS)))


def test_nearest_and_farthest_to_the_history() -> None:
    train = _train([[0], [3], [0, 3], [], [0]])
    candidates = np.array(
        [
            [1, 2, 3, 4],  # history at 0 deg: nearest 1 (10 deg), farthest 2 (180 deg)
            [1, 2, 4, NO_ITEM],  # history at 90 deg: nearest 4 (45), farthest 2 (180 is 90 away, 1 is 80)
            [1, 2, 4, NO_ITEM],  # history mean at 45 deg: nearest 4, farthest 2 (135 away)
            [1, 2, 4, NO_ITEM],  # no history
            [1, NO_ITEM, NO_ITEM, NO_ITEM],  # one candidate only
        ]
    )
    pos, neg = nearest_farthest(VECS, train, candidates)
    assert pos.tolist() == [1, 4, 4, NO_ITEM, NO_ITEM]
    assert neg.tolist() == [2, 2, 2, NO_ITEM, NO_ITEM]


def test_picks_differ_even_when_all_candidates_tie() -> None:
    same = np.tile(np.array([[1.0, 0.0]], np.float32), (len(VECS), 1))  # every item the same text
    pos, neg = nearest_farthest(same, _train([[0]]), np.array([[1, 2, 3]]))
    assert (pos[0], neg[0]) == (1, 2)  # the first best, then the first of the rest


def test_batches_agree() -> None:
    train = _train([[0], [3], [0, 3]])
    candidates = np.array([[1, 2, 4], [1, 2, 4], [2, 4, 1]])
    whole = nearest_farthest(VECS, train, candidates, batch_size=10)
    single = nearest_farthest(VECS, train, candidates, batch_size=1)
    assert [a.tolist() for a in whole] == [a.tolist() for a in single]


def test_attributes_come_from_the_metadata() -> None:
    items = [{"director": "john  carpenter", "country": "USA"}, {"title": "x"}]
    assert dataset_attributes(items, ["director", "country", "language"]) == {
        "director": ["John Carpenter", None],
        "country": ["United States", None],
        "language": [None, None],
    }


def test_profile_from_history_statistics() -> None:
    catalogue_items = (
        [{"genres": "Drama"}] * 40 + [{"genres": "Comedy"}] * 30 + [{"genres": "Horror"}] * 20
        + [{"genres": "Western"}] * 10
    )  # fmt: skip
    catalogue = catalogue_genres(catalogue_items)
    assert catalogue == Counter({"Drama": 40, "Comedy": 30, "Horror": 20, "Western": 10})
    history = [
        {"genres": "Drama|Comedy", "director": "Ang Lee", "year": "1995", "country": "Taiwan"},
        {"genres": "Drama", "director": "Ang Lee", "year": "1997"},
        {"genres": "Comedy", "director": "Woody Allen", "year": "1986"},
        {"genres": "Western", "year": "1992"},
    ]
    profile = local_profile(
        history, {"age": "24", "gender": "M", "occupation": "technician"}, catalogue, "movie"
    )
    assert profile == {
        "age": 24,
        "gender": "male",
        "liked_genres": ["Comedy", "Drama", "Western"],  # 2, 2, 1 items; ties by name
        "disliked_genres": ["Horror"],  # Horror is 20% of the catalogue and absent here
        "liked_directors": ["Ang Lee"],  # Woody Allen appears only once
        "country": "Taiwan",
        "language": None,
        "summary": (
            "A user (aged 24, male, technician). Liked 4 movies, mostly Comedy, Drama, Western, typically "
            "from the 1990s. Rarely chooses Horror. Returns to movies by Ang Lee."
        ),
    }


def test_teacher_is_labelled() -> None:
    assert LOCAL_TEACHER["kind"] == "local" and LOCAL_TEACHER["note"].startswith("no LLM was used")
