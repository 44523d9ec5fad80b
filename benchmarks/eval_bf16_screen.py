"""Would a bf16 product make full ranking faster? Time its parts, and an exact screened top-k.

On a CPU with AVX512-BF16, a bf16 [users x 64] @ [64 x items] product runs several times faster than
fp32. Its scores are off by at most ~1.2% of |u| |i| (three bf16 roundings), so an exact top-k can
screen with it: take each user's top M items by bf16 score, rescore those in fp32, and accept the
result where the M-th bf16 score plus the error bound stays below the K-th exact score (any item
outside the M would then score below it too); other users are ranked in full fp32. This script times
the product and top-k alone, then the screened top-k against the plain fp32 one on Gowalla's shape
(29,858 users, 40,981 items, K = 50, random 64-d embeddings as in eval_throughput.py), and checks that
both return the same top-K sets.

Usage: python benchmarks/eval_bf16_screen.py [--threads N] [--screen 100 150]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from collections.abc import Callable
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
USERS, ITEMS, DIM, K, BATCH = 29_858, 40_981, 64, 50, 2048
# |bf16 score - exact| <= (2 * 2^-8 + 2^-8 + fp32 accumulation) |u| |i| < 0.0118 |u| |i|: round-to-
# nearest of u, of i and of the fp32 sum. 2^-6 leaves a third of slack.
ERROR = 2.0**-6


def _best_ms(fn: Callable[[], object], repeats: int = 5) -> float:
    """Best wall time of `fn` over `repeats` calls after one warm-up, in milliseconds."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times) * 1000


def parts(users: torch.Tensor, items: torch.Tensor) -> dict[str, float]:
    """Milliseconds per batch of BATCH users: each product and each top-k on its own."""
    u, item_t = users[:BATCH], items.T.contiguous()
    out32 = torch.empty(BATCH, ITEMS)
    out16 = torch.empty(BATCH, ITEMS, dtype=torch.bfloat16)
    ub, ib = u.bfloat16(), item_t.bfloat16()
    return {
        "fp32_product_ms": _best_ms(lambda: torch.mm(u, item_t, out=out32)),
        "bf16_product_ms": _best_ms(lambda: torch.mm(ub, ib, out=out16)),
        "top50_of_fp32_ms": _best_ms(lambda: torch.topk(out32, K, dim=1)),
        "top50_of_bf16_ms": _best_ms(lambda: torch.topk(out16, K, dim=1)),
    }


def plain_top(users: torch.Tensor, items: torch.Tensor) -> tuple[torch.Tensor, float]:
    """Exact fp32 top-K of every user (the evaluation's route) and its seconds."""
    item_t, out = items.T.contiguous(), torch.empty(BATCH, ITEMS)
    start, tops = time.perf_counter(), []
    for s in range(0, len(users), BATCH):
        u = users[s : s + BATCH]
        tops.append(torch.topk(torch.mm(u, item_t, out=out[: len(u)]), K, dim=1).indices)
    return torch.cat(tops), time.perf_counter() - start


def screened_top(users: torch.Tensor, items: torch.Tensor, m: int) -> tuple[torch.Tensor, float, int]:
    """Exact top-K through a bf16 screen of M items per user: (top, seconds, users ranked in full)."""
    item_t, item_b = items.T.contiguous(), items.T.bfloat16().contiguous()
    out = torch.empty(BATCH, ITEMS, dtype=torch.bfloat16)
    max_norm = float(items.norm(dim=1).max())
    start, tops, full = time.perf_counter(), [], 0
    for s in range(0, len(users), BATCH):
        u = users[s : s + BATCH]
        screen = torch.topk(torch.mm(u.bfloat16(), item_b, out=out[: len(u)]), m, dim=1, sorted=False)
        exact = torch.bmm(items[screen.indices], u[:, :, None]).squeeze(2)
        best = torch.topk(exact, K, dim=1)
        top = screen.indices.gather(1, best.indices)
        bound = screen.values.min(1).values.float() + ERROR * u.norm(dim=1) * max_norm
        unsure = (bound >= best.values[:, -1]).nonzero().squeeze(1)
        if len(unsure):
            top[unsure] = torch.topk(u[unsure] @ item_t, K, dim=1).indices
            full += len(unsure)
        tops.append(top)
    return torch.cat(tops), time.perf_counter() - start, full


def main() -> int:
    """Print and write the timings."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--screen", type=int, nargs="+", default=[100, 150])
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/eval_bf16_screen.json")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    gen = torch.Generator().manual_seed(0)
    users, items = torch.randn(USERS, DIM, generator=gen), torch.randn(ITEMS, DIM, generator=gen)
    record: dict[str, object] = {
        "threads": torch.get_num_threads(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}",
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "per_batch_of_2048": {k: round(v, 1) for k, v in parts(users, items).items()},
    }
    ref, seconds = plain_top(users, items)
    rows = [
        {
            "route": "fp32 product + top-50",
            "seconds": round(seconds, 2),
            "users_per_s": round(USERS / seconds),
        }
    ]
    for m in args.screen:
        top, seconds, full = screened_top(users, items, m)
        same = (top.sort(1).values == ref.sort(1).values).all(1).float().mean().item()
        rows.append(
            {
                "route": f"bf16 screen of {m}, fp32 rescoring",
                "seconds": round(seconds, 2),
                "users_per_s": round(USERS / seconds),
                "ranked_in_full": full,
                "same_top50_share": same,
            }
        )
    record["all_users"] = rows
    print(json.dumps(record, indent=1))
    args.out.write_text(json.dumps(record, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
