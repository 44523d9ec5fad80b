"""What the augmentations read from a base run: the split, item and user metadata, and a user's history."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from llmrec.augment.prompts import item_line
from llmrec.data.dataset import Split
from llmrec.data.interactions import Interactions
from llmrec.rundir import load_item_meta, load_user_meta


@dataclass(frozen=True)
class Inputs:
    """Train and valid interactions plus metadata rows by internal index (empty fields left out)."""

    train: Interactions
    valid: Interactions
    items: list[dict[str, str]]  # title, year, genres, director... as the dataset has them
    users: list[dict[str, str]]  # age, gender, occupation... as the dataset has them
    noun: str  # what an item is called in prompts

    @property
    def n_users(self) -> int:
        """Number of users."""
        return self.train.n_users

    @property
    def n_items(self) -> int:
        """Number of items."""
        return self.train.n_items

    def history(self, user: int, seed: int) -> np.ndarray:
        """The user's training items in a fixed random order, so a budget cut keeps an unbiased sample."""
        items = self.train.items_of(user)
        return np.random.default_rng([seed, user]).permutation(items)


def load_inputs(run_dir: Path, split: Split, noun: str) -> Inputs:
    """The split (as `rundir.load_split` read it) with the run directory's item and user metadata."""
    n_users, n_items = split.train.n_users, split.train.n_items
    return Inputs(
        split.train,
        split.valid,
        _rows(load_item_meta(run_dir), "item_id", n_items),
        _rows(load_user_meta(run_dir), "user_id", n_users),
        noun,
    )


def _rows(frame: pd.DataFrame | None, id_column: str, n: int) -> list[dict[str, str]]:
    """One dict of non-empty text fields per row; empty dicts when the run saved no metadata."""
    if frame is None:
        return [{} for _ in range(n)]
    columns = [c for c in frame.columns if c != id_column]
    records = frame[columns].to_dict("records")
    return [{k: str(v).strip() for k, v in r.items() if str(v).strip()} for r in records]


def item_lines(
    inputs: Inputs, max_field_words: int, extra: Mapping[str, list[str | None]] | None = None
) -> list[str]:
    """Every item described in one line, with `extra` attributes (e.g. augmented ones) added where known."""
    ids = inputs.train.item_ids
    lines = []
    for i, meta in enumerate(inputs.items):
        fields = dict(meta)
        for name, values in (extra or {}).items():
            value = values[i]
            if value and not fields.get(name):
                fields[name] = value
        lines.append(item_line(fields, str(ids[i]), max_field_words))
    return lines


@dataclass(frozen=True)
class ItemLines:
    """Each item described twice: in full for candidates, briefly for histories (so more of them fit)."""

    full: list[str]
    brief: list[str]


def describe_items(
    inputs: Inputs, full_words: int, brief_words: int, extra: Mapping[str, list[str | None]] | None = None
) -> ItemLines:
    """Both descriptions of every item, each metadata field cut to `full_words` or `brief_words` words."""
    return ItemLines(item_lines(inputs, full_words, extra), item_lines(inputs, brief_words, extra))
