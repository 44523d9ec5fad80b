"""The pointwise question mode: scores from logprobs or text, picks, the stage against a loopback server."""

from __future__ import annotations

import logging
import math
import re
from pathlib import Path

import numpy as np
import pytest

from llmrec.augment.artefacts import read_edges
from llmrec.augment.config import AugmentConfig
from llmrec.augment.pointwise import pick_pair, yes_score
from llmrec.inference import augment_run
from llmrec.llm import ChatResponse, LLMConfig
from llmrec.llm.testing import FakeOpenAIServer
from llmrec.llm.wire import first_token_logprobs


def test_yes_score_from_logprobs_then_text() -> None:
    lp = ((" Yes", math.log(0.6)), ("No", math.log(0.2)), ("Maybe", math.log(0.2)))
    score, how = yes_score(ChatResponse("Yes", first_token_logprobs=lp))
    assert how == "logprobs" and score == pytest.approx(0.75)  # 0.6 / (0.6 + 0.2)
    assert yes_score(ChatResponse("No.")) == (0.0, "text")  # a server without logprobs
    assert yes_score(ChatResponse("**Yes**, surely")) == (1.0, "text")
    assert yes_score(ChatResponse("Perhaps", first_token_logprobs=(("Perhaps", 0.0),)))[1] == "unparsable"
    assert yes_score(ChatResponse("是的，用户会喜欢"))[1] == "language"


def test_first_token_logprobs_reads_the_openai_shape() -> None:
    top = [{"token": "No", "logprob": -2.0}, {"token": "Yes", "logprob": -0.1}]
    choice = {"logprobs": {"content": [{"token": "Yes", "logprob": -0.1, "top_logprobs": top}]}}
    assert first_token_logprobs(choice) == (("Yes", -0.1), ("No", -2.0))
    assert first_token_logprobs({"logprobs": {"content": [{"token": "Yes", "logprob": -0.5}]}}) == (
        ("Yes", -0.5),
    )
    assert first_token_logprobs({"logprobs": None}) == () and first_token_logprobs({}) == ()


def test_pick_pair_highest_and_lowest_scored() -> None:
    assert pick_pair(np.array([0.2, np.nan, 0.9, 0.1])) == (2, 3)
    assert pick_pair(np.array([0.5, 0.5, 0.5])) == (0, 1)  # ties: the earlier, and never the same
    assert pick_pair(np.array([np.nan, 0.4])) is None


def _p_yes(messages: list[dict[str, str]]) -> float:
    found = re.search(r"Candidate movie: Film (\d+)", messages[1]["content"])
    return 0.5 if found is None else 0.1 + 0.05 * int(found.group(1))  # later films are liked more


def _logprobs(messages: list[dict[str, str]]) -> list[tuple[str, float]]:
    p = _p_yes(messages)
    return sorted([("Yes", math.log(p)), ("No", math.log(1 - p))], key=lambda t: -t[1])


def _configs(url: str, tmp_path: Path) -> tuple[AugmentConfig, LLMConfig]:
    aug = AugmentConfig(
        teacher="llm", edge_mode="pointwise", n_candidates=4, encoder="llm", item_attributes=False,
        profiles=False, vector_cache=str(tmp_path / "v.sqlite"),
    )  # fmt: skip
    llm = LLMConfig(base_url=url, model="m", embedding_model="e", cache_path=str(tmp_path / "llm.sqlite"))
    return aug, llm


