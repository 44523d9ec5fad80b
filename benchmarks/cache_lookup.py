"""Cost of one cached lookup with 100,000 entries in the cache.

Two numbers: `Cache.get` on a random stored key, and the whole hit path a stage pays for one prompt
(`CachedLLM.complete`: resolve sampling, hash the request, look it up, decode the response).
The entries are chat answers shaped like the real ones (request metadata beside each answer).

Usage: python benchmarks/cache_lookup.py [--entries 100000] [--lookups 10000] [--json RESULT.json]
Target (issue 3): <= 1 ms per cached lookup.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import tempfile
import time
from pathlib import Path

from llmrec.cache import Cache, content_key
from llmrec.llm import CachedLLM, ChatRequest, ChatResponse, LLMConfig, Usage, make_backend
from llmrec.llm.base import chat_payload


def fill(cache: Cache, llm: CachedLLM, n: int) -> list[ChatRequest]:
    """Store `n` answers under the keys the layer would use; returns their requests."""
    requests = [
        ChatRequest.of(
            f"User {i} liked items 3, 17 and 42. Which of 20 candidates next?", template="bench/v1"
        )
        for i in range(n)
    ]
    for i, request in enumerate(requests):
        payload = chat_payload(llm.kind, llm.model, llm.resolved(request))
        answer = ChatResponse(f"[{i % 20}, {(i * 7) % 20}]", "stop", Usage(40, 8), llm.model)
        cache.put(content_key(payload), answer.to_dict(), meta=payload, stage="bench")
    return requests


def per_call_us(fn, items: list, repeat: int = 3) -> float:  # type: ignore[no-untyped-def]
    """Best-of-`repeat` mean microseconds of `fn(item)` over `items`."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        for item in items:
            fn(item)
        best = min(best, (time.perf_counter() - start) / len(items))
    return best * 1e6


def main() -> None:
    """Fill a cache, then time random lookups through the store and through the cached layer."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--lookups", type=int, default=10_000)
    parser.add_argument("--json", type=Path, help="also write the result here")
    args = parser.parse_args()
    rng = random.Random(0)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "cache.sqlite"
        cfg = LLMConfig(base_url="http://127.0.0.1:9/v1", model="bench", cache_path=str(path))
        cache = Cache(path)
        llm = CachedLLM(make_backend(cfg, {}), cache)  # port 9 has no server: a miss would fail loudly
        start = time.perf_counter()
        requests = fill(cache, llm, args.entries)
        fill_s = time.perf_counter() - start
        sample = rng.sample(requests, args.lookups)
        keys = [llm.chat_key(r) for r in sample]
        get_us = per_call_us(cache.get, keys)
        complete_us = per_call_us(llm.complete, sample)
        assert llm.stats.requests == 0 and llm.stats.cache_hits == 3 * args.lookups
        size_mb = sum(p.stat().st_size for p in path.parent.iterdir()) / 2**20
        cache.close()
    result = {
        "entries": args.entries,
        "lookups": args.lookups,
        "fill_seconds": round(fill_s, 2),
        "put_us": round(fill_s / args.entries * 1e6, 1),
        "cache_get_us": round(get_us, 1),
        "cached_complete_us": round(complete_us, 1),
        "cache_mb": round(size_mb, 1),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
    }
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
