"""LLMRec's Netflix split (HKUDS/LLMRec): train/val/test JSON dicts of "user" -> [item, ...]."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from llmrec.data.dataset import TEST, TRAIN, VALID, Dataset
from llmrec.data.loaders._common import build_dataset, numbers, read_table, read_text
from llmrec.errors import DataError

# LLMRec paper, Table 1: the id space includes items never seen in the split (max id seen: 17,363)
N_USERS, N_ITEMS = 13187, 17366
TITLES = "DERIVED_item_title_year_roworder.tsv"


def read_user_items(path: Path) -> pd.DataFrame:
    """(user, item) events of one `{"user": [items]}` JSON file, in file order."""
    try:
        data = json.loads(read_text(path))
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}: line {exc.lineno}: invalid JSON: {exc.msg}") from None
    if not isinstance(data, dict):
        raise DataError(f"{path}: expected a JSON object of user -> [item, ...]")
    users: list[int] = []
    items: list[int] = []
    for key, values in data.items():
        if not key.isdigit() or not isinstance(values, list) or not all(_is_id(v) for v in values):
            raise DataError(
                f"{path}: user {key!r}: expected a non-negative integer key and a list of item ids"
            )
        users.extend([int(key)] * len(values))
        items.extend(values)
    return pd.DataFrame({"user": np.array(users, dtype=np.int64), "item": np.array(items, dtype=np.int64)})


def _is_id(value: object) -> bool:
    """A JSON item id: a non-negative int (bool is an int subclass in Python, so excluded)."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def load_netflix(folder: Path) -> Dataset:
    """Train and test folds (and valid only if val.json differs from test.json), plus row-order titles."""
    notes = []
    parts = [read_user_items(folder / "train.json").assign(fold=TRAIN)]
    test_path, val_path = folder / "test.json", folder / "val.json"
    parts.append(read_user_items(test_path).assign(fold=TEST))
    if val_path.is_file() and val_path.read_bytes() != test_path.read_bytes():
        parts.append(read_user_items(val_path).assign(fold=VALID))
    else:
        notes.append(
            "llmrec-netflix: val.json is identical to test.json in the release, so it is not used; "
            "validation is carved from train"
        )
    events = pd.concat(parts, ignore_index=True)
    item_meta = None
    if (folder / TITLES).is_file():
        item_meta = _titles(folder / TITLES)
        notes.append(
            f"llmrec-netflix: titles come from {TITLES} in the row order of the official "
            "item_attribute.csv; the title <-> item id alignment is UNVERIFIED (see its MANIFEST.md)"
        )
    return build_dataset(
        "llmrec-netflix",
        events,
        user_ids=np.arange(max(N_USERS, int(events["user"].max()) + 1)),
        item_ids=np.arange(max(N_ITEMS, int(events["item"].max()) + 1)),
        item_meta=item_meta,
        notes=notes,
    )


def _titles(path: Path) -> pd.DataFrame:
    """Title and year per row of the derived title table, indexed by row (assumed item id)."""
    raw = read_table(path, sep="\t", expect=["row", "title", "year"])
    meta = raw[["title", "year"]].copy()
    meta.index = numbers(raw, "row", path)
    return meta
