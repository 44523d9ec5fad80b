"""The bounded repair re-ask: one follow-up for an answer that does not parse, never a second.

The follow-up continues the conversation with the invalid answer as the assistant's turn, then a
user turn that quotes it, says what is wrong and restates the expected format. Keeping the turns
alternating matters: many local chat templates reject two user turns in a row. The follow-up is an
ordinary request, cached like every other, and its template name marks it as a repair so that a
repair of a repair is refused.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import TypeVar

from llmrec.llm.accounting import StageStats
from llmrec.llm.base import Backend, ChatRequest, ChatResponse, Message
from llmrec.llm.errors import RequestFailed

T = TypeVar("T")
REPAIR_TEMPLATE = "repair/v1"  # bump when the wording below changes, so cached repairs are not reused
QUOTE_LIMIT = 2000  # characters of the invalid answer quoted back; the full text is the assistant turn


def repair_request(request: ChatRequest, answer: str, problem: str, expected: str) -> ChatRequest:
    """The follow-up to `request` whose `answer` was invalid because of `problem`."""
    if is_repair(request):
        raise ValueError("at most one repair per prompt: this request is already a repair")
    quote = answer if len(answer) <= QUOTE_LIMIT else answer[:QUOTE_LIMIT] + " [...]"
    follow_up = (
        f"Your answer was not in the expected format: {problem}\n\n"
        f"Your answer was:\n<<<\n{quote}\n>>>\n\n"
        f"Expected format: {expected}\n"
        "Reply again with only the corrected answer in exactly that format."
    )
    messages = (*request.messages, Message("assistant", answer), Message("user", follow_up))
    return dataclasses.replace(request, messages=messages, template=f"{request.template}+{REPAIR_TEMPLATE}")


def is_repair(request: ChatRequest) -> bool:
    """Whether `request` is itself a repair follow-up."""
    return "+repair/" in request.template  # any version of the repair wording


def repair(llm: Backend, request: ChatRequest, answer: str, problem: str, expected: str) -> ChatResponse:
    """Ask the one follow-up for an invalid answer and return the new answer (raises if it fails)."""
    return llm.complete(repair_request(request, answer, problem, expected))


def parse_with_repair(
    llm: Backend,
    requests: Sequence[ChatRequest],
    answers: Sequence[ChatResponse | RequestFailed],
    parse: Callable[[str], T],
    expected: str,
    stats: StageStats | None = None,
) -> list[T | None]:
    """Parse every answer; re-ask once, in one batch, for those `parse` rejects with ValueError.

    Returns the parsed values in order, None where the request failed or the repaired answer is
    still invalid. Repairs asked and answers left invalid are counted in `stats`.
    """
    parsed: list[T | None] = [None] * len(answers)
    broken: list[tuple[int, ChatRequest]] = []
    for i, (request, answer) in enumerate(zip(requests, answers, strict=True)):
        if isinstance(answer, RequestFailed):
            continue  # already counted as a failure by the layer
        try:
            parsed[i] = parse(answer.text)
        except ValueError as exc:
            broken.append((i, repair_request(request, answer.text, str(exc), expected)))
    second = llm.complete_all([r for _, r in broken])
    still_invalid = 0
    for (i, _), answer in zip(broken, second, strict=True):
        if isinstance(answer, RequestFailed):
            continue  # counted as a failure by the layer
        try:
            parsed[i] = parse(answer.text)
        except ValueError:
            still_invalid += 1
    if stats is not None:
        stats.count_repairs(len(broken), still_invalid)
    return parsed
