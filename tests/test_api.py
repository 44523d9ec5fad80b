"""The Python API: the README's calls, on a small block dataset."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import llmrec
from tests.conftest import write_block_csv


def test_train_load_and_score(tmp_path: Path) -> None:
    csv = write_block_csv(tmp_path)
    keys = {"data.dataset": "custom", "data.path": str(csv), "data.rating_col": "rating"}
    run = llmrec.train_one(
        out=tmp_path / "pop", overrides=keys, model__name="pop", split__ratios=[0.6, 0.2, 0.2]
    )
    again = llmrec.load(tmp_path / "pop")
    assert again.cfg.model.name == "pop" and again.metrics["test"] == pytest.approx(run.metrics["test"])
    # popularity is the training count of each item, for every user (test_pop checks it by hand)
    counts = torch.tensor(again.split.train.user_items.sum(axis=0).A1, dtype=torch.float32)
    torch.testing.assert_close(again.model().score(torch.tensor([0, 1])), counts.expand(2, -1))
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        llmrec.nope  # noqa: B018
