"""One augmentation's LLM round: every prompt in one cached batch, then parse with at most one repair.

Rejections of first answers are sorted by kind (see `parsers.ParseError`) for the audit. Prompts that
need different parsers (say, 10 candidates for most users and 6 for a few) are grouped, and each group
goes through `parse_with_repair` with its own parser and expected format.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from llmrec.augment.parsers import rejection_kind
from llmrec.llm import Backend, ChatRequest, RequestFailed, StageStats, parse_with_repair

T = TypeVar("T")


@dataclass
class Asked(Generic[T]):
    """Parsed values (None where the request failed or the answer stayed invalid) and what happened.

    `parse_failure_rate` is the share of prompts whose first answer was rejected; those still invalid
    after the one repair (or whose repair request failed) are `invalid_after_repair` and are dropped.
    """

    values: list[T | None]
    answers: list[str | None]  # first answers as received (None: the request failed)
    rejected: Counter[str] = field(default_factory=Counter)  # first answers rejected, by kind
    rejected_index: list[int] = field(default_factory=list)  # prompts whose first answer was rejected
    failed: int = 0  # requests that failed for good (HTTP 4xx, replay miss)

    def summary(self) -> dict[str, Any]:
        """Counts for the audit: prompts, rejections, repairs, what was finally usable."""
        asked = len(self.values)
        repaired = sum(self.values[i] is not None for i in self.rejected_index)
        return {
            "prompts": asked,
            "failed_requests": self.failed,
            "rejected_first_answers": dict(sorted(self.rejected.items())),
            "repairs_asked": len(self.rejected_index),
            "repaired": repaired,
            "invalid_after_repair": len(self.rejected_index) - repaired,
            "usable": sum(v is not None for v in self.values),
            "parse_failure_rate": round(len(self.rejected_index) / asked, 4) if asked else 0.0,
        }


def ask(
    llm: Backend,
    requests: Sequence[ChatRequest],
    groups: Sequence[Hashable],
    parser_for: Callable[[Any], Callable[[str], T]],
    expected_for: Callable[[Any], str],
    stats: StageStats,
) -> Asked[T]:
    """Send `requests` in one batch and parse each answer with the parser of its group (one repair each)."""
    answers = llm.complete_all(requests)
    asked: Asked[T] = Asked([None] * len(requests), [None] * len(requests))
    members: dict[Hashable, list[int]] = {}
    for i, (group, answer) in enumerate(zip(groups, answers, strict=True)):
        members.setdefault(group, []).append(i)
        if isinstance(answer, RequestFailed):
            asked.failed += 1
            continue
        asked.answers[i] = answer.text
        try:
            parser_for(group)(answer.text)
        except ValueError as exc:
            asked.rejected[rejection_kind(exc)] += 1
            asked.rejected_index.append(i)
    for group, index in members.items():
        parsed = parse_with_repair(
            llm,
            [requests[i] for i in index],
            [answers[i] for i in index],
            parser_for(group),
            expected_for(group),
            stats,
        )
        for i, value in zip(index, parsed, strict=True):
            asked.values[i] = value
    return asked
