"""Which training schedule gets LightGCN and LLMRec to their validation accuracy on ML-100K fastest.

Usage: python benchmarks/schedule_ml100k.py OUT.json [AUGMENT_DIR]  (LLMREC_DATA_DIR set; one thread)

Each (model, batch size, learning rate, schedule) is trained with seed 2024 on the split of
examples/ml100k.toml and compared on validation (training also scores test; it is not looked at
here). Each runs the method's own training stage, as `llmrec train` does, on the split loaded once.
LLMRec reads AUGMENT_DIR as `[llmrec] augment_dir` (default runs/ml100k/augment, an augmentation of
that split). The results pick `make run`'s schedule (BENCHMARKS.md): the propagation costs the same
whatever the batch size, so fewer, larger batches with a higher, decaying learning rate cut the time
per epoch.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

import torch

from llmrec import config as cfgmod
from llmrec.experiment import prepare
from llmrec.pipeline import context, execute
from llmrec.plan import plan

EXAMPLE = Path(__file__).parent.parent / "examples" / "ml100k.toml"
# (batch size, learning rate, schedule, epochs)
SCHEDULES = [
    (2048, 0.005, "constant", 400),
    (8192, 0.02, "constant", 400),
    (8192, 0.02, "cosine", 150),
    (8192, 0.05, "cosine", 150),
    (16384, 0.05, "cosine", 100),
]


def main(out: Path, augment_dir: str) -> None:
    """Train every model x schedule once; write valid metrics, best epoch and seconds to OUT."""
    torch.set_num_threads(1)
    base = cfgmod.load(EXAMPLE)
    prepared = prepare(base, [Path(os.environ.get("LLMREC_DATA_DIR", "data"))])
    rows = []
    for model in ("lightgcn", "llmrec"):
        for batch, lr, schedule, epochs in SCHEDULES:
            cfg = cfgmod.replace(
                base,
                seeds=1,
                train_by_model={},  # the schedule under test, for every method alike
                **{
                    "model.name": model,
                    "train.batch_size": batch,
                    "train.lr": lr,
                    "train.lr_schedule": schedule,
                    "train.epochs": epochs,
                    "llmrec.augment_dir": augment_dir,
                },
            )
            the_plan = plan(cfg, single=True)  # the method alone; its augment stage is given by the folder
            with tempfile.TemporaryDirectory() as tmp:
                ctx = execute(the_plan, context(the_plan, cfg, prepared, Path(tmp), show_progress=False))
            run = ctx.trained[model].metrics["runs"][0]
            rows.append(
                {
                    "model": model,
                    "batch_size": batch,
                    "lr": lr,
                    "schedule": schedule,
                    "epochs": epochs,
                    "best_epoch": run["best_epoch"],
                    "stopped_by": run["stopped_by"],
                    "seconds": round(run["train_seconds"], 1),
                    "valid_recall@20": round(run["valid"]["recall@20"], 4),
                    "valid_ndcg@20": round(run["valid"]["ndcg@20"], 4),
                }
            )
            print(json.dumps(rows[-1]), flush=True)
            out.write_text(json.dumps({"threads": 1, "rows": rows}, indent=2))


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2] if len(sys.argv) > 2 else "runs/ml100k/augment")
