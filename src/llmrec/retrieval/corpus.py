"""An item-knowledge corpus: any CSV, TSV, JSONL or Parquet file of documents, read into a typed `Corpus`.

A `CorpusSpec` names the id, title, year and text columns. Bad input is either an error naming the file
and what is wrong, or counted in `CorpusStats`, never silently dropped:

- a missing column: `DataError` listing the columns found;
- bytes that are not valid in `spec.encoding`: `DataError` naming the line. Replacing them would
  corrupt the very titles the retrieval searches by; a file in another encoding (MovieLens' latin-1)
  is read by declaring it, not by guessing;
- a repeated id: the first row is kept, the others are counted (`duplicates = "first"`, the default:
  scraped corpora repeat rows), or `DataError` (`duplicates = "error"`);
- a row whose text columns are all empty (or hold a `null_values` placeholder): counted and skipped.

The two offline corpora are presets of the same reader: `IMDB_DETAILS` and `MELU`.
"""

from __future__ import annotations

import ast
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import pandas as pd

from llmrec.data.loaders._common import read_table, read_text
from llmrec.errors import DataError
from llmrec.retrieval.text import display_title, parse_year, split_year

_SEPARATORS = {".csv": ",", ".tsv": "\t", ".tab": "\t"}


@dataclass(frozen=True)
class CorpusSpec:
    """Where a corpus file keeps each field; at least one of `id_column` and `title_column` is needed.

    `year_from_title` parses a trailing "(1995)" out of the title when the year column is absent or
    blank. `names` gives the columns of a header-less file (then `sep` is required for unknown
    suffixes, e.g. "::"). `null_values` are placeholders that count as empty text.
    """

    id_column: str | None = "id"
    title_column: str | None = "title"
    year_column: str | None = None
    text_columns: tuple[str, ...] = ()
    year_from_title: bool = True
    sep: str | None = None
    names: tuple[str, ...] = ()
    encoding: str = "utf-8"
    null_values: tuple[str, ...] = ("N/A", "nan")
    duplicates: Literal["first", "error"] = "first"

    def __post_init__(self) -> None:
        if self.id_column is None and self.title_column is None:
            raise DataError("a corpus spec needs an id column or a title column")
        if self.duplicates not in ("first", "error"):
            raise DataError(f"duplicates must be 'first' or 'error', not {self.duplicates!r}")

    def columns(self) -> list[str]:
        """Every column the spec reads."""
        named = [self.id_column, self.title_column, self.year_column, *self.text_columns]
        return [c for c in named if c is not None]


# The ML-100K IMDb scrape. Its titles are MovieLens' own ("Graduate, The (1967)"), but its `year` is
# what the scraper found, so the year is NOT taken from the title: a blank or TV-episode year then
# stays visible to the trust gate instead of being papered over with MovieLens' year.
IMDB_DETAILS = CorpusSpec(
    id_column="movie_id",
    title_column="movie_title",
    year_column="year",
    text_columns=("description", "director", "writer", "cast", "genre", "age_rating", "movie_length"),
    year_from_title=False,
    null_values=(
        "N/A",
        "nan",
        "It looks like we don't have any Plot Summaries for this title yet.\nBe the first to contribute!"
        ' Just click the "Edit page" button at the bottom of the page or learn more in the Plot Summary'
        " submission guide.",
    ),
)

# MeLU's OMDb metadata for ML-1M: `::`-separated, no header, UTF-8, OMDb titles ("The Alarmist").
MELU = CorpusSpec(
    id_column="movie_id",
    title_column="title",
    year_column="year",
    text_columns=("plot", "director", "writer", "actors", "genre", "rated", "released"),
    sep="::",
    names=(
        "movie_id",
        "title",
        "year",
        "rated",
        "released",
        "genre",
        "director",
        "writer",
        "actors",
        "plot",
        "poster",
    ),  # fmt: skip
)


@dataclass
class CorpusStats:
    """What loading did: rows read, documents kept, repeated ids and empty-text rows skipped."""

    path: str
    rows: int = 0
    kept: int = 0
    duplicate_ids: int = 0
    empty_text: int = 0
    first_duplicates: list[str] = field(default_factory=list)  # up to 5, for the log


@dataclass(frozen=True)
class Corpus:
    """Documents in file order: ids, titles (as written), years (None when unknown) and text fields."""

    ids: tuple[str, ...]
    titles: tuple[str, ...]
    years: tuple[int | None, ...]
    fields: dict[str, tuple[str, ...]]
    stats: CorpusStats

    def __len__(self) -> int:
        return len(self.ids)

    def position(self, doc_id: str) -> int:
        """Index of the document with this id; KeyError when there is none."""
        return self.ids.index(doc_id)

    def passage(self, doc: int) -> str:
        """Document `doc` as prompt-ready text: 'Title (Year)' then one 'field: value' line per field."""
        head = display_title(self.titles[doc]) if self.titles[doc] else self.ids[doc]
        year = self.years[doc]
        lines = [f"{head} ({year})" if year is not None else head]
        lines += [f"{name}: {values[doc]}" for name, values in self.fields.items() if values[doc]]
        return "\n".join(lines)


