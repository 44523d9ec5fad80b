"""The LLM reranker end to end against a scripted loopback server: each answer, repair, salvage and
fallback is known in advance, and a rerun is answered from the cache."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from llmrec.data.interactions import Interactions
from llmrec.llm import LLMConfig, StageStats, open_llm
from llmrec.llm.testing import FakeOpenAIServer, http_error
from llmrec.rerank import Llama4RecConfig, conventional_top, rerank_users

from .conftest import toy_score, toy_texts

# user -> (first answer, answer to the repair re-ask); candidates A, B, C, D = conventional 0, 1, 2, 3
ANSWERS = {
    0: ("D > C > B > A",),  # valid
    1: ('```json\n["B", "A", "D", "C"]\n```',),  # valid, fenced JSON
    2: ("C > A", "C > A > B > D"),  # partial, repaired
    3: ("E > A > B > C", "E > B"),  # outside twice: B salvaged, then A, C, D in conventional order
    4: ("I would pick the second one.", "Je choisirais le deuxième."),  # prose twice: fallback
    5: ("我推荐 B", "B > A > C > D"),  # another language, repaired
    6: ("A > A > B > C > D", "A > A > B > C > D"),  # repeated twice: salvaged as A, B, C, D
    7: ("", ""),  # empty twice: fallback
}
EXPECTED = [[3, 2, 1, 0], [1, 0, 3, 2], [2, 0, 1, 3], [1, 0, 2, 3], [0, 1, 2, 3], [1, 0, 2, 3],
            [0, 1, 2, 3], [0, 1, 2, 3]]  # fmt: skip


def answer(messages: list[dict[str, str]]) -> str:
    user = int(re.search(r"^- Film (\d+)", messages[1]["content"], re.MULTILINE).group(1)) - 4  # type: ignore[union-attr]
    answers = ANSWERS[user]
    return answers[min(len(messages) // 2 - 1, len(answers) - 1)]  # 2 messages: first ask, 4: repair


@pytest.fixture
def server():
    with FakeOpenAIServer(answer=answer, models={"chat-m"}) as fake:
        yield fake


def _llm(server: FakeOpenAIServer, tmp_path: Path, stats: StageStats):
    cfg = LLMConfig(
        base_url=server.url, model="chat-m", cache_path=str(tmp_path / "llm.sqlite"),
        backoff_base_s=0.01, backoff_max_s=0.02, max_retries=1,
    )  # fmt: skip
    return open_llm(cfg, {}, stats)


def test_every_outcome_is_counted_and_a_rerun_sends_nothing(
    server: FakeOpenAIServer, tmp_path: Path, train: Interactions, base_top: np.ndarray, cfg: Llama4RecConfig
) -> None:
    emb = np.eye(8, dtype=np.float32)
    stats = StageStats("rerank")
    result = rerank_users(train, base_top, emb, cfg, toy_texts(), _llm(server, tmp_path, stats), stats=stats)
    assert result.order.tolist() == EXPECTED
    assert result.candidates.tolist() == [[0, 1, 2, 3]] * 8
    assert result.reranked.all() and result.teacher == {"kind": "llm", "backend": "openai", "model": "chat-m"}
    audit = result.audit
    assert audit["outcomes"] == {"valid": 2, "repaired": 2, "salvaged": 2, "fallback": 2, "failed": 0}
    assert audit["rejected_first_answers"] == {
        "empty": 1, "language": 1, "outside": 1, "partial": 1, "prose": 1, "repeated": 1,
    }  # fmt: skip
    assert audit["rejected_after_repair"] == {"empty": 1, "outside": 1, "prose": 1, "repeated": 1}
    assert audit["repairs_asked"] == 6 and audit["parse_failure_rate"] == pytest.approx(6 / 8)
    assert server.requests == 8 + 6
    assert (stats.repairs, stats.invalid) == (6, 4)

    again = rerank_users(train, base_top, emb, cfg, toy_texts(), _llm(server, tmp_path, StageStats("r")))
    assert server.requests == 14  # every answer, repairs included, came from the cache
    assert again.order.tolist() == EXPECTED


def test_failed_requests_keep_the_conventional_order(
    server: FakeOpenAIServer, tmp_path: Path, train: Interactions, base_top: np.ndarray, cfg: Llama4RecConfig
) -> None:
    server.fail_always(http_error(400, message="prompt rejected"))
    result = rerank_users(
        train,
        base_top,
        np.eye(8, dtype=np.float32),
        cfg,
        toy_texts(),
        _llm(server, tmp_path, StageStats("r")),
    )
    assert result.order.tolist() == [[0, 1, 2, 3]] * 8
    assert result.audit["outcomes"]["failed"] == 8 and result.audit["repairs_asked"] == 0


def test_users_without_history_or_candidates_are_not_asked(
    server: FakeOpenAIServer, tmp_path: Path, cfg: Llama4RecConfig
) -> None:
    # u0 (like the toy's u0) is asked; u1 has no history; u2 has seen all but one item
    users, items = [0, *[2] * 11], [4, *range(11)]
    train = Interactions.from_pairs(
        np.array(users), np.array(items), np.array(["u0", "u1", "u2"]), np.arange(12).astype(str)
    )
    base_top = conventional_top(toy_score(), train.user_items, 6)
    result = rerank_users(
        train,
        base_top,
        np.eye(3, dtype=np.float32),
        cfg,
        toy_texts(),
        _llm(server, tmp_path, StageStats("r")),
    )
    assert result.reranked.tolist() == [True, False, False]
    assert result.audit["no_history"] == 1 and result.audit["too_few_candidates"] == 1
    assert result.audit["short_candidates"] == 1 and result.audit["prompts"] == 1
    assert result.order.tolist() == [[3, 2, 1, 0], [0, 1, 2, 3], [0, -1, -1, -1]]
    assert server.requests == 1
