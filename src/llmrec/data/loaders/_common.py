"""Shared loader pieces: strict table reading (DataError with file and line) and Dataset assembly."""

from __future__ import annotations

import csv
import io
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from llmrec.data.dataset import Dataset
from llmrec.errors import DataError

_UNIT_SEP = "\x1f"  # stands in for multi-character separators such as `::`; never occurs in text


def read_table(
    path: Path,
    *,
    sep: str,
    names: Sequence[str] | None = None,
    encoding: str = "utf-8",
    quoted: bool = False,
    expect: Sequence[str] = (),
) -> pd.DataFrame:
    """Read a delimited file as strings, indexed by line number; malformed input raises DataError.

    Without `names` the first line is the header. Blank lines are skipped. `expect` lists columns
    that must be present. Empty fields become NaN; nothing else does ("NA" stays a title). The
    index is the line number (for quoted fields spanning lines, the record number).
    """
    text = read_text(path, encoding)
    if len(sep) > 1:  # pandas' fast C parser only takes one-character separators
        text, sep = text.replace(sep, _UNIT_SEP), _UNIT_SEP
    try:
        with warnings.catch_warnings():
            # a row longer than the header is only a warning in pandas; we want it to fail
            warnings.simplefilter("error", pd.errors.ParserWarning)
            frame = pd.read_csv(
                io.StringIO(text),
                sep=sep,
                header=None if names else 0,
                names=list(names) if names else None,
                dtype=str,
                index_col=False,
                quoting=csv.QUOTE_MINIMAL if quoted else csv.QUOTE_NONE,
                skip_blank_lines=False,
                keep_default_na=False,
                na_values=[""],
            )
    except (pd.errors.ParserError, pd.errors.ParserWarning, pd.errors.EmptyDataError) as exc:
        raise DataError(_describe_bad_line(path, text, sep, quoted, names) or f"{path}: {exc}") from None
    frame.index = frame.index + (1 if names else 2)  # physical line numbers, for error messages
    frame = frame.dropna(how="all")
    missing = [c for c in expect if c not in frame.columns]
    if missing:
        raise DataError(f"{path}: missing column(s) {missing}; columns present: {list(frame.columns)}")
    return frame


def read_text(path: Path, encoding: str = "utf-8") -> str:
    """A whole text file; a missing file or an undecodable byte raises DataError with its line."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read: {exc.strerror}") from None
    try:
        return raw.decode(encoding)
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise DataError(f"{path}: line {line}: not valid {encoding} text") from None


def _describe_bad_line(
    path: Path, text: str, sep: str, quoted: bool, names: Sequence[str] | None
) -> str | None:
    """Find the first line whose field count differs from the header's (only run after a failure)."""
    rows = csv.reader(
        io.StringIO(text), delimiter=sep, quoting=csv.QUOTE_MINIMAL if quoted else csv.QUOTE_NONE
    )
    expected = len(names) if names else None
    for fields in rows:
        if not fields:
            continue
        if expected is None:
            expected = len(fields)
        elif len(fields) != expected:
            return f"{path}: line {rows.line_num}: expected {expected} fields, found {len(fields)}"
    if expected is None:
        return f"{path}: file is empty"
    return None


def numbers(frame: pd.DataFrame, column: str, path: Path, *, integer: bool = True) -> np.ndarray:
    """One column as int64 / float64; the first missing or non-numeric value raises DataError."""
    dtype = np.int64 if integer else np.float64
    try:  # a plain cast is several times faster than to_numeric; the checks below run on failure
        fast = frame[column].astype(dtype).to_numpy()
        if integer or np.isfinite(fast).all():  # the float cast lets "nan" and "inf" through
            return fast
    except (ValueError, TypeError, OverflowError):
        pass
    values = pd.to_numeric(frame[column], errors="coerce")
    bad = ~np.isfinite(values.to_numpy(np.float64, na_value=np.nan))
    if integer:
        bad = bad | (values.fillna(0) % 1 != 0).to_numpy()
    if bad.any():
        row = int(np.argmax(bad))
        raw = frame[column].iloc[row]
        what = "is missing" if pd.isna(raw) else f"is {raw!r}, not {'an integer' if integer else 'a number'}"
        raise DataError(f"{path}: line {frame.index[row]}: {column} {what}")
    return values.to_numpy(dtype)


def split_title_year(titles: pd.Series) -> tuple[pd.Series, pd.Series]:
    """'Toy Story (1995)' -> ('Toy Story', 1995); titles without a trailing year keep year <NA>."""
    parts = titles.fillna("").str.extract(r"^(?P<title>.*?)\s*\((?P<year>\d{4})\)\s*$")
    title = parts["title"].where(parts["year"].notna(), titles.fillna("").str.strip())
    return title, pd.to_numeric(parts["year"]).astype("Int64")


