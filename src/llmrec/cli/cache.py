"""`llmrec cache stats | export`: the LLM response cache."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from llmrec.cli.common import DEFAULT_CACHE


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add this group's subcommands to `sub`; `common` holds --data-dir, --debug, --quiet."""
    cache = sub.add_parser("cache", help="inspect or export the LLM response cache")
    cache_sub = cache.add_subparsers(dest="cache_command", required=True, metavar="ACTION")
    p = cache_sub.add_parser("stats", parents=[common], help="entries per stage, size, age")
    p.add_argument("--path", default=DEFAULT_CACHE, help=f"cache file (default {DEFAULT_CACHE})")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_cache_stats)
    p = cache_sub.add_parser(
        "export", parents=[common], help="write every cached answer as JSONL (replayable)"
    )
    p.add_argument("out", type=Path, help="output .jsonl file")
    p.add_argument("--path", default=DEFAULT_CACHE, help=f"cache file (default {DEFAULT_CACHE})")
    p.set_defaults(func=cmd_cache_export)


def cmd_cache_stats(args: argparse.Namespace) -> int:
    """`llmrec cache stats`."""
    from llmrec.cache import cache_stats

    stats = cache_stats(args.path)
    if args.json:
        print(json.dumps(stats, indent=2))
        return 0
    print(f"{stats['path']}: {stats['entries']:,} answers, {stats['bytes'] / 1e6:.1f} MB")
    print(f"oldest {stats['oldest']}, newest {stats['newest']}")
    for stage, n in sorted(stats["stages"].items()):
        print(f"  {stage or '(no stage)'}: {n:,}")
    return 0


def cmd_cache_export(args: argparse.Namespace) -> int:
    """`llmrec cache export OUT.jsonl`."""
    from llmrec.cache import cache_export

    rows = cache_export(args.path, args.out)
    print(f"wrote {rows:,} answers to {args.out}")
    return 0
