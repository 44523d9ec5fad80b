"""LightGCN-format splits (gowalla, yelp2018, ml-1m-lightgcnpp): `user item item ...` per line.

Ids in the files are already 0-based and contiguous; they are kept as the raw ids. The original ids
in `user_list.txt` / `item_list.txt` (when present) become an `org_id` metadata column.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pandas as pd

from llmrec.data.dataset import TEST, TRAIN, VALID, Dataset
from llmrec.data.loaders._common import build_dataset, numbers, read_table
from llmrec.errors import DataError


def read_adjacency(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(users, items) of one adjacency-list file; users listed without items contribute nothing."""
    try:
        lines = path.read_bytes().splitlines()
    except OSError as exc:
        raise DataError(f"{path}: cannot read: {exc.strerror or exc}") from None
    rows = [line.split() for line in lines]
    lengths = np.fromiter(map(len, rows), dtype=np.int64, count=len(rows))
    try:  # one vectorised conversion of every token; the slow scan below runs only on failure
        tokens = np.array(list(itertools.chain.from_iterable(rows)), dtype=bytes).astype(np.int64)
    except ValueError:
        raise DataError(_first_bad_line(path, rows)) from None
    if (tokens < 0).any():
        raise DataError(_first_bad_line(path, rows))
    starts = np.cumsum(lengths) - lengths
    nonempty = lengths > 0
    users = np.repeat(tokens[starts[nonempty]], lengths[nonempty] - 1)
    is_item = np.ones(len(tokens), dtype=bool)
    is_item[starts[nonempty]] = False
    return users, tokens[is_item]


def _first_bad_line(path: Path, rows: list[list[bytes]]) -> str:
    """Message naming the first line holding a token that is not a non-negative integer."""
    for number, row in enumerate(rows, start=1):
        for token in row:
            if not token.isdigit():
                shown = token.decode(errors="replace")
                return f"{path}: line {number}: {shown!r} is not a non-negative integer id"
    return f"{path}: malformed"


def _org_ids(path: Path) -> pd.Series | None:
    """`org_id remap_id` list as a Series of original ids indexed by remapped id (None if absent)."""
    if not path.is_file():
        return None
    raw = read_table(path, sep=" ", expect=["org_id", "remap_id"])
    return pd.Series(raw["org_id"].to_numpy(), index=numbers(raw, "remap_id", path), name="org_id")


def load_lightgcn(folder: Path, name: str, fold_files: dict[int, str]) -> Dataset:
    """Events of every fold file present, with folds; id space = 0..max id (or the id lists' length)."""
    parts = []
    for fold, filename in fold_files.items():
        users, items = read_adjacency(folder / filename)
        parts.append(pd.DataFrame({"user": users, "item": items, "fold": np.int8(fold)}))
    events = pd.concat(parts, ignore_index=True)
    user_org, item_org = _org_ids(folder / "user_list.txt"), _org_ids(folder / "item_list.txt")
    n_users = max(int(events["user"].max()) + 1, 0 if user_org is None else len(user_org))
    n_items = max(int(events["item"].max()) + 1, 0 if item_org is None else len(item_org))
    return build_dataset(
        name,
        events,
        user_ids=np.arange(n_users),
        item_ids=np.arange(n_items),
        item_meta=None if item_org is None else item_org.to_frame(),
        user_meta=None if user_org is None else user_org.to_frame(),
    )


def load_gowalla(folder: Path) -> Dataset:
    """Gowalla check-ins, LightGCN/NGCF split (train.txt / test.txt)."""
    return load_lightgcn(folder, "gowalla", {TRAIN: "train.txt", TEST: "test.txt"})


def load_yelp2018(folder: Path) -> Dataset:
    """Yelp 2018, LightGCN/NGCF split (train.txt / test.txt)."""
    return load_lightgcn(folder, "yelp2018", {TRAIN: "train.txt", TEST: "test.txt"})


def load_ml1m_lightgcnpp(folder: Path) -> Dataset:
    """ML-1M (rating >= 3) in LightGCN format with its own valid fold (geon0325/LightGCNpp)."""
    return load_lightgcn(
        folder, "ml-1m-lightgcnpp", {TRAIN: "train.txt", VALID: "valid.txt", TEST: "test.txt"}
    )
