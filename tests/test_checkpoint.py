"""Checkpoints: a training run killed mid-way resumes from its last saved state and ends exactly where
an unbroken run ends (same weights, same history), for every kind of random stream a model draws."""

from __future__ import annotations

import io
import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from llmrec import train as trainmod
from llmrec.cli import main
from llmrec.config import EvalConfig, TrainConfig
from llmrec.data.interactions import Interactions
from llmrec.graph import build_graph
from llmrec.models import build_model
from llmrec.rundir import RunCheckpoint
from llmrec.train import FitResult, fit
from tests.conftest import block_interactions, write_block_csv


class Killed(Exception):
    """Stands for the process dying: raised from inside the loop, after some checkpoints were saved."""


class MemoryCheckpoint:
    """A `train.Checkpoint` that serialises like a file (so no tensor is shared with the live run)."""

    def __init__(self, interval: float = 0.0) -> None:
        self.blob: bytes | None = None
        self.saves, self.interval = 0, interval  # 0: after every epoch

    def load(self) -> dict[str, Any] | None:
        if self.blob is None:
            return None
        return torch.load(io.BytesIO(self.blob), weights_only=True)  # type: ignore[no-any-return]

    def save(self, state: dict[str, Any]) -> None:
        buffer = io.BytesIO()
        torch.save(state, buffer)
        self.blob, self.saves = buffer.getvalue(), self.saves + 1


def _data() -> tuple[Interactions, Interactions]:
    rng = np.random.default_rng(0)
    return block_interactions(rng, 200, noise=0.5), block_interactions(rng, 60, noise=0.5)


def _model(name: str) -> torch.nn.Module:
    torch.manual_seed(5)
    return build_model(name, 30, 40, 8, 2, 1e-4)


def _kill_at(monkeypatch: pytest.MonkeyPatch, name: str, call: int) -> list[int]:
    """Make `llmrec.train.<name>` raise `Killed` on its `call`-th call; returns the call counter."""
    real, calls = getattr(trainmod, name), [0]

    def wrapped(*args: Any, **kwargs: Any) -> Any:
        calls[0] += 1
        if calls[0] == call:
            raise Killed
        return real(*args, **kwargs)

    monkeypatch.setattr(trainmod, name, wrapped)
    return calls


def _same(a: torch.nn.Module, b: torch.nn.Module) -> None:
    for key, weight in a.state_dict().items():
        torch.testing.assert_close(b.state_dict()[key], weight, rtol=0, atol=0, msg=key)


def _without_times(result: FitResult) -> list[dict[str, Any]]:
    return [{k: v for k, v in h.items() if "seconds" not in k} for h in result.history]


# (model, settings): uniform and dynamic negatives under a cosine schedule; SimGCL's noise comes from
# torch's generator, SGL's dropped edges from the trainer's per-epoch numpy stream
CASES = [
    ("lightgcn", {"lr_schedule": "cosine"}),
    ("lightgcn", {"negatives": 4}),
    ("simgcl", {}),
    ("sgl", {}),
    ("bpr-mf", {"patience": 2}),
]


