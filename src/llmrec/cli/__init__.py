"""Thin command-line layer. The only package that reads sys.argv or the environment, or sets up logging.

One module per command group, each with `register(sub, common)`; a new group is one module and one
entry in `GROUPS`.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from llmrec import __version__
from llmrec.cli import cache, instruct, results, runs, serve, teacher
from llmrec.cli.common import ENV_DATA_DIR, format_table, resolve_config, table_metrics
from llmrec.errors import LLMRecError

GROUPS = (results, runs, cache, instruct, serve, teacher)  # the order of `llmrec --help`

__all__ = ["build_parser", "format_table", "main", "resolve_config", "table_metrics"]


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `llmrec` console command; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.debug else logging.WARNING if args.quiet else logging.INFO,
        format="%(message)s",
        stream=sys.stderr,
    )
    if not args.debug:  # the encoder's INFO lines are its internals, whichever command loads it
        logging.getLogger("sentence_transformers").setLevel(logging.WARNING)
    try:
        return int(args.func(args) or 0)
    except LLMRecError as exc:
        if args.debug:
            raise
        print(f"llmrec: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("llmrec: interrupted", file=sys.stderr)
        return 130


def build_parser() -> argparse.ArgumentParser:
    """All subcommands and their options."""
    parser = argparse.ArgumentParser(prog="llmrec", description="LLM-augmented graph recommendation.")
    parser.add_argument("--version", action="version", version=f"llmrec {__version__}")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--data-dir", help=f"dataset folder (default: ${ENV_DATA_DIR}, ./data, ~/.cache/llmrec/data)"
    )
    common.add_argument("--debug", action="store_true", help="show tracebacks and debug logs")
    common.add_argument("--quiet", action="store_true", help="only warnings and results")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for group in GROUPS:
        group.register(sub, common)
    _forbid_abbreviations(parser)
    return parser


def _forbid_abbreviations(parser: argparse.ArgumentParser) -> None:
    """Turn off argparse's prefix matching in `parser` and every subcommand: otherwise `--seed 7`
    would silently mean `--seeds 7` (seven seeds) instead of failing as an unknown option."""
    parser.allow_abbrev = False
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                _forbid_abbreviations(child)
