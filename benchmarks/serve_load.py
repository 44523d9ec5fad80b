"""Load test of `llmrec serve` on loopback: throughput and latency percentiles, start-up time, memory.

Starts `llmrec serve RUN_DIR` as its own process, times it from launch until /readyz answers, then
sends a fixed number of requests per scenario from CONCURRENCY keep-alive connections of an asyncio
client (uvloop when installed), one process beside the server on the same machine, and stops:

- `user-k20`: top-20 for random known users (the issue's target: >= 1,000 req/s, p99 <= 25 ms);
- `user-k10`, `user-k100`: the same at K = 10 and 100;
- `adhoc-k20`: top-20 for ad-hoc users, POST /recommendations with the train history (up to 50
  items) of a random known user, folded in by the mean of item vectors.

Every answer must be 200 (the script fails otherwise). Server memory is its VmRSS / VmHWM after the
run. Writes benchmarks/results/serve_load[-TAG].json and prints a Markdown table.

    python benchmarks/serve_load.py --run runs/gowalla-lightgcn --requests 20000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    """A free loopback port."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def get_json(url: str) -> Any:
    """GET a JSON document (blocking; for setup only)."""
    with urllib.request.urlopen(url, timeout=30) as response:
        return json.loads(response.read())


def start_server(
    run: Path, port: int, threads: int, workers: int, log: Path, index: str = "exact"
) -> tuple[subprocess.Popen[bytes], float]:
    """Launch `llmrec serve` and wait until it is ready; returns the process and the start-up time."""
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    command = [
        sys.executable,
        "-m",
        "llmrec",
        "serve",
        str(run),
        "--port",
        str(port),
        "--threads",
        str(threads),
        "--index",
        index,
        *(["--workers", str(workers)] if workers > 1 else []),
    ]
    start = time.perf_counter()
    with log.open("w") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
    while True:
        if process.poll() is not None:
            raise SystemExit(f"the server exited with {process.returncode}: {log.read_text()[-2000:]}")
        try:
            get_json(f"http://127.0.0.1:{port}/readyz")
            return process, time.perf_counter() - start
        except OSError:
            time.sleep(0.05)