def top_tags(items: pd.Series, tags: pd.Series, limit: int) -> pd.Series:
    """Per item, its `limit` most frequent tags (ties alphabetical) joined by ', '."""
    counts = pd.DataFrame({"item": items.to_numpy(), "tag": tags.str.strip().to_numpy()})
    counts = counts[counts["tag"].fillna("") != ""].value_counts().reset_index(name="n")
    counts = counts.sort_values(["item", "n", "tag"], ascending=[True, False, True])
    counts = counts.groupby("item").head(limit)
    # a plain loop over the groups: pandas' per-group Python aggregation is ~30x slower here
    item_col, tag_col = counts["item"].to_numpy(), counts["tag"].to_numpy()
    starts = np.flatnonzero(np.r_[True, item_col[1:] != item_col[:-1]])
    ends = np.r_[starts[1:], len(item_col)]
    joined = [", ".join(tag_col[a:b]) for a, b in zip(starts, ends, strict=True)]
    return pd.Series(joined, index=item_col[starts], dtype=object)


def build_dataset(
    name: str,
    events: pd.DataFrame,
    *,
    user_ids: np.ndarray | None = None,
    item_ids: np.ndarray | None = None,
    item_meta: pd.DataFrame | None = None,
    user_meta: pd.DataFrame | None = None,
    notes: Sequence[str] = (),
) -> Dataset:
    """Map raw ids in `events` (user, item[, rating, timestamp, fold]) to contiguous indices.

    `user_ids` / `item_ids` fix the id space (ids without events allowed); by default it is the
    sorted set of ids seen. Metadata frames are indexed by raw id and come back indexed by internal
    index; `item_meta` always gets `title` (str), `year` (Int64) and `genres` ('|'-joined str).
    """
    user_ids = np.unique(events["user"].to_numpy()) if user_ids is None else np.asarray(user_ids)
    item_ids = np.unique(events["item"].to_numpy()) if item_ids is None else np.asarray(item_ids)
    users = _indices(events["user"], user_ids, name, "user")
    items = _indices(events["item"], item_ids, name, "item")

    def column(key: str, dtype: type) -> np.ndarray | None:
        return events[key].to_numpy(dtype) if key in events else None

    return Dataset(
        name=name,
        users=users,
        items=items,
        user_ids=user_ids,
        item_ids=item_ids,
        ratings=column("rating", np.float32),
        timestamps=column("timestamp", np.int64),
        folds=column("fold", np.int8),
        item_meta=item_frame(item_meta, item_ids),
        user_meta=None if user_meta is None else _by_id(user_meta, user_ids),
        notes=list(notes),
    )


def _indices(raw: pd.Series, ids: np.ndarray, name: str, kind: str) -> np.ndarray:
    """Internal indices of raw ids (a hash lookup); an id outside the id space is a DataError."""
    idx = pd.Index(ids).get_indexer(raw.to_numpy())
    if (idx < 0).any():
        raise DataError(f"{name}: {kind} id {raw.iloc[int(np.argmax(idx < 0))]!r} is outside the id space")
    return idx.astype(np.int64)


def _by_id(meta: pd.DataFrame, ids: np.ndarray) -> pd.DataFrame:
    """Rows of `meta` (indexed by raw id, first row wins) in the order of `ids`, re-indexed 0..n-1."""
    meta = meta[~meta.index.duplicated()].reindex(ids)
    for col in meta.columns:
        if meta[col].dtype == object or pd.api.types.is_string_dtype(meta[col]):
            meta[col] = meta[col].fillna("").astype(str)
    return meta.reset_index(drop=True)


def item_frame(meta: pd.DataFrame | None, item_ids: np.ndarray) -> pd.DataFrame:
    """Item metadata in internal order with the guaranteed columns title, year and genres first."""
    meta = pd.DataFrame(index=pd.Index(item_ids)) if meta is None else meta
    frame = _by_id(meta, item_ids)
    title = frame.pop("title") if "title" in frame else pd.Series("", index=frame.index)
    year = frame.pop("year") if "year" in frame else pd.Series(pd.NA, index=frame.index)
    genres = frame.pop("genres") if "genres" in frame else pd.Series("", index=frame.index)
    head = pd.DataFrame(
        {
            "title": title.fillna("").astype(str),
            "year": pd.to_numeric(year, errors="coerce").astype("Int64"),
            "genres": genres.fillna("").astype(str),
        }
    )
    return pd.concat([head, frame], axis=1)
