"""The teacher probe on ML-100K (100 users, 10 candidates) against the loopback fake server: wall time.

The scripted teacher answers like the small models of issue 26: listwise always "1::10" (position 1),
pointwise P(yes) drawn from a hash of the prompt (no signal). The target is <= 30 s for 100 users.

    LLMREC_DATA_DIR=/work/shared/data python benchmarks/teacher_probe_ml100k.py RUN_DIR [OUT.json]

RUN_DIR: any trained ML-100K folder (`llmrec train` or a baseline folder of `llmrec run`).
"""

from __future__ import annotations

import hashlib
import json
import math
import sys
import tempfile
import time
from pathlib import Path

from llmrec.augment.probe import ProbeConfig, probe
from llmrec.augment.probe_stats import format_probe
from llmrec.llm import LLMConfig
from llmrec.llm.testing import FakeOpenAIServer
from llmrec.rundir import load_split


def answer(messages: list[dict[str, str]]) -> str:
    """Listwise: the position-biased '1::10'; pointwise: 'Yes'."""
    return "1::10" if "Candidates:" in messages[-1]["content"] else "Yes"


def logprobs(messages: list[dict[str, str]]) -> list[tuple[str, float]]:
    """P(yes) from a hash of the prompt: a teacher with no signal."""
    p = 0.05 + 0.9 * hashlib.sha256(messages[-1]["content"].encode()).digest()[0] / 255
    return sorted([("Yes", math.log(p)), ("No", math.log(1 - p))], key=lambda t: -t[1])


def main() -> None:
    run = Path(sys.argv[1])
    out = Path(sys.argv[2]) if len(sys.argv) > 2 else None
    split = load_split(run)
    with FakeOpenAIServer(answer=answer, logprobs=logprobs) as server, tempfile.TemporaryDirectory() as tmp:
        llm = LLMConfig(base_url=server.url, model="fake", cache_path=f"{tmp}/llm.sqlite", concurrency=16)
        start = time.perf_counter()
        report = probe(run, split, ProbeConfig(users=100, simulated=(0.2, 0.6)), llm, {}, "movie")
        cold = time.perf_counter() - start
        start = time.perf_counter()
        probe(run, split, ProbeConfig(users=100, simulated=(0.2, 0.6)), llm, {}, "movie")
        cached = time.perf_counter() - start
    print(format_probe(report))
    print(f"wall: {cold:.1f} s cold ({server.requests} requests), {cached:.1f} s with every answer cached")
    if out is not None:
        out.write_text(json.dumps({"wall_s": round(cold, 2), "wall_cached_s": round(cached, 2), **report},
                                  indent=2, default=str))  # fmt: skip


if __name__ == "__main__":
    main()
