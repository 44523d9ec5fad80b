"""Send many requests through one policy: N in flight, a rate limit, bounded retries with backoff.

Network backends call `dispatch` from their batch methods with a function that makes one request.
That function raises `Transient` for what a retry may fix, `RequestFailed` for an item that is
refused, and `StageError` when nothing further can succeed; the last two become the item's outcome.
"""

from __future__ import annotations

import dataclasses
import random
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import TypeVar

from llmrec.llm.base import Outcome
from llmrec.llm.errors import (
    LLMError,
    RequestFailed,
    RetriesExhausted,
    ServerUnreachable,
    StageError,
    Transient,
)

T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to wait before retrying a transient failure."""

    max_retries: int = 5
    backoff_base_s: float = 0.5
    backoff_max_s: float = 30.0

    def delay(self, retry: int, retry_after: float | None, rng: random.Random) -> float:
        """Seconds to wait before retry number `retry` (0-based): the server's Retry-After if given,
        else full jitter over an exponentially growing window (so clients that failed together
        do not come back together)."""
        if retry_after is not None:
            return retry_after
        return rng.uniform(0.0, min(self.backoff_max_s, self.backoff_base_s * 2**retry))


class RateLimiter:
    """Token buckets for requests and tokens per minute; 0 disables a bucket.

    Each bucket holds one second's worth and refills continuously, so requests are spread evenly
    instead of bursting a minute's quota at once. A request larger than the bucket may go into
    debt, so it is delayed rather than blocked forever.
    """

    def __init__(self, rpm: int = 0, tpm: int = 0, clock: Callable[[], float] = time.monotonic) -> None:
        self._rates = (rpm / 60.0, tpm / 60.0)
        self._caps = tuple(max(1.0, r) for r in self._rates)
        self._levels = list(self._caps)
        self._clock = clock
        self._stamp = clock()
        self._lock = threading.Lock()

    def acquire(self, tokens: int) -> None:
        """Block until one request of about `tokens` tokens may go out, then take it from the buckets."""
        while True:
            with self._lock:
                wait_s = self._take(tokens)
            if wait_s <= 0:
                return
            time.sleep(wait_s)

    def refund(self, tokens: int) -> None:
        """Settle an estimate: give back `tokens` reserved but not billed (negative: take more)."""
        with self._lock:
            self._levels[1] = min(self._caps[1], self._levels[1] + tokens)

    def _take(self, tokens: int) -> float:
        """Take one request and `tokens` if both buckets allow; otherwise the seconds to wait."""
        now = self._clock()
        elapsed, self._stamp = now - self._stamp, now
        costs = (1.0, float(tokens))
        waits = []
        for b, rate in enumerate(self._rates):
            if rate == 0:
                continue
            self._levels[b] = min(self._caps[b], self._levels[b] + elapsed * rate)
            need = min(costs[b], self._caps[b])
            if self._levels[b] < need:
                waits.append((need - self._levels[b]) / rate)
        if waits:
            return max(waits)
        for b, rate in enumerate(self._rates):
            if rate:
                self._levels[b] -= costs[b]
        return 0.0


def dispatch(
    call: Callable[[T], R],
    items: Sequence[T],
    *,
    concurrency: int,
    retry: RetryPolicy,
    limiter: RateLimiter,
    cost: Callable[[T], int],
    where: str,
    seed: int | None = None,
) -> Iterator[Outcome[R]]:
    """Run `call` on every item with `concurrency` in flight; yield outcomes in completion order.

    After the first StageError no new item is started; those in flight finish and are yielded.
    `where` names the server in messages; `cost` estimates an item's tokens for the rate limit.
    """
    rng = random.Random(seed)
    rng_lock = threading.Lock()
    halt = threading.Event()  # set when the consumer goes away (Ctrl-C), to cut backoff sleeps short

    def attempt_all(item: T) -> tuple[R | LLMError, int]:
        """Try `item` until it succeeds, fails for good, or the retry budget is spent."""
        last = Transient("no attempt made")
        for attempt in range(retry.max_retries + 1):
            limiter.acquire(cost(item))
            try:
                return call(item), attempt + 1
            except Transient as exc:
                last = exc
                if attempt < retry.max_retries:
                    with rng_lock:
                        pause = retry.delay(attempt, exc.retry_after, rng)
                    if halt.wait(pause):
                        return RetriesExhausted(where, attempt + 1, "interrupted"), attempt + 1
            except (StageError, RequestFailed) as exc:
                return exc, attempt + 1
        attempts = retry.max_retries + 1
        if last.unreachable:
            return ServerUnreachable(where, attempts, last.cause), attempts
        return RetriesExhausted(where, attempts, last.cause), attempts

    pending = iter(enumerate(items))
    running: dict[Future[tuple[R | LLMError, int]], int] = {}
    stopped = False
    with ThreadPoolExecutor(max_workers=max(1, min(concurrency, len(items)))) as pool:

        def top_up() -> None:
            """Start items until `concurrency` are in flight (unless stopped)."""
            while not stopped and len(running) < concurrency:
                nxt = next(pending, None)
                if nxt is None:
                    return
                running[pool.submit(attempt_all, nxt[1])] = nxt[0]

        try:
            top_up()
            while running:
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                finished = []
                for future in done:
                    index = running.pop(future)
                    result, attempts = future.result()
                    stopped = stopped or isinstance(result, StageError)
                    finished.append(Outcome(index, result, attempts))
                top_up()  # refill before the consumer stores and parses: the servers stay busy
                for n, outcome in enumerate(finished):
                    yield dataclasses.replace(outcome, more=n < len(finished) - 1)
        finally:
            halt.set()
