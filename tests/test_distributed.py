"""Data-parallel training with two CPU processes under torchrun (gloo): the same steps as one process,
validation sharded by users with the same means, and a killed rank resumed from rank 0's checkpoint."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from llmrec.distributed import Group, shard
from llmrec.launch import main as launch_main
from tests.ddp_worker import run

ROOT = Path(__file__).resolve().parents[1]
TORCHRUN = Path(sys.executable).with_name("torchrun")


def launch(out: Path, *extra: str) -> int:
    """Run tests/ddp_worker.py in two processes under torchrun."""
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{ROOT}", "OMP_NUM_THREADS": "1"}
    worker = str(ROOT / "tests" / "ddp_worker.py")
    cmd = [str(TORCHRUN), "--standalone", "--nproc_per_node=2", worker, str(out), *extra]
    return subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, timeout=240).returncode


def result(out: Path, rank: int = 0) -> dict[str, Any]:
    return dict(torch.load(f"{out}.rank{rank}", weights_only=False))


def test_shares_of_a_batch_cover_it_once() -> None:
    arrays = (np.arange(7), np.arange(7) * 10)
    parts = [shard(arrays, Group(r, 3, "gloo")) for r in range(3)]
    assert [len(p[0]) for p in parts] == [2, 2, 3]
    assert np.array_equal(np.concatenate([p[1] for p in parts]), arrays[1])


def test_two_processes_train_as_one_and_resume_after_a_kill(tmp_path: Path) -> None:
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    threads = torch.get_num_threads()
    run(tmp_path / "one" / "r", 0, 0)  # the one-process reference, in this process
    torch.set_num_threads(threads)
    one = result(tmp_path / "one" / "r")
    # Two ranks; rank 0 is killed right after saving epoch 4 of 6, and nothing is left but its checkpoint.
    out = tmp_path / "two" / "r"
    assert launch(out, "--die-at", "4") != 0
    assert (tmp_path / "two" / "checkpoint.pt").is_file() and not Path(f"{out}.rank0").exists()
    # A second launch resumes both ranks from rank 0's checkpoint and finishes.
    assert launch(out) == 0
    two, two_b = result(out), result(out, 1)
    # Validation sharded over two ranks gives the one-process means (same fixed model).
    assert two["fixed_metrics"].keys() == one["fixed_metrics"].keys()
    for name, value in one["fixed_metrics"].items():
        assert abs(two["fixed_metrics"][name] - value) < 1e-9, name
    # Each rank took its share of every batch; averaged gradients make the one-process step.
    assert two["best_epoch"] == one["best_epoch"] and len(two["history"]) == len(one["history"])
    np.testing.assert_allclose(
        [h["loss"] for h in two["history"]], [h["loss"] for h in one["history"]], rtol=1e-5
    )
    for key, weight in one["state"].items():
        torch.testing.assert_close(two["state"][key], weight, rtol=0, atol=1e-5, msg=key)
        torch.testing.assert_close(two_b["state"][key], two["state"][key], rtol=0, atol=0, msg=key)  # in sync


def test_launch_outside_torchrun_says_so(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"):
        monkeypatch.delenv(name, raising=False)
    assert launch_main(["train", "--help"]) == 2
    assert (
        "not started by torchrun: RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT unset" in capsys.readouterr().err
    )