@pytest.mark.parametrize(
    ("name", "settings"), CASES, ids=[f"{n}-{'-'.join(s) or 'default'}" for n, s in CASES]
)
def test_a_killed_fit_resumes_to_the_same_model(
    name: str, settings: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    train, valid = _data()
    graph = build_graph(train)
    cfg = TrainConfig(epochs=10, batch_size=32, lr=0.01, eval_every=2, metric="ndcg@10", **settings)
    eval_cfg = EvalConfig(ks=(10,), batch_size=16)
    unbroken = _model(name)
    want = fit(unbroken, train, valid, graph, cfg, eval_cfg, seed=3, show_progress=False)

    checkpoint = MemoryCheckpoint()
    calls = _kill_at(monkeypatch, "validate", 3)  # dies at epoch 6's validation: epoch 5 was saved
    with pytest.raises(Killed):
        fit(
            _model(name),
            train,
            valid,
            graph,
            cfg,
            eval_cfg,
            seed=3,
            show_progress=False,
            checkpoint=checkpoint,
        )
    assert checkpoint.saves == 5
    resumed = _model(name)  # a fresh process: the initial weights again, overwritten by the checkpoint
    got = fit(resumed, train, valid, graph, cfg, eval_cfg, seed=3, show_progress=False, checkpoint=checkpoint)
    # resumed, not restarted: after the 2 validations and the killed one, it validated from epoch 6 on
    assert calls[0] == 3 + len(want.history) - 2
    assert _without_times(got) == _without_times(want)
    assert (got.best_epoch, got.best_valid, got.stopped_by) == (
        want.best_epoch,
        want.best_valid,
        want.stopped_by,
    )
    _same(unbroken, resumed)


def test_a_resumed_fit_validates_only_the_epochs_left(monkeypatch: pytest.MonkeyPatch) -> None:
    train, valid = _data()
    graph = build_graph(train)
    cfg = TrainConfig(epochs=10, batch_size=32, lr=0.01, eval_every=2, metric="ndcg@10")
    eval_cfg = EvalConfig(ks=(10,), batch_size=16)
    checkpoint = MemoryCheckpoint()
    calls = _kill_at(monkeypatch, "validate", 3)
    with pytest.raises(Killed):
        fit(_model("lightgcn"), train, valid, graph, cfg, eval_cfg, seed=3, checkpoint=checkpoint)
    epochs = _kill_at(monkeypatch, "_train_epoch", 0)  # counts epochs, never kills
    fit(_model("lightgcn"), train, valid, graph, cfg, eval_cfg, seed=3, checkpoint=checkpoint)
    assert calls[0] == 3 + 3 and epochs[0] == 5  # epochs 6-10 trained, 6, 8 and 10 validated again


def test_a_stopped_fit_is_not_continued_on_resume(monkeypatch: pytest.MonkeyPatch) -> None:
    # patience ran out and the final state was saved; a kill before the model reached disk must not
    # make the rerun train past the stop
    train, valid = _data()
    graph = build_graph(train)
    cfg = TrainConfig(epochs=30, batch_size=32, lr=0.05, eval_every=1, patience=1, metric="ndcg@10")
    eval_cfg = EvalConfig(ks=(10,), batch_size=16)
    checkpoint = MemoryCheckpoint()
    want = fit(_model("bpr-mf"), train, valid, graph, cfg, eval_cfg, seed=3, checkpoint=checkpoint)
    assert want.stopped_by == "patience" and len(want.history) < 30
    epochs = _kill_at(monkeypatch, "_train_epoch", 0)
    again = _model("bpr-mf")
    got = fit(again, train, valid, graph, cfg, eval_cfg, seed=3, checkpoint=checkpoint)
    assert epochs[0] == 0 and got.stopped_by == "patience" and got.best_epoch == want.best_epoch
    assert _without_times(got) == _without_times(want)


@pytest.mark.parametrize("name", ["lightgcn", "simgcl"])
def test_a_killed_refit_resumes_to_the_same_model(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    train, _ = _data()
    graph = build_graph(train)
    cfg = TrainConfig(epochs=10, batch_size=32, lr=0.01, eval_every=2, lr_schedule="cosine")
    unbroken = _model(name)
    want = fit(unbroken, train, None, graph, cfg, EvalConfig(), seed=3, stop_after=7)
    checkpoint = MemoryCheckpoint()
    _kill_at(monkeypatch, "_train_epoch", 6)  # saved after epochs 1-5, dies in epoch 6
    with pytest.raises(Killed):
        fit(_model(name), train, None, graph, cfg, EvalConfig(), seed=3, stop_after=7, checkpoint=checkpoint)
    assert checkpoint.saves == 5
    epochs = _kill_at(monkeypatch, "_train_epoch", 0)
    resumed = _model(name)
    got = fit(resumed, train, None, graph, cfg, EvalConfig(), seed=3, stop_after=7, checkpoint=checkpoint)
    assert epochs[0] == 2  # epochs 6 and 7
    assert [h["loss"] for h in got.history] == [h["loss"] for h in want.history]
    _same(unbroken, resumed)
    # a refit to another epoch count does not take that state
    epochs[0] = 0
    fit(_model(name), train, None, graph, cfg, EvalConfig(), seed=3, stop_after=5, checkpoint=checkpoint)
    assert epochs[0] == 5


def test_checkpoints_wait_for_their_interval_except_at_a_stop() -> None:
    train, valid = _data()
    graph = build_graph(train)
    eval_cfg = EvalConfig(ks=(10,), batch_size=16)
    six = TrainConfig(epochs=6, batch_size=32, metric="ndcg@10")
    rare = MemoryCheckpoint(interval=3600.0)
    fit(_model("bpr-mf"), train, valid, graph, six, eval_cfg, 3, checkpoint=rare)
    assert rare.saves == 0  # an hour never passed, and the run ran to its last epoch
    stopped = TrainConfig(epochs=30, batch_size=32, lr=0.05, patience=1, metric="ndcg@10")
    result = fit(_model("bpr-mf"), train, valid, graph, stopped, eval_cfg, 3, checkpoint=rare)
    assert result.stopped_by == "patience" and rare.saves == 1  # the stop is saved at once
    # the interval itself, on a clock read at 0, 7, 14, ... s: due at 21 s, then 21 s after each save
    clock = iter(float(t) for t in range(0, 1000, 7))
    saver = trainmod._Saver(MemoryCheckpoint(interval=20.0), clock=lambda: next(clock))  # read at 0
    due = []
    for _ in range(6):
        due.append(saver.due(False))  # read at 7, 14, 21, ...
        if due[-1]:
            saver.save({})  # read again: the interval restarts here
    assert due == [False, False, True, False, False, True]
    assert trainmod._Saver(None).due(True) is False  # nothing to save to


def test_a_run_checkpoint_is_ignored_when_foreign_or_damaged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "seed1-train.ckpt"
    RunCheckpoint(path, "abc").save({"epoch": 4})
    assert RunCheckpoint(path, "abc").load() == {"epoch": 4}
    with caplog.at_level(logging.INFO, logger="llmrec"):
        assert RunCheckpoint(path, "other").load() is None
        path.write_bytes(path.read_bytes()[:20])  # cut short, as a disk error might
        assert RunCheckpoint(path, "abc").load() is None
    assert "another configuration" in caplog.text and "cannot be read" in caplog.text
    RunCheckpoint(path, "abc").clear()
    assert not path.exists()


def _train_args(csv: Path, out: Path) -> list[str]:
    return ["train", "--dataset", "custom", "--model", "simgcl", "--out", str(out), "--no-progress",
            "--set", f'data.path="{csv}"', "--set", 'data.rating_col="rating"', "--set", "model.dim=8",
            "--set", "split.ratios=[0.6, 0.2, 0.2]", "--set", "train.refit=true", "--epochs", "40",
            "--set", "train.lr=0.005", "--set", "train.batch_size=32", "--set", "train.eval_every=2",
            "--set", "train.patience=1000", "--set", "train.threads=1",
            "--set", "train.checkpoint_minutes=0"]  # fmt: skip


def test_a_sigkilled_train_command_resumes_where_it_was_killed(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    csv = write_block_csv(tmp_path)
    want_dir, killed_dir = tmp_path / "unbroken", tmp_path / "killed"
    assert main(_train_args(csv, want_dir)) == 0
    want = json.loads((want_dir / "metrics.json").read_text())
    ckpt = killed_dir / "seed2024-train.ckpt"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])}
    child = subprocess.Popen(
        [sys.executable, "-m", "llmrec", *_train_args(csv, killed_dir)], env=env, stderr=subprocess.PIPE
    )
    deadline = time.monotonic() + 120
    while not ckpt.exists() and child.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    child.send_signal(signal.SIGKILL)
    child.wait()
    assert ckpt.exists() and not (killed_dir / "metrics.json").exists(), child.stderr.read().decode()[-2000:]
    with caplog.at_level(logging.INFO, logger="llmrec"):
        assert main(_train_args(csv, killed_dir)) == 0
    assert "resuming after epoch" in caplog.text
    got = json.loads((killed_dir / "metrics.json").read_text())
    strip = lambda hist: [{k: v for k, v in h.items() if "seconds" not in k} for h in hist]  # noqa: E731
    assert strip(got["runs"][0]["history"]) == strip(want["runs"][0]["history"])
    assert got["test"] == want["test"] and got["valid"] == want["valid"]
    assert not list(killed_dir.glob("*.ckpt"))  # removed once the models were saved
