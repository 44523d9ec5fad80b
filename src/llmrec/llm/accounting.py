"""What each stage asked of the LLM and what it cost: counters, a JSON view, a one-line progress text."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from llmrec.atomic import write_json
from llmrec.llm.base import Usage

PER_MILLION = 1_000_000
_COUNTERS = (
    "items",
    "cache_hits",
    "answered",
    "failures",
    "requests",
    "retries",
    "prompt_tokens",
    "completion_tokens",
    "repairs",
    "invalid",
)


@dataclass
class StageStats:
    """Counters of one stage's LLM use; safe to update from several threads."""

    name: str
    prices: dict[str, tuple[float, float]] = field(default_factory=dict)  # model -> USD per 1M in/out
    items: int = 0  # prompts asked for, cached or not
    cache_hits: int = 0  # answered from the cache (or by an identical prompt in the same batch)
    answered: int = 0  # answered by the backend in this run
    failures: int = 0  # items that failed for good
    requests: int = 0  # requests sent, retries included
    retries: int = 0
    prompt_tokens: int = 0  # billed in this run; cache hits cost nothing
    completion_tokens: int = 0
    cost_usd: float = 0.0
    repairs: int = 0  # follow-up questions asked because an answer did not parse
    invalid: int = 0  # answers still unusable after the repair
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    @property
    def done(self) -> int:
        """Items finished one way or another."""
        return self.cache_hits + self.answered + self.failures

    def count_items(self, n: int) -> None:
        """`n` more prompts were asked for."""
        with self._lock:
            self.items += n

    def count_hits(self, n: int) -> None:
        """`n` prompts were answered without a request."""
        with self._lock:
            self.cache_hits += n

    def count_answer(self, model: str, usage: Usage, attempts: int) -> None:
        """One answer arrived after `attempts` requests; add its tokens and cost."""
        prompt_price, completion_price = self.prices.get(model, (0.0, 0.0))
        with self._lock:
            self.answered += 1
            self._count_requests(attempts)
            self.prompt_tokens += usage.prompt_tokens
            self.completion_tokens += usage.completion_tokens
            self.cost_usd += (
                usage.prompt_tokens * prompt_price + usage.completion_tokens * completion_price
            ) / PER_MILLION

    def count_failure(self, attempts: int) -> None:
        """One item failed for good after `attempts` requests."""
        with self._lock:
            self.failures += 1
            self._count_requests(attempts)

    def count_repairs(self, asked: int, still_invalid: int) -> None:
        """`asked` follow-ups were sent; `still_invalid` answers stayed unusable."""
        with self._lock:
            self.repairs += asked
            self.invalid += still_invalid

    def _count_requests(self, attempts: int) -> None:
        self.requests += attempts
        self.retries += max(0, attempts - 1)

    def to_dict(self) -> dict[str, Any]:
        """Plain counters for JSON, cost rounded to a millionth of a dollar."""
        with self._lock:
            data: dict[str, Any] = {name: getattr(self, name) for name in _COUNTERS}
            data["cost_usd"] = round(self.cost_usd, 6)
        return {"stage": self.name, **data}

    def progress_text(self) -> str:
        """One line for a progress bar: done/items, requests, retries, hits, failures, tokens, cost."""
        return (
            f"{self.name} {self.done}/{self.items} | {self.requests} sent, {self.retries} retries, "
            f"{self.cache_hits} cached, {self.failures} failed | tokens {_short(self.prompt_tokens)} in "
            f"{_short(self.completion_tokens)} out | ${self.cost_usd:.4f}"
        )


class Accounting:
    """Stage counters for one run, written as JSON to the run directory."""

    def __init__(self, prices: Iterable[tuple[str, float, float]] = ()) -> None:
        self.prices = {model: (p, c) for model, p, c in prices}
        self.stages: dict[str, StageStats] = {}
        self.endpoints: list[dict[str, Any]] = []  # per-server counters when requests were spread

    def stage(self, name: str) -> StageStats:
        """The counters of stage `name`, created on first use."""
        if name not in self.stages:
            self.stages[name] = StageStats(name, dict(self.prices))
        return self.stages[name]

    def to_dict(self) -> dict[str, Any]:
        """Counters per stage and their totals."""
        stages = {name: s.to_dict() for name, s in self.stages.items()}
        total: dict[str, Any] = {name: sum(s[name] for s in stages.values()) for name in _COUNTERS}
        total["cost_usd"] = round(sum(s["cost_usd"] for s in stages.values()), 6)
        out: dict[str, Any] = {"stages": stages, "total": total}
        if self.endpoints:
            out["endpoints"] = self.endpoints
        return out

    def write(self, path: str | Path) -> None:
        """Write `to_dict()` as JSON, atomically (temp file + rename)."""
        write_json(Path(path), self.to_dict())


def _short(n: int) -> str:
    """1234567 -> '1.2M', 12345 -> '12.3k'."""
    if n >= 1_000_000:
        return f"{n / 1_000_000:.1f}M"
    if n >= 1_000:
        return f"{n / 1_000:.1f}k"
    return str(n)
