"""Overhead of the LLM augmentation path: 6,040 ML-1M-sized user prompts through a loopback server.

A synthetic run stands in for ML-1M (whose ratings.dat is not on this machine): ML-1M's 6,040 users
with their demographics and 3,706 movies with their titles, genres and MeLU's director/cast/plot, and
histories drawn to look like ML-1M's (lengths log-normal around a median of 96, at least 20; items by
a Zipf popularity). The base model is an untrained BPR-MF, saved as a finished `llmrec train` folder
(split, config, weights, metrics.json): candidates only have to exist here.

`llmrec augment RUN --llm openai` then runs in a child process against `FakeOpenAIServer` (in its own
process, every answer after a fixed latency), edges only, item texts embedded by the same server. The
server's own time is requests x latency / concurrency; overhead = wall time - that. A second run must
send nothing.

Usage: python benchmarks/augment_llm_overhead.py [--latency-ms 50] [--concurrency 16] [--json RESULT.json]
Target (issue 4): overhead <= 2 minutes.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import re
import shutil
import subprocess
import sys
import time
from multiprocessing.connection import Connection
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from llmrec import config as cfgmod
from llmrec.config import RunConfig
from llmrec.data.dataset import Dataset, Split
from llmrec.data.interactions import Interactions
from llmrec.data.loaders._common import read_table, split_title_year
from llmrec.data.loaders.movielens import MELU_EXTRAINFOS, melu_extrainfos, ml1m_users
from llmrec.llm.testing import FakeOpenAIServer
from llmrec.rundir import model_file, save_split

N_USERS, N_ITEMS = 6040, 3706
LLMREC = str(Path(sys.executable).with_name("llmrec"))


def answer(messages: list[dict[str, str]]) -> str:
    """A valid edges answer: the first candidate liked, the last disliked."""
    n = len(re.findall(r"^\[\d+\] ", messages[-1]["content"], flags=re.MULTILINE))
    return f"1::{n}"


def serve(latency_s: float, conn: Connection) -> None:
    """Server process: send the port, serve until told to stop, then send the request count."""
    with FakeOpenAIServer(answer=answer, delay_s=latency_s, embed_dim=384) as server:
        conn.send(server.port)
        conn.recv()
        conn.send(server.requests)


def movies(data_dir: Path) -> pd.DataFrame:
    """The first 3,706 ML-1M movies with title, year, genres and MeLU's text where the files exist."""
    path = data_dir / "ml-1m" / "movies.dat"
    if not path.is_file():
        return pd.DataFrame(
            {"title": [f"Movie {i}" for i in range(N_ITEMS)], "year": 1995, "genres": "Drama"}
        )
    raw = read_table(path, sep="::", names=["item", "title", "genres"], encoding="latin-1")
    title, year = split_title_year(raw["title"])
    meta = pd.DataFrame({"title": title, "year": year, "genres": raw["genres"]})
    meta.index = raw["item"].astype(int).to_numpy()
    if (data_dir / MELU_EXTRAINFOS).is_file():
        meta = meta.join(melu_extrainfos(data_dir / MELU_EXTRAINFOS))
    return meta.iloc[:N_ITEMS].reset_index(drop=True)


