"""Make a servable run folder from a training folder's last checkpoint (for timing `llmrec serve` on a
run whose training has not finished, e.g. Gowalla on a busy machine).

Copies config.toml and split.npz, writes the checkpoint's current model weights as the seed's model
file and a metrics.json that says where they come from. Serving speed depends on the shapes (users,
items, dimension), not on how far training went; the lists of such a run are not a finished model's.

    python benchmarks/serve_checkpoint_run.py runs/gowalla-lightgcn runs/gowalla-lightgcn-ckpt
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import torch

from llmrec import config as cfgmod
from llmrec.rundir import checkpoint_file, model_file


def main() -> None:
    """Parse the two folders and write the servable one."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "training", type=Path, help="a training folder with config.toml, split.npz, a checkpoint"
    )
    parser.add_argument("out", type=Path)
    args = parser.parse_args()
    cfg = cfgmod.load(args.training / "config.toml")
    seed = cfg.seed
    saved = torch.load(args.training / checkpoint_file(seed), weights_only=True)["state"]
    epoch = int(saved["selection"]["epoch"])
    args.out.mkdir(parents=True, exist_ok=True)
    for name in ("config.toml", "split.npz", "items.tsv", "users.tsv"):
        if (args.training / name).is_file():
            shutil.copy2(args.training / name, args.out / name)
    torch.save(saved["trainer"]["model"], args.out / model_file(seed))
    note = f"weights of {args.training} after {epoch} epochs (its training checkpoint), not a finished run"
    metrics = {"dataset": cfg.data.dataset, "model": cfg.model.name, "valid": {}, "test": {}, "note": note}
    (args.out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    print(note)


if __name__ == "__main__":
    main()
