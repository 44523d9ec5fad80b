"""The user's own interactions file (CSV or Parquet), with columns named in `DataConfig`."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from llmrec.config import DataConfig
from llmrec.data.dataset import Dataset
from llmrec.data.loaders._common import build_dataset, numbers, read_table
from llmrec.errors import ConfigError, DataError


def load_custom(config: DataConfig) -> Dataset:
    """Events from `config.path`, item titles from `config.items_path` when given."""
    if not config.path:
        raise ConfigError("dataset 'custom' needs data.path (a CSV or Parquet file of interactions)")
    path = Path(config.path)
    wanted = [c for c in (config.user_col, config.item_col, config.rating_col, config.time_col) if c]
    raw = read_any(path, config.sep, wanted)
    events = pd.DataFrame({"user": ids(raw, config.user_col, path), "item": ids(raw, config.item_col, path)})
    if config.rating_col:
        events["rating"] = numbers(raw, config.rating_col, path, integer=False)
    if config.time_col:
        events["timestamp"] = timestamps(raw, config.time_col, path)
    item_meta = None
    if config.items_path:
        items_path = Path(config.items_path)
        items = read_any(items_path, config.sep, [config.item_col, config.item_title_col])
        item_meta = items.drop(columns=[config.item_col]).rename(columns={config.item_title_col: "title"})
        item_meta.index = ids(items, config.item_col, items_path)
        if item_meta.index.dtype != events["item"].dtype:  # e.g. int ids in one file, text in the other
            item_meta.index = item_meta.index.astype(str)
            events["item"] = events["item"].astype(str)
    return build_dataset("custom", events, item_meta=item_meta)


def read_any(path: Path, sep: str, columns: list[str]) -> pd.DataFrame:
    """A CSV (any extension but .parquet/.pq) or Parquet file as strings, checking `columns` exist."""
    if path.suffix.lower() not in (".parquet", ".pq"):
        return read_table(path, sep=sep, quoted=True, expect=columns)
    try:
        import pyarrow.parquet as pq  # optional dependency: only Parquet input needs it
    except ImportError:
        raise DataError(f"{path}: reading Parquet needs pyarrow: pip install 'llmrec[parquet]'") from None
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    try:
        frame = pq.read_table(path).to_pandas()
    except Exception as exc:  # pyarrow raises several unrelated types for corrupt files
        raise DataError(f"{path}: not a readable Parquet file: {exc}") from None
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise DataError(f"{path}: missing column(s) {missing}; columns present: {list(frame.columns)}")
    frame.index = pd.RangeIndex(1, len(frame) + 1)  # Parquet has no lines: errors name the 1-based row
    return frame


def ids(frame: pd.DataFrame, column: str, path: Path) -> np.ndarray:
    """An id column as int64 when every value is a plain integer, else as strings; missing ids fail."""
    values = frame[column]
    if values.isna().any():
        raise DataError(
            f"{path}: line {values.index[int(values.isna().to_numpy().argmax())]}: {column} is missing"
        )
    text = values.astype(str).str.strip()
    as_numbers = pd.to_numeric(text, errors="coerce")
    if as_numbers.notna().all() and (as_numbers % 1 == 0).all():
        as_ints = as_numbers.to_numpy(np.int64)
        # "007" and "7" are different ids: only ids that print back unchanged become numbers
        if (pd.Series(as_ints, index=text.index).astype(str) == text).all():
            return as_ints
    return text.to_numpy(dtype=object)


def timestamps(frame: pd.DataFrame, column: str, path: Path) -> np.ndarray:
    """Unix seconds from numbers or date strings; the first unparsable value fails with its line."""
    values = frame[column]
    as_numbers = pd.to_numeric(values, errors="coerce")
    if as_numbers.notna().all():
        return numbers(frame, column, path, integer=False).astype(np.int64)
    dates = pd.to_datetime(values, errors="coerce", utc=True, format="mixed")
    if dates.isna().any():
        row = int(dates.isna().to_numpy().argmax())
        raise DataError(f"{path}: line {values.index[row]}: {column} {values.iloc[row]!r} is not a time")
    return ((dates - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(seconds=1)).to_numpy(np.int64)