def load_corpus(path: str | Path, spec: CorpusSpec) -> Corpus:
    """Read a document file (.csv, .tsv, .jsonl, .parquet, or any delimited file with `spec.sep`)."""
    path = Path(path)
    frame = _read_frame(path, spec)
    missing = [c for c in spec.columns() if c not in frame.columns]
    if missing:
        raise DataError(f"{path}: missing column(s) {missing}; columns present: {list(frame.columns)}")
    return _build(path, frame, spec)


def _read_frame(path: Path, spec: CorpusSpec) -> pd.DataFrame:
    """The file as a frame of strings indexed by line (or record) number."""
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson"):
        return _read_jsonl(path, spec.encoding)
    if suffix in (".parquet", ".pq"):
        return _read_parquet(path)
    sep = spec.sep or _SEPARATORS.get(suffix)
    if sep is None:
        raise DataError(f"{path}: unknown corpus format {suffix!r}; give the spec a separator (sep)")
    names = spec.names or None
    return read_table(path, sep=sep, names=names, encoding=spec.encoding, quoted=len(sep) == 1)


def _read_jsonl(path: Path, encoding: str) -> pd.DataFrame:
    """One JSON object per line; a line that is not one raises DataError naming it."""
    rows: list[dict[str, object]] = []
    lines: list[int] = []
    for number, line in enumerate(read_text(path, encoding).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(f"{path}: line {number}: invalid JSON: {exc.msg}") from None
        if not isinstance(row, dict):
            raise DataError(f"{path}: line {number}: expected a JSON object, found {type(row).__name__}")
        rows.append(row)
        lines.append(number)
    if not rows:
        raise DataError(f"{path}: file is empty")
    return pd.DataFrame(rows, index=lines)


def _read_parquet(path: Path) -> pd.DataFrame:
    """A Parquet file (needs pyarrow: the `parquet` extra); rows numbered from 1."""
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    try:
        frame = pd.read_parquet(path)
    except ImportError:
        raise DataError(f"{path}: reading Parquet needs pyarrow: pip install 'llmrec[parquet]'") from None
    except Exception as exc:  # pyarrow raises its own types for corrupt files and invalid UTF-8
        raise DataError(f"{path}: not a readable Parquet file: {exc}") from None
    frame.index = range(1, len(frame) + 1)
    return frame


def _build(path: Path, frame: pd.DataFrame, spec: CorpusSpec) -> Corpus:
    """Clean cells, drop repeated ids and empty documents (counting both), parse years."""
    stats = CorpusStats(path=str(path), rows=len(frame))
    nulls = set(spec.null_values)
    seen: set[str] = set()
    ids: list[str] = []
    titles: list[str] = []
    years: list[int | None] = []
    texts: dict[str, list[str]] = {c: [] for c in spec.text_columns}
    for position, (line, row) in enumerate(frame.iterrows()):
        title = _clean(row[spec.title_column], nulls) if spec.title_column else ""
        doc_id = _clean(row[spec.id_column], nulls) if spec.id_column else str(position)
        if not doc_id:
            raise DataError(f"{path}: line {line}: {spec.id_column} is empty")
        values = {c: _clean(row[c], nulls) for c in spec.text_columns}
        if doc_id in seen:
            if spec.duplicates == "error":
                raise DataError(f"{path}: line {line}: duplicate id {doc_id!r}")
            stats.duplicate_ids += 1
            if len(stats.first_duplicates) < 5:
                stats.first_duplicates.append(doc_id)
            continue
        seen.add(doc_id)
        if not any(values.values()) and spec.text_columns:
            stats.empty_text += 1
            continue
        year = parse_year(_clean(row[spec.year_column], nulls)) if spec.year_column else None
        if year is None and spec.year_from_title:
            year = split_year(title)[1]
        ids.append(doc_id)
        titles.append(title)
        years.append(year)
        for c in spec.text_columns:
            texts[c].append(values[c])
    stats.kept = len(ids)
    fields = {c: tuple(v) for c, v in texts.items()}
    return Corpus(tuple(ids), tuple(titles), tuple(years), fields, stats)


def _clean(value: object, nulls: set[str]) -> str:
    """A cell as stripped text: missing and placeholder values become '', list literals are joined.

    Scrapes store lists as Python literals ("['David Lean']"); joined with ', ' they read as text.
    """
    if value is None or (isinstance(value, float) and value != value):
        return ""
    # a numeric id read from JSON or Parquet as a float: 12.0 -> "12"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).strip()
    if text.startswith("[") and text.endswith("]"):
        text = _join_list(text)
    return "" if text in nulls else text


def _join_list(text: str) -> str:
    """'['a', 'b']' -> 'a, b'; text that only looks like a list stays as it is."""
    try:
        parsed = ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return text
    if not isinstance(parsed, list):
        return text
    return ", ".join(str(v).strip() for v in parsed if str(v).strip() not in ("", "nan", "N/A"))