def build_run(out: Path, data_dir: Path, seed: int = 0) -> None:
    """The synthetic ML-1M-sized run directory described in the module docstring."""
    rng = np.random.default_rng(seed)
    popularity = 1.0 / np.arange(1, N_ITEMS + 1)
    popularity = rng.permutation(popularity / popularity.sum())
    lengths = np.clip(rng.lognormal(np.log(96), 1.0, N_USERS).astype(int), 20, 2000)
    parts: dict[str, tuple[list[int], list[int]]] = {"train": ([], []), "valid": ([], []), "test": ([], [])}
    for u, k in enumerate(lengths):
        items = rng.choice(N_ITEMS, size=k, replace=False, p=popularity)
        n_valid = n_test = max(1, k // 10)
        for name, chunk in (("valid", items[:n_valid]), ("test", items[n_valid : n_valid + n_test]),
                            ("train", items[n_valid + n_test :])):  # fmt: skip
            parts[name][0].extend([u] * len(chunk))
            parts[name][1].extend(chunk.tolist())
    user_ids = np.arange(1, N_USERS + 1).astype(str)
    item_ids = np.arange(1, N_ITEMS + 1).astype(str)
    split = Split(
        *(Interactions.from_pairs(np.array(u), np.array(i), user_ids, item_ids) for u, i in parts.values()),
        method="synthetic",
    )
    users = ml1m_users(data_dir / "ml-1m" / "users.dat")
    dataset = Dataset(
        "ml-1m", np.zeros(0, np.int64), np.zeros(0, np.int64), user_ids, item_ids,
        item_meta=movies(data_dir), user_meta=None if users is None else users.reset_index(drop=True),
    )  # fmt: skip
    save_split(split, dataset, out)
    cfg = cfgmod.replace(RunConfig(), **{"model.name": "bpr-mf", "data.dataset": "ml-1m"})
    (out / "config.toml").write_text(cfgmod.dumps_toml(cfg), encoding="utf-8")
    gen = torch.Generator().manual_seed(seed)
    state = {
        "user_emb.weight": torch.randn(N_USERS, cfg.model.dim, generator=gen) * 0.1,
        "item_emb.weight": torch.randn(N_ITEMS, cfg.model.dim, generator=gen) * 0.1,
    }
    torch.save(state, out / model_file(cfg.seed))
    metrics = {"dataset": "ml-1m", "model": "bpr-mf", "seeds": [cfg.seed], "valid": {}, "test": {}}
    (out / "metrics.json").write_text(json.dumps(metrics), encoding="utf-8")  # a finished run's record


def augment(run: Path, out: Path, url: str, work: Path, concurrency: int) -> tuple[float, dict]:
    """`llmrec augment` (edges only) in a child process: wall seconds and the audit."""
    command = [
        LLMREC, "augment", str(run), "--llm", "openai", "--out", str(out), "--json", "--no-progress",
        "--set", f'llm.base_url="{url}"', "--set", 'llm.model="bench"',
        "--set", 'llm.embedding_model="bench-e"',
        "--set", f"llm.concurrency={concurrency}", "--set", f'llm.cache_path="{work / "llm.sqlite"}"',
        "--set", 'augment.encoder="llm"', "--set", f'augment.vector_cache="{work / "vectors.sqlite"}"',
        "--set", "augment.item_attributes=false", "--set", "augment.profiles=false",
    ]  # fmt: skip
    start = time.perf_counter()
    done = subprocess.run(command, check=True, capture_output=True, text=True)
    return time.perf_counter() - start, json.loads(done.stdout)


def main() -> None:
    """Build the run, start the server, run cold and warm, print and optionally save the numbers."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument(
        "--data-dir", type=Path, default=Path(os.environ.get("LLMREC_DATA_DIR", "../shared/data"))
    )
    parser.add_argument("--work", type=Path, default=Path("benchmarks/work/augment_llm_overhead"))
    parser.add_argument("--json", type=Path, help="also write the result here")
    args = parser.parse_args()
    if args.work.exists():
        shutil.rmtree(args.work)
    args.work.mkdir(parents=True)
    run = args.work / "run"
    build_run(run, args.data_dir)

    parent, child = mp.Pipe()
    proc = mp.Process(target=serve, args=(args.latency_ms / 1000, child), daemon=True)
    proc.start()
    url = f"http://127.0.0.1:{parent.recv()}/v1"
    cold_seconds, audit = augment(run, args.work / "augment", url, args.work, args.concurrency)
    warm_seconds, warm = augment(run, args.work / "augment-again", url, args.work, args.concurrency)
    parent.send("stop")
    received = parent.recv()
    proc.join()

    usage = audit["llm_usage"]
    server_seconds = usage["requests"] * args.latency_ms / 1000 / args.concurrency
    result = {
        "user_prompts": audit["edges"]["prompts"],
        "pairs": audit["edges"]["usable"],
        "requests": usage["requests"],
        "server_received": received,
        "latency_ms": args.latency_ms,
        "concurrency": args.concurrency,
        "cold_seconds": round(cold_seconds, 1),
        "server_seconds": round(server_seconds, 1),
        "overhead_seconds": round(cold_seconds - server_seconds, 1),
        "stage_seconds": audit["seconds"],
        "warm_seconds": round(warm_seconds, 1),
        "warm_requests": warm["llm_usage"]["requests"],
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "load_average": os.getloadavg(),
    }
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