def memory_mb(pid: int) -> dict[str, float]:
    """Resident and peak resident memory of a process and its children, summed, in MB."""
    fields = {"VmRSS": 0.0, "VmHWM": 0.0}
    for member in family(pid):
        for line in Path(f"/proc/{member}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in fields:
                fields[key] = round(fields[key] + int(value.split()[0]) / 1024, 1)
    return fields


def family(pid: int) -> list[int]:
    """A process and its children (the workers of `--workers N`)."""
    children = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        children += [int(c) for c in (task / "children").read_text().split()]
    return [pid, *children]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process and its children have used so far."""
    total = 0
    for member in family(pid):
        fields = Path(f"/proc/{member}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def build_requests(base: str, kind: str, k: int, n: int, rng: random.Random) -> list[bytes]:
    """n raw HTTP/1.1 requests of one scenario, for random known users."""
    total = get_json(f"{base}/users?limit=1")["total"]
    users: list[str] = []
    for offset in range(0, total, 1000):
        users += get_json(f"{base}/users?offset={offset}&limit=1000")["users"]
    host = base.removeprefix("http://")
    if kind == "user":
        return [
            f"GET /users/{rng.choice(users)}/recommendations?k={k} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()
            for _ in range(n)
        ]
    bodies = []
    for user in rng.sample(users, min(300, len(users))):
        history = [it["item_id"] for it in get_json(f"{base}/users/{user}")["history"]][:50]
        if history:
            bodies.append(json.dumps({"items": history, "k": k}).encode())
    return [
        (f"POST /recommendations HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
         f"Content-Length: {len(body)}\r\n\r\n").encode() + body
        for body in (rng.choice(bodies) for _ in range(n))
    ]  # fmt: skip


async def read_response(reader: asyncio.StreamReader) -> int:
    """Read one HTTP/1.1 response with a Content-Length body; returns its status."""
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n"):
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    await reader.readexactly(length)
    return status


async def load(port: int, requests: list[bytes], concurrency: int) -> tuple[list[float], float, list[int]]:
    """Send `requests` over `concurrency` keep-alive connections; latencies (s), wall time, statuses."""
    latencies: list[float] = []
    statuses: list[int] = []
    queue = iter(requests)

    async def worker() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        for request in queue:
            start = time.perf_counter()
            writer.write(request)
            statuses.append(await read_response(reader))
            latencies.append(time.perf_counter() - start)
        writer.close()

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies, time.perf_counter() - start, statuses


def run_scenario(pid: int, port: int, requests: list[bytes], concurrency: int, warmup: int) -> dict[str, Any]:
    """Warm up, then measure one scenario, with the CPU time server and client spent per request."""
    asyncio.run(load(port, requests[:warmup], concurrency))
    server_cpu, client_cpu = cpu_seconds(pid), time.process_time()
    latencies, wall, statuses = asyncio.run(load(port, requests[warmup:], concurrency))
    server_cpu, client_cpu = cpu_seconds(pid) - server_cpu, time.process_time() - client_cpu
    bad = [s for s in statuses if s != 200]
    if bad:
        raise SystemExit(f"{len(bad)} answers were not 200 (e.g. {bad[0]})")
    ms = np.array(latencies) * 1000
    return {
        "requests": len(latencies),
        "seconds": round(wall, 3),
        "req_per_s": round(len(latencies) / wall, 1),
        "p50_ms": round(float(np.percentile(ms, 50)), 2),
        "p95_ms": round(float(np.percentile(ms, 95)), 2),
        "p99_ms": round(float(np.percentile(ms, 99)), 2),
        "max_ms": round(float(ms.max()), 2),
        # CPU per request does not depend on what else the machine runs: 1000 / server_cpu_ms is the
        # rate one free core would sustain
        "server_cpu_ms_per_req": round(1000 * server_cpu / len(latencies), 3),
        "client_cpu_ms_per_req": round(1000 * client_cpu / len(latencies), 3),
    }


def main() -> None:
    """Parse options, start the server, run the scenarios, write the results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, default=ROOT / "runs" / "gowalla-lightgcn")
    parser.add_argument("--requests", type=int, default=20000, help="measured requests per scenario")
    parser.add_argument("--warmup", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--threads", type=int, default=1, help="the server's torch threads")
    parser.add_argument("--workers", type=int, default=1, help="server processes (llmrec serve --workers)")
    parser.add_argument("--scenarios", default="user-k20,user-k10,user-k100,adhoc-k20")
    parser.add_argument("--index", default="exact", help="llmrec serve --index: exact, auto, ivf or hnsw")
    parser.add_argument("--tag", default="", help="suffix of the results file")
    parser.add_argument("--busy", default="busy", help="the machine: busy or quiet, for the record")
    args = parser.parse_args()
    try:
        import uvloop

        uvloop.install()
        client_loop = "uvloop"
    except ImportError:
        client_loop = "asyncio"
    port = free_port()
    log = ROOT / "benchmarks" / "work" / "serve_load_server.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    process, startup = start_server(args.run, port, args.threads, args.workers, log, args.index)
    startup_cpu = cpu_seconds(process.pid)  # imports and load: what start-up costs on a free core
    base = f"http://127.0.0.1:{port}"
    meta = get_json(f"{base}/meta")
    rng = random.Random(2024)
    results: dict[str, Any] = {}
    try:
        for name in args.scenarios.split(","):
            kind, k = name.split("-k")
            requests = build_requests(
                base, "user" if kind == "user" else "adhoc", int(k), args.requests + args.warmup, rng
            )
            results[name] = run_scenario(process.pid, port, requests, args.concurrency, args.warmup)
            print(name, results[name], flush=True)
        memory = memory_mb(process.pid)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
    out = {
        "run": str(args.run),
        "model": meta["model"],
        "dataset": meta["dataset"],
        "n_users": meta["n_users"],
        "n_items": meta["n_items"],
        "startup_s": round(startup, 2),
        "startup_cpu_s": round(startup_cpu, 2),
        "load_s": meta["load_seconds"],
        "server_memory_mb": memory,
        "concurrency": args.concurrency,
        "server_threads": args.threads,
        "server_workers": args.workers,
        "search": meta.get("search", "exact"),
        "client": f"python asyncio ({client_loop}), keep-alive, same machine",
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "load": os.getloadavg(),
            "busy": args.busy,
        },
        "scenarios": results,
    }
    name = f"serve_load{'-' + args.tag if args.tag else ''}.json"
    (ROOT / "benchmarks" / "results" / name).write_text(json.dumps(out, indent=2) + "\n")
    print(
        f"\nstart-up {out['startup_s']} s, {out['startup_cpu_s']} s of CPU "
        f"(run loaded in {out['load_s']} s), memory {memory}"
    )
    print("| scenario | req/s | p50 ms | p95 ms | p99 ms | server CPU ms/req | client CPU ms/req |")
    print("|---|---|---|---|---|---|---|")
    for scenario, r in results.items():
        print(
            f"| {scenario} | {r['req_per_s']} | {r['p50_ms']} | {r['p95_ms']} | {r['p99_ms']} "
            f"| {r['server_cpu_ms_per_req']} | {r['client_cpu_ms_per_req']} |"
        )


if __name__ == "__main__":
    main()
