"""A run killed with SIGKILL and started again re-requests only what was in flight."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from llmrec.cache import Cache
from llmrec.llm.testing import FakeOpenAIServer

CHILD = Path(__file__).with_name("sigkill_child.py")
N, CONCURRENCY = 60, 4


def run_child(server: FakeOpenAIServer, cache: Path) -> subprocess.Popen[bytes]:
    args = [sys.executable, str(CHILD), server.url, str(cache), str(N), str(CONCURRENCY)]
    return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def settled_requests(server: FakeOpenAIServer, quiet_s: float = 0.5) -> int:
    """The server's request count once it has stopped changing for `quiet_s`.

    A request the child sent just before its SIGKILL still reaches the server from the socket
    buffer, and on a loaded machine its handler may count it after `child.wait()` has returned.
    """
    last, since, deadline = server.requests, time.monotonic(), time.monotonic() + 10
    while time.monotonic() - since < quiet_s and time.monotonic() < deadline:
        time.sleep(0.02)
        if server.requests != last:
            last, since = server.requests, time.monotonic()
    return last


def test_sigkill_midway_then_rerun(tmp_path: Path) -> None:
    cache_path = tmp_path / "cache.sqlite"
    with FakeOpenAIServer(models={"chat-m"}, delay_s=0.05) as server:
        child = run_child(server, cache_path)
        deadline = time.monotonic() + 30
        while server.completed < N // 3 and time.monotonic() < deadline and child.poll() is None:
            time.sleep(0.005)
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
        assert child.returncode == -signal.SIGKILL
        first = settled_requests(server)
        with Cache(cache_path) as cache:
            cached = len(cache)
        assert N // 3 - CONCURRENCY <= cached < N  # killed midway, with answers stored on arrival
        assert first - cached <= CONCURRENCY  # lost only what was in flight

        rerun = run_child(server, cache_path)
        _, err = rerun.communicate(timeout=60)
        assert rerun.returncode == 0, err.decode()
        assert server.requests - first == N - cached  # nothing already cached was asked again
        assert server.requests == N + (first - cached)
        with Cache(cache_path) as cache:
            assert len(cache) == N
