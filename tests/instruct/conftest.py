"""A trained run on the block CSV (36 users in three blocks of 12 items, 8 training items each), and
its export, shared by the instruct tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from llmrec.cli import main
from tests.conftest import write_block_csv


def train_block_run(root: Path) -> Path:
    """`llmrec train` BPR-MF for two epochs on the block CSV (split 0.6 / 0.2 / 0.2); returns the folder."""
    csv = write_block_csv(root)
    out = root / "run"
    args = [
        "train", "--dataset", "custom", "--model", "bpr-mf", "--out", str(out), "--epochs", "2",
        "--set", f'data.path="{csv}"', "--set", f'data.items_path="{root / "items.csv"}"',
        "--set", 'data.rating_col="rating"', "--set", "split.ratios=[0.6, 0.2, 0.2]", "--no-progress",
        "--quiet",
    ]  # fmt: skip
    assert main(args) == 0
    return out


@pytest.fixture(scope="package")
def block_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The trained block run (shared: tests only read it)."""
    return train_block_run(tmp_path_factory.mktemp("block"))
