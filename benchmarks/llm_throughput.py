"""Throughput of the LLM layer: 1,000 prompts against a loopback OpenAI-compatible server.

The server (llmrec.llm.testing) answers every request after a fixed latency and runs in its own
process, as a real server would, so the client is measured on its own. The first pass is cold
(every prompt is a request); the second asks the same prompts again and must make no request.

Usage: python benchmarks/llm_throughput.py [--prompts 1000] [--latency-ms 20] [--concurrency 16]
                                          [--json RESULT.json]
Targets (issue 3): cold <= 5 s at concurrency 16; warm <= 1 s with zero requests.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import tempfile
import time
from multiprocessing.connection import Connection
from pathlib import Path

from llmrec.llm import Accounting, ChatRequest, LLMConfig, open_llm
from llmrec.llm.testing import FakeOpenAIServer


def serve(latency_s: float, conn: Connection) -> None:
    """Server process: send the port, serve until told to stop, then send the request count."""
    with FakeOpenAIServer(delay_s=latency_s) as server:
        conn.send(server.port)
        conn.recv()
        conn.send(server.requests)


def main() -> None:
    """Run the cold and warm passes and print (and optionally save) the numbers."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--prompts", type=int, default=1000)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--json", type=Path, help="also write the result here")
    args = parser.parse_args()

    parent, child = mp.Pipe()
    proc = mp.Process(target=serve, args=(args.latency_ms / 1000, child), daemon=True)
    proc.start()
    port = parent.recv()
    with tempfile.TemporaryDirectory() as tmp:
        cfg = LLMConfig(
            base_url=f"http://127.0.0.1:{port}/v1",
            model="bench",
            concurrency=args.concurrency,
            cache_path=str(Path(tmp) / "cache.sqlite"),
        )
        requests = [
            ChatRequest.of(f"Recommend items for user {i}.", template="bench/v1") for i in range(args.prompts)
        ]
        accounting = Accounting()
        passes = {}
        for name in ("cold", "warm"):
            llm = open_llm(cfg, {}, accounting.stage(name))
            start = time.perf_counter()
            results = llm.complete_all(requests)
            seconds = time.perf_counter() - start
            llm.close()
            assert all(r.text.startswith("echo: ") for r in results)  # type: ignore[union-attr]
            stats = accounting.stage(name)
            passes[name] = {
                "seconds": round(seconds, 3),
                "requests": stats.requests,
                "cache_hits": stats.cache_hits,
            }
        parent.send("stop")
        server_requests = parent.recv()
    proc.join()
    result = {
        "prompts": args.prompts,
        "latency_ms": args.latency_ms,
        "concurrency": args.concurrency,
        **passes,
        "server_received": server_requests,
        "ideal_cold_seconds": round(args.prompts / args.concurrency * args.latency_ms / 1000, 3),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
    }
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
