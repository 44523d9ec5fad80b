"""What would a model score under the published protocol, which picks its epoch on the test set?

NGCF's and LightGCN's reference code (and the numbers in their papers, which issue 6's Gowalla bar
0.1830 comes from) train on all of train, evaluate test every few epochs and report the best test
score. llmrec never does that: it selects on a validation carve and tests once. This diagnostic
replays llmrec's refit exactly (the same split, seed, schedule and train + valid edges as
`train.refit = true`) but scores test every `--every` epochs, so one can tell how much of a gap to a
published figure is the model and how much is the protocol. Its "test at the refit's epoch" line must
equal the refit run's test score (a check on the replay); the "best test epoch" line is the published
protocol's optimistic number and is never a result of ours.

    python benchmarks/test_selected.py --config examples/gowalla_simgcl.toml \\
        --set model.simgcl.eps=0.2 --set train.batch_size=8192 --set train.lr=0.007 \\
        --set train.epochs=40 --set train.threads=2 --every 5 --refit-epochs 20 \\
        --json benchmarks/results/gowalla_simgcl_test_selected.json

`--refit-epochs` is the refit run's `refit.epochs` (its selected epoch, not `train.epochs`). A
constant rate does not depend on `train.epochs`, so its curve may run past the refit's epoch; a
cosine one does, so run it with the refit run's own `train.epochs`. `fit`'s log lines call
the scores "valid": here they are test. Needs LLMREC_DATA_DIR (or --data-dir). Writes the
per-evaluation test curve to --json.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from pathlib import Path

import torch

from llmrec import config as cfgmod
from llmrec.cli import resolve_config
from llmrec.data.registry import find_data_dirs
from llmrec.experiment import model_graph, prepare, refit_split
from llmrec.factory import new_model
from llmrec.features import load_extra_edges
from llmrec.train import fit


def parse_args(argv: list[str]) -> argparse.Namespace:
    """Command-line options (see the module docstring)."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--config", type=Path, help="TOML run config, as for `llmrec train --config`")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="llmrec config override")
    p.add_argument("--every", type=int, default=5, help="score test every this many epochs")
    p.add_argument("--refit-epochs", type=int, default=0, help="the refit run's epoch count, to echo")
    p.add_argument("--data-dir", help="data directory (default: LLMREC_DATA_DIR)")
    p.add_argument("--json", type=Path, help="write the test curve here")
    args = p.parse_args(argv)
    args.seeds, args.epochs = None, None  # resolve_config's shortcuts, unused here
    return args


def main(argv: list[str]) -> int:
    """Train on train + valid, score test every `--every` epochs, print and save the curve."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    args = parse_args(argv)
    cfg = resolve_config(args, args.config)
    cfg = cfgmod.replace(
        cfg, train=cfgmod.replace(cfg.train, eval_every=args.every, patience=10**6, max_minutes=0)
    )
    prepared = prepare(cfg, find_data_dirs(args.data_dir, os.environ.get("LLMREC_DATA_DIR")))
    merged = refit_split(prepared.split)
    torch.manual_seed(cfg.seed)  # as experiment._fresh_model: the refit's initial weights
    model = new_model(cfg, merged.train.n_users, merged.train.n_items)
    start = time.perf_counter()
    # train.extra_edges: an augmentation's liked edges join the graph, as in the refit run
    extra = load_extra_edges(cfg.train.extra_edges, prepared.split) if cfg.train.extra_edges else None
    # test passed where validation goes: the published protocol, deliberately, in this script only
    graph = model_graph(cfg, merged, None, extra)
    result = fit(model, merged.train, prepared.split.test, graph, cfg.train, cfg.eval, cfg.seed)
    curve = [{"epoch": h["epoch"], "seconds": h["seconds"], **h["valid"]} for h in result.history]
    for point in curve:
        recall, ndcg = point["recall@20"], point["ndcg@20"]
        print(f"epoch {point['epoch']:4d}: test recall@20 {recall:.4f} ndcg@20 {ndcg:.4f}")
    at_refit = [p for p in curve if p["epoch"] == args.refit_epochs]
    if at_refit:
        print(f"test at the refit's epoch {args.refit_epochs}: recall@20 {at_refit[0]['recall@20']:.4f}")
    print(f"best test epoch (the published protocol): {result.best_epoch}, {result.best_valid}")
    if args.json:
        record = {
            "command": "python " + " ".join([sys.argv[0], *argv]),
            "protocol": "train on train + valid; test scored every --every epochs (test-selected)",
            "seed": cfg.seed,
            "seconds": time.perf_counter() - start,
            "curve": curve,
            "best_epoch": result.best_epoch,
            "best": result.best_valid,
        }
        args.json.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
