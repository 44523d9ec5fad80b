"""The pointwise question mode: one yes/no question per candidate, scored by the probability of "yes".

Listwise prompts ("which of these 10 would the user like most?") let a small model answer by position
(issue 26: "1::10" for every user). A pointwise question has no positions: each candidate is asked
about alone, and its score is P(yes) / (P(yes) + P(no)) over the first answer token's alternatives,
which OpenAI, vLLM and llama.cpp return as `logprobs`. A server that returns none is scored by the
answer text (yes 1, no 0), and every answer says how it was scored. Liked = highest score,
disliked = lowest.
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from llmrec.augment.parsers import is_foreign
from llmrec.augment.prompts import SYSTEM, history_block
from llmrec.llm import Backend, ChatRequest, ChatResponse, RequestFailed, Sampling

log = logging.getLogger("llmrec")
POINTWISE_TEMPLATE = "edges-pointwise/v1"
ANSWER_TOKENS = 3  # "Yes", "Yes." or "No" fit; the score comes from the first token anyway
YES, NO = frozenset({"yes", "y"}), frozenset({"no", "n"})
HOW = ("logprobs", "text", "unparsable", "language", "failed")  # how each question was scored


def pointwise_prompt(history: Sequence[str], candidate: str, noun: str, budget: int) -> str:
    """One yes/no question: the user's history, then one candidate."""
    return (
        f"Recommend {noun}s to a user from their history. Each {noun} is described by its title, year, "
        "genres and what else is known about it.\n\n"
        f"{history_block(history, budget, noun)}\n"
        f"Candidate {noun}: {candidate}\n\n"
        f"Would the user like this {noun}? Answer with one word: yes or no."
    )


def pointwise_request(prompt: str, top_logprobs: int) -> ChatRequest:
    """The request of one question: greedy, a few tokens, with the first token's alternatives."""
    return ChatRequest.of(
        [{"role": "system", "content": SYSTEM}, {"role": "user", "content": prompt}],
        POINTWISE_TEMPLATE,
        Sampling(temperature=0.0, max_tokens=ANSWER_TOKENS, top_logprobs=top_logprobs),
    )


def yes_score(answer: ChatResponse) -> tuple[float, str]:
    """(P(yes), how): from the logprobs when they name yes or no, else from the first word of the text.

    NaN with 'unparsable' or 'language' when neither says yes or no.
    """
    p_yes = p_no = 0.0
    for token, logprob in answer.first_token_logprobs:
        word = token.strip().strip(".,!").lower()
        if word in YES:
            p_yes += math.exp(logprob)
        elif word in NO:
            p_no += math.exp(logprob)
    if p_yes + p_no > 0:
        return p_yes / (p_yes + p_no), "logprobs"
    words = answer.text.strip().split()
    first = words[0].strip(".,!:*\"'").lower() if words else ""
    if first in YES or first in NO:
        return (1.0 if first in YES else 0.0), "text"
    return math.nan, "language" if is_foreign(answer.text) else "unparsable"


@dataclass
class Scored:
    """P(yes) per question (NaN where unscored), how each was scored, and the answers as received."""

    scores: np.ndarray
    how: list[str]
    answers: list[str | None]
    counts: Counter[str] = field(default_factory=Counter)

    def summary(self) -> dict[str, object]:
        """Questions and how they were scored, for the audit and the probe."""
        n = len(self.how)
        return {
            "questions": n,
            **{f"scored_by_{h}" if h in ("logprobs", "text") else h: self.counts.get(h, 0) for h in HOW},
            "no_logprobs": n > 0 and self.counts.get("logprobs", 0) == 0,
        }


def ask_pointwise(llm: Backend, requests: Sequence[ChatRequest]) -> Scored:
    """Every question in one cached batch; a server without logprobs is said so once, in the log."""
    answers = llm.complete_all(requests)
    scores = np.full(len(requests), np.nan)
    how: list[str] = []
    texts: list[str | None] = []
    for i, answer in enumerate(answers):
        if isinstance(answer, RequestFailed):
            how.append("failed")
            texts.append(None)
            continue
        scores[i], kind = yes_score(answer)
        how.append(kind)
        texts.append(answer.text)
    counts = Counter(how)
    if requests and counts.get("logprobs", 0) == 0 and counts.get("text", 0) > 0:
        log.warning(
            "pointwise: the server returned no logprobs for %d answers; scored by the answer text "
            "(yes 1, no 0), which ranks candidates far more coarsely",
            counts["text"],
        )
    return Scored(scores, how, texts, counts)


def pick_pair(scores: np.ndarray) -> tuple[int, int] | None:
    """(liked, disliked) positions: highest and lowest score (ties: the earlier); None under 2 scored."""
    ok = ~np.isnan(scores)
    if ok.sum() < 2:
        return None
    liked = int(np.argmax(np.where(ok, scores, -np.inf)))
    away = np.where(ok, scores, np.inf)
    away[liked] = np.inf
    return liked, int(np.argmin(away))
