"""The listwise prompt: every part of Figure 2, ids that map back to the right candidates."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from llmrec.data.interactions import Interactions
from llmrec.rerank import Llama4RecConfig, item_texts
from llmrec.rerank.listwise import similar_history, user_prompt
from llmrec.rerank.prompts import display_order, listwise_prompt, pair_prompt, short_ids

from .conftest import toy_texts


def test_short_ids() -> None:
    ids = short_ids(30)
    assert ids[:3] == ["A", "B", "C"] and ids[25:] == ["Z", "AA", "AB", "AC", "AD"]
    assert len(set(short_ids(702))) == 702 and short_ids(703)[-1] == "AAA"


def test_prompt_has_every_section_in_order() -> None:
    text = listwise_prompt(
        ["Heat (1995)"], 3, ["Casino (1995)"], 1, ["Fargo (1996), Crime", "Babe (1995), Family"],
        ["A", "B"], ["B", "A"], "movie",
    )  # fmt: skip
    sections = [
        "Rank the candidate movies below",
        "The user's history (1 of the 3 movies they liked):\n- Heat (1995)\n",
        "Candidates:\n[A] Fargo (1996), Crime\n[B] Babe (1995), Family\n",
        "The history of the most similar user (all 1 movies that user liked and this user has not seen):",
        "A conventional recommender ranks the candidates: B > A\n",
        "Answer with the ids of all 2 candidates, each exactly once",
    ]
    positions = [text.index(s) for s in sections]
    assert positions == sorted(positions)


def test_no_similar_user_leaves_its_section_out() -> None:
    text = listwise_prompt(["Heat (1995)"], 1, [], 0, ["Fargo", "Babe"], ["A", "B"], ["A", "B"], "movie")
    assert "similar user" not in text


def test_shuffled_ids_map_to_the_right_candidates() -> None:
    train = Interactions.from_pairs(
        np.array([0, 0, 1, 1, 1]),
        np.array([6, 7, 7, 8, 9]),
        np.array(["u0", "u1"]),
        np.arange(12).astype(str),
    )
    cfg = Llama4RecConfig(n_candidates=4, seed=7)
    prompt = user_prompt(train.user_items, 0, np.array([3, 1, 0, 2]), 1, toy_texts(), cfg)
    listed = dict(re.findall(r"^\[([A-D])\] Film (\d+)", prompt.text, flags=re.MULTILINE))
    # positions[j] is the conventional rank of the candidate listed as ids[j]
    for j, position in enumerate(prompt.positions):
        assert int(listed[prompt.ids[j]]) == [3, 1, 0, 2][position]
    ranking = re.search(r"ranks the candidates: (.*)\n", prompt.text).group(1).split(" > ")  # type: ignore[union-attr]
    assert [int(listed[i]) for i in ranking] == [3, 1, 0, 2]  # the conventional order, in ids
    assert prompt.positions.tolist() == display_order(4, 7, 0, True).tolist() != [0, 1, 2, 3]
    # the similar user u1 liked 7, 8, 9; 7 is shared with u0, so 8 and 9 are shown
    assert "(all 2 movies that user liked and this user has not seen)" in prompt.text
    assert "- Film 7 (1997)" in prompt.text.split("Candidates:")[0]  # u0's own history


def test_similar_history_falls_back_to_shared_items() -> None:
    train = Interactions.from_pairs(
        np.array([0, 0, 1]), np.array([1, 2, 1]), np.array(["u0", "u1"]), np.arange(3).astype(str)
    ).user_items
    assert similar_history(train, 1, 0, True).tolist() == [2]
    assert similar_history(train, 0, 1, True).tolist() == [1]  # nothing new: the shared item
    assert similar_history(train, 0, 1, False).tolist() == [1]
    assert similar_history(train, 0, -1, True).tolist() == []


def test_pair_prompt() -> None:
    text = pair_prompt(["Heat (1995)"], 1, "Fargo (1996)", "Babe (1995)", "movie")
    assert "[A] Fargo (1996)\n[B] Babe (1995)" in text and "all 1 movies they liked" in text


def test_item_texts_from_metadata_rows() -> None:
    rows = pd.DataFrame(
        {
            "title": ["Heat", "", "Casino (1995)"],
            "year": [1995, None, 1995.0],
            "genres": ["Action|Crime", "Drama", None],
            "director": ["Michael Mann", pd.NA, "Martin Scorsese and a very long list of names here"],
        }
    ).to_dict("records")
    texts = item_texts(rows, ["i0", "i1", "i2"], field_words=3)
    assert texts.short == ["Heat (1995)", "untitled item i1", "Casino (1995)"]
    assert texts.full == [
        "Heat (1995), Action|Crime; director: Michael Mann",
        "untitled item i1, Drama",
        "Casino (1995), director: Martin Scorsese and...",
    ]
