"""Content-addressed store in SQLite: key -> JSON value, with the stage and time it was written.

One row per key, written in its own transaction the moment a value is handed over, so a process
killed with SIGKILL loses nothing that `put` returned from. WAL mode lets readers and writers
(threads of one process, or several processes) work on the same file at once.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

from llmrec.errors import LLMRecError

SCHEMA_VERSION = 1
_CHUNK = 500  # keys per IN (...) query; well under SQLite's bound on host parameters

_SCHEMA = """
CREATE TABLE IF NOT EXISTS entries (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    meta TEXT NOT NULL,
    stage TEXT NOT NULL,
    created REAL NOT NULL
) WITHOUT ROWID
"""


class CacheError(LLMRecError):
    """A cache file is missing, unreadable or not an llmrec cache."""


def content_key(payload: Any) -> str:
    """SHA-256 of the canonical JSON of `payload` (sorted keys, no whitespace)."""
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class Cache:
    """A key -> JSON value store in one SQLite file; safe to share between threads."""

    def __init__(self, path: str | Path, *, create: bool = True) -> None:
        self.path = Path(path)
        if not create and not self.path.is_file():
            raise CacheError(f"no cache at {self.path}")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
            self._conn.execute("PRAGMA journal_mode=WAL")
            # NORMAL in WAL mode: a commit survives a killed process (it is in the OS page cache);
            # only a power cut can lose the last commits, and those are re-requested next run.
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.execute(_SCHEMA)
            self._check_version()
        except sqlite3.DatabaseError as exc:
            raise CacheError(f"{self.path}: not a usable cache ({exc})") from None
        self._lock = threading.Lock()

    def _check_version(self) -> None:
        """Stamp a new file with the schema version; refuse a file written by a newer schema."""
        (version,) = self._conn.execute("PRAGMA user_version").fetchone()
        if version == 0:
            self._conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        elif version > SCHEMA_VERSION:
            raise CacheError(f"{self.path}: written by a newer llmrec (schema {version} > {SCHEMA_VERSION})")

    def get(self, key: str) -> Any | None:
        """The value stored under `key`, or None."""
        with self._lock:
            row = self._conn.execute("SELECT value FROM entries WHERE key = ?", (key,)).fetchone()
        return None if row is None else json.loads(row[0])

    def get_many(self, keys: Iterable[str]) -> dict[str, Any]:
        """Values for those of `keys` that are stored, as {key: value}."""
        keys = list(dict.fromkeys(keys))
        found: dict[str, Any] = {}
        for start in range(0, len(keys), _CHUNK):
            chunk = keys[start : start + _CHUNK]
            marks = ",".join("?" * len(chunk))
            with self._lock:
                rows = self._conn.execute(f"SELECT key, value FROM entries WHERE key IN ({marks})", chunk)
                found.update((k, json.loads(v)) for k, v in rows.fetchall())
        return found

    def put_many(self, entries: Sequence[tuple[str, Any, Any]], *, stage: str = "") -> None:
        """Store several (key, value, meta) in one transaction: all or none are stored; as `put`,
        the first value written for a key is kept."""
        now = time.time()
        rows = [(key, json.dumps(value), json.dumps(meta), stage, now) for key, value, meta in entries]
        with self._lock:
            self._conn.execute("BEGIN")
            try:
                self._conn.executemany("INSERT OR IGNORE INTO entries VALUES (?, ?, ?, ?, ?)", rows)
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def put(self, key: str, value: Any, *, meta: Any = None, stage: str = "") -> None:
        """Store `value` under `key` durably; the first value written for a key is kept."""
        row = (key, json.dumps(value), json.dumps(meta), stage, time.time())
        with self._lock:
            # First write wins: two runs racing on one key both paid, and keeping the older
            # answer means a rerun always sees the answer it saw before.
            self._conn.execute("INSERT OR IGNORE INTO entries VALUES (?, ?, ?, ?, ?)", row)

    def __contains__(self, key: object) -> bool:
        with self._lock:
            return self._conn.execute("SELECT 1 FROM entries WHERE key = ?", (key,)).fetchone() is not None

    def __len__(self) -> int:
        with self._lock:
            return int(self._conn.execute("SELECT COUNT(*) FROM entries").fetchone()[0])

    def rows(self) -> Iterator[dict[str, Any]]:
        """Every entry as a dict (key, stage, created, meta, value), oldest first, streamed."""
        # A second connection streams without holding the lock; WAL gives it a stable snapshot.
        reader = sqlite3.connect(self.path)
        try:
            query = "SELECT key, stage, created, meta, value FROM entries ORDER BY created, key"
            for key, stage, created, meta, value in reader.execute(query):
                yield {
                    "key": key,
                    "stage": stage,
                    "created": created,
                    "meta": json.loads(meta),
                    "value": json.loads(value),
                }
        finally:
            reader.close()

    def stats(self) -> dict[str, Any]:
        """Entry count per stage, time span and size on disk."""
        with self._lock:
            stages = dict(self._conn.execute("SELECT stage, COUNT(*) FROM entries GROUP BY stage").fetchall())
            first, last = self._conn.execute("SELECT MIN(created), MAX(created) FROM entries").fetchone()
        size = sum(p.stat().st_size for p in _files_of(self.path))
        return {
            "path": str(self.path),
            "entries": sum(stages.values()),
            "stages": dict(sorted(stages.items())),
            "oldest": _iso(first),
            "newest": _iso(last),
            "bytes": size,
        }

    def export(self, out_path: str | Path) -> int:
        """Write every entry as one JSON line to `out_path` (atomically); returns the count."""
        out_path = Path(out_path)
        out_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = out_path.with_name(out_path.name + ".tmp")
        count = 0
        with tmp.open("w", encoding="utf-8") as fh:
            for row in self.rows():
                fh.write(json.dumps(row, ensure_ascii=False) + "\n")
                count += 1
        os.replace(tmp, out_path)
        return count

    def close(self) -> None:
        """Close the connection; the file stays."""
        with self._lock:
            self._conn.close()

    def __enter__(self) -> Cache:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def _files_of(path: Path) -> list[Path]:
    """The database file and its WAL companions that exist."""
    candidates = [path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")]
    return [p for p in candidates if p.exists()]


def _iso(timestamp: float | None) -> str | None:
    """UTC ISO-8601 text for a Unix time, or None."""
    return None if timestamp is None else datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="seconds")


def cache_stats(path: str | Path) -> dict[str, Any]:
    """Statistics of the cache at `path` (for `llmrec cache stats`); raises CacheError if absent."""
    with Cache(path, create=False) as cache:
        return cache.stats()


def cache_export(path: str | Path, out_path: str | Path) -> int:
    """Export the cache at `path` as JSONL to `out_path` (for `llmrec cache export`); rows written."""
    with Cache(path, create=False) as cache:
        return cache.export(out_path)