def test_pointwise_stage_picks_by_p_yes_and_reruns_from_the_cache(toy_run: Path, tmp_path: Path) -> None:
    answer = lambda m: "Yes" if _p_yes(m) >= 0.5 else "No"  # noqa: E731
    with FakeOpenAIServer(answer=answer, logprobs=_logprobs) as server:
        aug, llm = _configs(server.url, tmp_path)
        audit = augment_run(toy_run, aug, llm, env={}, show_progress=False)
        chats = [b for b in server.bodies if "messages" in b]
        assert chats and all(b["logprobs"] is True and b["top_logprobs"] == 5 for b in chats)
        edges = audit["edges"]
        # u0..u5: 4 candidates each, u7: 3 -> 27 questions, every one scored by logprobs
        assert (edges["questions"], edges["scored_by_logprobs"], edges["usable"]) == (27, 27, 7)
        saved = read_edges(toy_run / "augment")
        assert "no LLM" not in str(saved["teacher"])
        rows = zip(saved["user"], saved["pos"], saved["neg"], strict=True)
        triples = {int(u): (int(p), int(n)) for u, p, n in rows}
        assert triples[0] == (3, 0)  # candidates 0, 1, 2, 3: p(yes) rises with the number
        assert triples[4] == (4, 0)  # candidates 4, 0, 1, 2
        assert triples[7] == (10, 11)  # Film 9 0.55, Film 10 0.6; i11 (no title) 0.5, the lowest
        server.reset_counts()
        (toy_run / "augment" / "manifest.json").unlink()  # force a rebuild: every answer from the cache
        again = augment_run(toy_run, aug, llm, env={}, show_progress=False)
        assert again["edges"]["usable"] == 7
        assert not [b for b in server.bodies if "messages" in b]  # nothing asked twice


def test_pointwise_without_logprobs_falls_back_to_the_text(
    toy_run: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    answer = lambda m: "Yes" if _p_yes(m) >= 0.3 else "Non"  # noqa: E731  # 'Non' is not an answer
    with FakeOpenAIServer(answer=answer) as server, caplog.at_level(logging.WARNING, "llmrec"):
        aug, llm = _configs(server.url, tmp_path)
        edges = augment_run(toy_run, aug, llm, env={}, show_progress=False)["edges"]
    assert edges["no_logprobs"] is True and edges["scored_by_logprobs"] == 0
    # films 4.. say Yes (p >= 0.3), the rest 'Non'; i11 (no title) p 0.5: Yes
    assert edges["scored_by_text"] + edges["unparsable"] == 27 and edges["unparsable"] > 0
    assert "returned no logprobs" in caplog.text


def _by_content(messages: list[dict[str, str]]) -> str:
    """A teacher that reads the list: likes the highest film number, dislikes the lowest (untitled: 99)."""
    shown = re.findall(r"^\[(\d+)\] (?:Film (\d+)|untitled item i(\d+))", messages[-1]["content"], re.M)
    number = {int(k): int(a or 99) for k, a, _ in shown}
    return f"{max(number, key=number.__getitem__)}::{min(number, key=number.__getitem__)}"


@pytest.mark.parametrize(("answer", "usable"), [(_by_content, 7), (lambda m: "1::2", 0)])
def test_two_listwise_orders_keep_only_agreeing_answers(
    toy_run: Path, tmp_path: Path, answer, usable
) -> None:
    from llmrec.augment.edges import reverse_rows, shuffle_rows

    rows = np.array([[3, 1, 2, -1], [5, 4, 6, 7]])
    shuffled = shuffle_rows(rows, 1)
    assert sorted(shuffled[0, :3].tolist()) == [1, 2, 3] and shuffled[0, 3] == -1
    assert reverse_rows(shuffled)[1].tolist() == shuffled[1][::-1].tolist()
    with FakeOpenAIServer(answer=answer) as server:
        aug, llm = _configs(server.url, tmp_path)
        aug = AugmentConfig(**{**aug.__dict__, "edge_mode": "listwise", "listwise_orders": 2})
        edges = augment_run(toy_run, aug, llm, env={}, show_progress=False)["edges"]
    # 7 users asked twice; a position-biased teacher ("1::2" whatever the order) never agrees with itself
    assert edges["prompts"] == 7 and edges["second_order"]["prompts"] == 7
    assert (edges["usable_first_order"], edges["usable"]) == (7, usable)
