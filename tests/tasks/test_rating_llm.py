"""Llama4Rec's rating half: the parser, the prompt, the LLM rater against a scripted loopback server
(every outcome known in advance), the no-LLM rater and the alpha choice, by hand."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from llmrec.augment.parsers import ParseError
from llmrec.llm import LLMConfig, StageStats, open_llm
from llmrec.llm.testing import FakeOpenAIServer
from llmrec.rerank.aggregate import adaptive_alpha
from llmrec.tasks.rating_data import Ratings
from llmrec.tasks.rating_llm import (
    aggregate_ratings,
    choose_alpha,
    item_vectors,
    llm_ratings,
    local_ratings,
    parse_rating,
    rating_prompt,
)

SCALE = (1.0, 5.0)


@pytest.mark.parametrize(
    ("text", "value"),
    [("4", 4.0), (" 3.5\n", 3.5), ("Rating: 4/5", 4.0), ("I'd say 2 out of 5.", 2.0), ("5 (five)", 5.0)],
)
def test_a_rating_is_one_number_on_the_scale(text: str, value: float) -> None:
    assert parse_rating(text, SCALE) == value


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("great movie", "not_a_number"),
        ("", "not_a_number"),
        ("3 or 4", "ambiguous"),
        ("7", "off_scale"),
        ("0", "off_scale"),
        ("-2", "off_scale"),
    ],
)
def test_anything_else_is_rejected_by_kind(text: str, kind: str) -> None:
    with pytest.raises(ParseError) as info:
        parse_rating(text, SCALE)
    assert info.value.kind == kind


def test_the_prompt_shows_history_item_and_the_model_prediction_when_asked() -> None:
    text = rating_prompt([("Heat (1995)", 5.0), ("Babe (1995)", 2.0)], 3, "Fargo (1996)", 3.84, SCALE)
    assert (
        "rated 3 movies on a scale from 1 to 5. Here are 2 of them:" in text
        and "- Heat (1995): 5\n- Babe (1995): 2\n" in text
    )
    assert "Movie to rate: Fargo (1996)" in text and "predicts 3.8 for this pair" in text
    assert "predicts" not in rating_prompt([("Heat", 4.0)], 1, "Fargo", None, SCALE)


# the pair being rated -> (first answer, answer to the repair re-ask)
ANSWERS = {
    "Film 0": ("4",),  # valid
    "Film 1": ("Maybe 3 or 4?", "3"),  # ambiguous, repaired
    "Film 2": ("9", "9"),  # off the scale twice: the model's prediction
    "Film 3": ("I loved it!", "Sorry, I cannot say."),  # not a number twice: the model's prediction
}


def answer(messages: list[dict[str, str]]) -> str:
    item = re.search(r"Movie to rate: (Film \d)", messages[1]["content"]).group(1)  # type: ignore[union-attr]
    answers = ANSWERS[item]
    return answers[min(len(messages) // 2 - 1, len(answers) - 1)]


def test_the_llm_rater_counts_every_outcome_falls_back_to_the_model_and_reruns_from_the_cache(
    tmp_path: Path,
) -> None:
    train = Ratings(np.array([0, 0, 1]), np.array([4, 5, 4]), np.array([5.0, 1.0, 3.0], dtype=np.float32))
    pairs = Ratings(np.arange(4) % 2, np.arange(4), np.array([4.0, 3.0, 2.0, 1.0], dtype=np.float32))
    base = np.array([3.1, 3.2, 3.3, 3.4])
    texts = [f"Film {i}" for i in range(6)]
    with FakeOpenAIServer(answer=answer, models={"m"}) as server:
        cfg = LLMConfig(
            base_url=server.url,
            model="m",
            cache_path=str(tmp_path / "c.sqlite"),
            max_retries=1,
            backoff_base_s=0.01,
            backoff_max_s=0.02,
        )
        stats = StageStats("rating")
        rated = llm_ratings(open_llm(cfg, {}, stats), pairs, base, train, texts, SCALE, stats=stats)
        assert rated.ratings.tolist() == [4.0, 3.0, 3.3, 3.4]
        assert rated.audit["rejected_first_answers"] == {"ambiguous": 1, "not_a_number": 1, "off_scale": 1}
        assert rated.audit["repaired"] == 1 and rated.audit["fell_back_to_model"] == 2
        assert server.requests == 4 + 3
        first = next(b["messages"][1]["content"] for b in server.bodies if "rate: Film 0" in str(b))
        assert "predicts 3.1" in first and "- Film 4: 5\n" in first and "- Film 5: 1\n" in first
        again = llm_ratings(open_llm(cfg, {}, StageStats("r")), pairs, base, train, texts, SCALE)
        assert server.requests == 7 and again.ratings.tolist() == rated.ratings.tolist()


def test_the_local_rater_is_a_similarity_weighted_mean_shrunk_to_the_model() -> None:
    # items 0, 1 share genre a; item 2 is genre b; the user rated 0 (5 stars) and 2 (1 star)
    vectors = item_vectors({"genre": [["a"], ["a"], ["b"]]}, 3)
    assert isinstance(vectors, sp.csr_matrix) or sp.issparse(vectors)
    train = Ratings(np.array([0, 0]), np.array([0, 2]), np.array([5.0, 1.0], dtype=np.float32))
    pairs = Ratings(np.array([0, 1]), np.array([1, 1]), np.array([4.0, 4.0], dtype=np.float32))
    got = local_ratings(pairs, np.array([3.0, 3.0]), train, vectors, neighbours=2, shrinkage=1.0)
    # user 0: similarity 1 to item 0 (rated 5), 0 to item 2: (1 * 5 + 1 * 3) / (1 + 1) = 4
    # user 1 rated nothing: the model's 3 stays
    assert got.ratings.tolist() == [4.0, 3.0] and got.audit["with_similar_items"] == 1


def test_aggregation_weighs_the_rater_by_the_long_tail_and_alpha_is_chosen_on_validation() -> None:
    n_train = np.array([1, 10, 100])
    users = np.array([0, 1, 2])
    model, rater = np.array([3.0, 3.0, 3.0]), np.array([5.0, 5.0, 5.0])
    alpha = adaptive_alpha(n_train, 0.5, 0.1)  # 0.5 for the least active user, 0.05 for the most
    got = aggregate_ratings(model, rater, users, n_train, 0.5, 0.1)
    assert (
        got == pytest.approx(3 + 2 * alpha) and got[0] == pytest.approx(4.0) and got[2] == pytest.approx(3.1)
    )
    valid = Ratings(users, users, np.array([5.0, 5.0, 5.0]))
    a1, a2, rmse = choose_alpha(model, rater, valid, n_train, (0.5, 1.0))
    assert (a1, a2, rmse) == (1.0, 1.0, 0.0)  # the rater is exact: all its weight, for everyone
    wrong = Ratings(users, users, np.array([3.0, 3.0, 3.0]))
    assert choose_alpha(model, rater, wrong, n_train, (0.5, 1.0)) == (0.0, 0.5, 0.0)  # the model alone
