"""Throughput over several endpoints: N prompts spread over four loopback servers, one optionally failing.

Each fake OpenAI-compatible server (llmrec.llm.testing) runs in its own process and answers after a
fixed latency. Pass 1 ("healthy"): all four answer. Pass 2 ("one failing"): a fresh cache, and one of
the four answers every request with HTTP 500 (or, with --fault refused, is not listening at all).
Each pass then reruns its prompts against the same cache and must make no request; every prompt
must have been answered exactly once (answers received with 200 == prompts).

Usage: python benchmarks/llm_endpoints.py [--prompts 10000] [--latency-ms 20] [--concurrency 64]
                                          [--servers 4] [--fault 500|refused] [--json RESULT.json]
Target (issue 28): 10,000 prompts at 64 in flight in <= 4 s, healthy and with one of four failing.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import socket
import tempfile
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from llmrec.llm import Accounting, ChatRequest, LLMConfig, open_llm
from llmrec.llm.testing import FakeOpenAIServer, http_error


def serve(latency_s: float, failing: bool, conn: Connection) -> None:
    """Server process: send the port, serve until told, then send (requests, completed) and reset."""
    with FakeOpenAIServer(delay_s=latency_s) as server:
        if failing:
            server.fail_always(http_error(500, message="this replica is broken"))
        conn.send(server.port)
        while conn.recv() == "count":
            conn.send((server.requests, server.completed))
            server.reset_counts()


def free_port() -> int:
    """A loopback port nothing listens on (for --fault refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run_pass(urls: list[str], args: argparse.Namespace, tmp: Path, name: str) -> dict[str, Any]:
    """Cold then warm over `urls` with a fresh cache; seconds, requests, per-endpoint report."""
    cfg = LLMConfig(
        base_urls=tuple(urls), model="bench", concurrency=args.concurrency,
        cache_path=str(tmp / f"{name}.sqlite"), endpoint_probe_s=2.0,
    )  # fmt: skip
    requests = [
        ChatRequest.of(f"Recommend items for user {i}.", template="bench/v1") for i in range(args.prompts)
    ]
    out: dict[str, Any] = {}
    for phase in ("cold", "warm"):
        accounting = Accounting()
        llm = open_llm(cfg, {}, accounting.stage(phase))
        start, cpu = time.perf_counter(), time.process_time()
        results = llm.complete_all(requests)
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
        assert all(r.text.startswith("echo: ") for r in results)  # type: ignore[union-attr]
        stats = accounting.stage(phase)
        out[phase] = {
            "seconds": round(seconds, 3),
            "requests": stats.requests,
            "retries": stats.retries,
            "answered": stats.answered,
            "cache_hits": stats.cache_hits,
            "client_cpu_s": round(cpu, 3),
            "client_cpu_ms_per_prompt": round(1000 * cpu / len(requests), 4),
        }
        if phase == "cold":
            out["endpoints"] = llm.endpoint_report()
        llm.close()
    return out


def main() -> None:
    """Run the healthy and the one-failing passes and print (and optionally save) the numbers."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--prompts", type=int, default=10_000)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--servers", type=int, default=4)
    parser.add_argument("--fault", choices=("500", "refused"), default="500")
    parser.add_argument("--json", type=Path, help="also write the result here")
    args = parser.parse_args()

    procs, pipes, ports = [], [], []
    for k in range(args.servers + 1):  # the last one is the failing replica
        parent, child = mp.Pipe()
        proc = mp.Process(target=serve, args=(args.latency_ms / 1000, k == args.servers, child), daemon=True)
        proc.start()
        procs.append(proc)
        pipes.append(parent)
        ports.append(parent.recv())
    urls = [f"http://127.0.0.1:{p}/v1" for p in ports]
    bad = urls[-1] if args.fault == "500" else f"http://127.0.0.1:{free_port()}/v1"
    passes: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, chosen in (
            ("healthy", urls[: args.servers]),
            ("one_failing", urls[: args.servers - 1] + [bad]),
        ):
            passes[name] = run_pass(chosen, args, Path(tmp), name)
            received = []
            for pipe in pipes:
                pipe.send("count")
                received.append(pipe.recv())
            passes[name]["answered_with_200"] = sum(done for _, done in received)
            passes[name]["each_prompt_answered_once"] = passes[name]["answered_with_200"] == args.prompts
    for pipe in pipes:
        pipe.send("stop")
    for proc in procs:
        proc.join()
    result = {
        "prompts": args.prompts, "latency_ms": args.latency_ms, "concurrency": args.concurrency,
        "servers": args.servers, "fault": args.fault, **passes,
        "ideal_cold_seconds": round(args.prompts / args.concurrency * args.latency_ms / 1000, 3),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "load_average": os.getloadavg(),
    }  # fmt: skip
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
