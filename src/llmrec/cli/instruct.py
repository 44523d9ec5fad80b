"""`llmrec instruct export | tune`: instruction data from a run, LoRA tuning of a local LLM."""

from __future__ import annotations

import argparse
from pathlib import Path

from llmrec import config as cfgmod
from llmrec.cli.common import trained_folder
from llmrec.errors import DataError


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add this group's subcommands to `sub`; `common` holds --data-dir, --debug, --quiet."""
    instruct = sub.add_parser(
        "instruct", help="instruction-tuning data from a run; LoRA tuning of a local LLM on it"
    )
    instruct_sub = instruct.add_subparsers(dest="instruct_command", required=True, metavar="ACTION")
    p = instruct_sub.add_parser(
        "export", parents=[common], help="llmrec's prompts answered from training data, as chat JSONL"
    )
    p.add_argument("run_dir", type=Path, metavar="RUN_DIR", help="an `llmrec train` or `llmrec run` folder")
    p.add_argument("--out", type=Path, help="output .jsonl (default: RUN_DIR/instruct.jsonl)")
    p.add_argument("--tasks", help="comma-separated of listwise, pairs, attributes (default: all three)")
    p.add_argument("--max-per-task", type=int, help="a seeded sample of at most N per task (default: all)")
    p.add_argument("--seed", type=int, help="hold-outs, negatives, orders (default 2024)")
    p.add_argument(
        "--attributes", help="attributes asked (default: the run's augment.attributes, genres, year)"
    )
    p.set_defaults(func=cmd_instruct_export)
    p = instruct_sub.add_parser(
        "tune", parents=[common], help="fit a LoRA adapter of a local causal LM on a chat JSONL"
    )
    p.add_argument("data", type=Path, metavar="DATA.jsonl")
    p.add_argument("--model", type=Path, required=True, help="a local Hugging Face causal LM folder")
    p.add_argument("--out", type=Path, required=True, help="adapter folder to write")
    # defaults live in TuneConfig; the help texts only repeat them
    p.add_argument("--epochs", type=int, help="default 3")
    p.add_argument("--lr", type=float, help="AdamW learning rate (default 2e-4)")
    p.add_argument("--rank", type=int, help="LoRA rank (default 16)")
    p.add_argument("--alpha", type=int, help="LoRA alpha (default 32)")
    p.add_argument("--max-length", type=int, help="longer examples are skipped, never cut (default 2048)")
    p.add_argument("--batch-size", type=int, help="default 4")
    p.add_argument("--seed", type=int, help="LoRA init and example order (default 2024)")
    p.set_defaults(func=cmd_instruct_tune)


def cmd_instruct_export(args: argparse.Namespace) -> int:
    """`llmrec instruct export RUN_DIR`."""
    import time

    from llmrec.augment.prompts import item_noun
    from llmrec.experiment import load_trained
    from llmrec.instruct.export import ExportConfig, export_examples, text_rows, write_export
    from llmrec.rerank import Llama4RecConfig, item_texts
    from llmrec.rundir import load_item_meta

    started = time.perf_counter()
    folder = trained_folder(args.run_dir)
    run = load_trained(folder)
    meta = load_item_meta(folder)
    if meta is None:
        raise DataError(f"{folder} saved no item metadata (items.tsv): the prompts need item titles")
    section = cfgmod.from_dict(Llama4RecConfig, run.cfg.sections.get("llama4rec", {}), "llama4rec")
    split_list = lambda text: tuple(t.strip() for t in text.split(",") if t.strip())  # noqa: E731
    attributes = split_list(args.attributes or ",".join([*run.cfg.augment.attributes, "genres", "year"]))
    given = {
        "tasks": args.tasks and split_list(args.tasks),
        "max_per_task": args.max_per_task,
        "seed": args.seed,
    }
    cfg = ExportConfig(
        attributes=tuple(dict.fromkeys(attributes)),
        max_field_words=run.cfg.augment.max_field_words, attribute_noun=item_noun(run.cfg.data.dataset),
        **{k: v for k, v in given.items() if v is not None},
    )  # fmt: skip
    split, records = run.split, meta.to_dict("records")
    ids = split.train.item_ids.tolist()
    hidden = split.valid.user_items + split.test.user_items  # only ever kept out of the examples
    result = export_examples(
        split.train.user_items, hidden, item_texts(records, ids), text_rows(records), ids, section, cfg
    )
    out = args.out or args.run_dir / "instruct.jsonl"
    info = {"run": str(folder), "dataset": run.cfg.data.dataset, "seed": cfg.seed, "tasks": list(cfg.tasks),
            "settings": cfgmod.to_dict(cfg), "llama4rec": cfgmod.to_dict(section),
            "seconds": round(time.perf_counter() - started, 2)}  # fmt: skip
    sidecar = write_export(result, out, info)
    counts = ", ".join(f"{task} {n:,}" for task, n in result.counts["by_task"].items())
    print(f"wrote {result.counts['examples']:,} examples ({counts}) to {out}; counts in {sidecar}")
    return 0


def cmd_instruct_tune(args: argparse.Namespace) -> int:
    """`llmrec instruct tune DATA.jsonl --model PATH --out ADAPTER_DIR`."""
    from llmrec.instruct.tune import LOG_FILE, TuneConfig, tune

    names = ("epochs", "lr", "rank", "alpha", "max_length", "batch_size", "seed")
    cfg = TuneConfig(**{n: getattr(args, n) for n in names if getattr(args, n) is not None})
    result = tune(args.data, args.model, args.out, cfg)
    print("loss by epoch: " + ", ".join(f"{x:.4f}" for x in result.losses))
    print(f"adapter: {args.out} (training log: {args.out / LOG_FILE})")
    return 0
