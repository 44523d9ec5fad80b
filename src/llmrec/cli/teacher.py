"""`llmrec teacher probe`: is my LLM good enough to be a teacher? Measured before paying for augmentation."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from llmrec.augment.probe_stats import PROBE_JSON
from llmrec.cli.common import apply_changes, config_of_run, parse_override, trained_folder
from llmrec.errors import ConfigError


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add this group's subcommands to `sub`; `common` holds --data-dir, --debug, --quiet."""
    teacher = sub.add_parser("teacher", help="probe a teacher LLM against popularity before augmenting")
    teacher_sub = teacher.add_subparsers(dest="teacher_command", required=True, metavar="ACTION")
    p = teacher_sub.add_parser(
        "probe",
        parents=[common],
        help="hide training positives among candidates and score the teacher's picks (docs/teacher.md)",
    )
    p.add_argument("run_dir", type=Path, metavar="RUN_DIR", help="an `llmrec train` or `llmrec run` folder")
    p.add_argument(
        "--llm",
        choices=["openai", "llamacpp", "replay", "none"],
        help="the teacher's backend (default: the run's [llm] when augment.teacher is llm, else none: "
        "only the no-LLM teachers are scored)",
    )
    p.add_argument("--config", type=Path, help="TOML with an [llm] table (default: the run's)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override an llm.* key")
    p.add_argument("--users", type=int, help="users probed (default 100)")
    p.add_argument("--modes", help="comma-separated: listwise, pointwise, attributes (default: all three)")
    p.add_argument(
        "--simulated", help="comma-separated qualities p of SIMULATED teachers to score alongside (labelled)"
    )
    p.add_argument("--seed", type=int, help="users, hidden items, candidates (default 2024)")
    p.add_argument("--out", type=Path, help=f"report JSON (default: RUN_DIR/{PROBE_JSON})")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(func=cmd_teacher_probe)


def cmd_teacher_probe(args: argparse.Namespace) -> int:
    """`llmrec teacher probe RUN_DIR`."""
    from llmrec import config as cfgmod
    from llmrec.atomic import write_json
    from llmrec.augment.probe import ProbeConfig, probe
    from llmrec.augment.probe_stats import format_probe
    from llmrec.augment.prompts import item_noun
    from llmrec.rundir import load_split

    folder = trained_folder(args.run_dir)
    cfg = cfgmod.load(args.config) if args.config else config_of_run(args.run_dir)
    changes: dict[str, Any] = {}
    for item in args.set:
        key, value = parse_override(item)
        if not key.startswith("llm."):
            raise ConfigError(f"--set {key}: `llmrec teacher probe` takes only llm.* keys")
        changes[key] = value
    if args.llm and args.llm != "none":
        changes["llm.backend"] = args.llm
    cfg = apply_changes(cfg, changes) if changes else cfg
    use_llm = args.llm != "none" and (args.llm is not None or cfg.augment.teacher == "llm")
    split_list = lambda text: tuple(t.strip() for t in text.split(",") if t.strip())  # noqa: E731
    given: dict[str, Any] = {
        "users": args.users,
        "seed": args.seed,
        "modes": split_list(args.modes) if args.modes else None,
        "simulated": tuple(float(p) for p in split_list(args.simulated)) if args.simulated else None,
    }
    aug = cfg.augment
    probe_cfg = ProbeConfig(
        n_candidates=aug.n_candidates, top_logprobs=aug.pointwise_top_logprobs,
        history_token_budget=aug.history_token_budget, max_field_words=aug.max_field_words,
        history_field_words=aug.history_field_words, **{k: v for k, v in given.items() if v is not None},
    )  # fmt: skip
    if not use_llm:
        print("no LLM teacher configured (--llm): scoring the no-LLM teachers only", file=sys.stderr)
    report = probe(
        folder, load_split(folder), probe_cfg, cfg.llm if use_llm else None, dict(os.environ),
        item_noun(cfg.data.dataset),
    )  # fmt: skip
    report["run_dir"], report["settings"] = str(folder), cfgmod.to_dict(probe_cfg)
    out = args.out or args.run_dir / PROBE_JSON
    write_json(out, report)
    print(json.dumps(report, indent=2) if args.json else format_probe(report))
    print(f"report: {out}", file=sys.stderr)
    return 0
