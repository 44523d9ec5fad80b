"""The request policy: concurrency bound, stop after a stage error, retries, backoff, rate limits."""

from __future__ import annotations

import random
import threading
import time

import pytest

from llmrec.llm.dispatch import RateLimiter, RetryPolicy, dispatch
from llmrec.llm.errors import KeyRejected, RequestFailed, RetriesExhausted, ServerUnreachable, Transient

NO_WAIT = RetryPolicy(max_retries=3, backoff_base_s=0.0, backoff_max_s=0.0)


def run(call, items, concurrency=4, retry=NO_WAIT, limiter=None):  # type: ignore[no-untyped-def]
    return list(
        dispatch(
            call,
            items,
            concurrency=concurrency,
            retry=retry,
            limiter=limiter or RateLimiter(),
            cost=lambda _: 1,
            where="http://x/v1",
            seed=0,
        )
    )


def test_at_most_n_in_flight_and_all_answered() -> None:
    lock = threading.Lock()
    state = {"now": 0, "peak": 0}

    def call(x: int) -> int:
        with lock:
            state["now"] += 1
            state["peak"] = max(state["peak"], state["now"])
        time.sleep(0.01)
        with lock:
            state["now"] -= 1
        return x * 2

    outcomes = run(call, list(range(40)), concurrency=5)
    assert sorted((o.index, o.result) for o in outcomes) == [(i, 2 * i) for i in range(40)]
    assert state["peak"] == 5
    assert all(o.attempts == 1 for o in outcomes)


def test_transient_is_retried_then_budget_exhausted() -> None:
    tries: dict[int, int] = {}

    def call(x: int) -> int:
        tries[x] = tries.get(x, 0) + 1
        if x == 0 or tries[x] < 3:
            raise Transient("HTTP 500")
        return x

    outcomes = {o.index: o for o in run(call, [0, 1], concurrency=1)}
    assert isinstance(outcomes[0].result, RetriesExhausted) and outcomes[0].attempts == 4
    assert "gave up after 4 attempt(s)" in str(outcomes[0].result)
    assert 1 not in outcomes  # nothing new starts after a stage error
    assert tries == {0: 4}


def test_unreachable_becomes_server_unreachable() -> None:
    def call(x: int) -> int:
        raise Transient("connection refused", unreachable=True)

    (outcome,) = run(call, [0])
    assert isinstance(outcome.result, ServerUnreachable) and "http://x/v1" in str(outcome.result)


def test_request_failed_is_a_value_and_others_go_on() -> None:
    def call(x: int) -> int:
        if x == 1:
            raise RequestFailed("bad prompt")
        return x

    outcomes = sorted(run(call, [0, 1, 2]), key=lambda o: o.index)
    assert [o.result if not isinstance(o.result, Exception) else "failed" for o in outcomes] == [
        0,
        "failed",
        2,
    ]
    assert outcomes[1].attempts == 1


def test_stage_error_stops_new_work_but_in_flight_items_finish() -> None:
    started: list[int] = []

    def call(x: int) -> int:
        started.append(x)
        if x == 0:
            raise KeyRejected("http://x/v1", "KEY", 401)
        time.sleep(0.05)
        return x

    outcomes = run(call, list(range(20)), concurrency=3)
    assert sorted(started) == [0, 1, 2]
    assert sorted(o.index for o in outcomes) == [0, 1, 2]


def test_backoff_is_full_jitter_within_exponential_window() -> None:
    policy = RetryPolicy(max_retries=5, backoff_base_s=0.5, backoff_max_s=3.0)
    rng = random.Random(1)
    for retry, cap in [(0, 0.5), (1, 1.0), (2, 2.0), (3, 3.0), (6, 3.0)]:
        delays = [policy.delay(retry, None, rng) for _ in range(200)]
        assert min(delays) >= 0.0 and max(delays) <= cap
        assert max(delays) > 0.8 * cap  # the window is used, not just its bottom
    assert policy.delay(0, 7.5, rng) == 7.5  # Retry-After wins over the window


def test_rate_limit_requests_per_minute() -> None:
    limiter = RateLimiter(rpm=1200)  # 20 per second, a bucket of 20
    start = time.perf_counter()
    for _ in range(30):
        limiter.acquire(1)
    elapsed = time.perf_counter() - start
    assert 0.45 <= elapsed < 1.0  # 20 at once, then 10 more at 20/s


def test_rate_limit_tokens_per_minute_with_refund() -> None:
    limiter = RateLimiter(tpm=60_000)  # 1000 tokens per second, a bucket of 1000
    start = time.perf_counter()
    limiter.acquire(1000)
    limiter.acquire(500)  # must wait about 0.5 s for the bucket to refill
    assert time.perf_counter() - start == pytest.approx(0.5, abs=0.15)
    limiter.refund(500)  # the estimate was 500 too high
    start = time.perf_counter()
    limiter.acquire(500)
    assert time.perf_counter() - start < 0.1


def test_oversized_request_is_delayed_not_blocked() -> None:
    limiter = RateLimiter(tpm=6_000)  # 100 tokens per second, a bucket of 100
    start = time.perf_counter()
    limiter.acquire(150)  # larger than the bucket: goes out at once, leaving a debt of 50
    assert time.perf_counter() - start < 0.05
    limiter.acquire(10)  # waits for the debt and its own 10 tokens: 0.6 s
    assert time.perf_counter() - start == pytest.approx(0.6, abs=0.15)


def test_concurrency_against_rate_limit() -> None:
    limiter = RateLimiter(rpm=600)  # 10 per second
    start = time.perf_counter()
    outcomes = run(lambda x: x, list(range(15)), concurrency=8, limiter=limiter)
    assert len(outcomes) == 15
    assert time.perf_counter() - start >= 0.4  # 10 at once, then 5 more at 10/s


def test_closing_the_stream_cuts_backoff_short() -> None:
    def call(x: int) -> int:
        if x == 0:
            raise Transient("HTTP 503", retry_after=30.0)
        return x

    stream = dispatch(
        call,
        [0, 1],
        concurrency=2,
        retry=NO_WAIT,
        limiter=RateLimiter(),
        cost=lambda _: 1,
        where="http://x/v1",
    )
    start = time.perf_counter()
    assert next(stream).index == 1
    stream.close()  # what a Ctrl-C in the consumer does
    assert time.perf_counter() - start < 5.0
