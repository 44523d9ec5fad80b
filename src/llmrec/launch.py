"""The command line under torchrun: every rank runs the same `llmrec` command in one process group.

    torchrun --standalone --nproc_per_node 2 -m llmrec.launch train --config examples/ml100k.toml

Rank 0 writes the run folder, logs and progress; the other ranks train their share and write
nothing (`llmrec.atomic.set_writer`). Gloo on CPU, NCCL when CUDA is there (docs/scale.md).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence

from llmrec import distributed
from llmrec.atomic import set_writer
from llmrec.cli import main as cli_main


def main(argv: Sequence[str] | None = None) -> int:
    """Join the process group, run the command, leave the group; returns the exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        group = distributed.activate()
    except RuntimeError as exc:  # not under torchrun, or the group could not be formed
        print(f"llmrec.launch: {exc}", file=sys.stderr)
        return 2
    if not group.is_main:
        set_writer(False)
        args = [*args[:1], "--quiet", "--no-progress", *args[1:]] if args[:1] == ["train"] else args
    logging.getLogger("llmrec").info("rank %d of %d (%s)", group.rank, group.world, group.backend)
    try:
        return cli_main(args)
    finally:
        distributed.deactivate()


if __name__ == "__main__":
    raise SystemExit(main())
