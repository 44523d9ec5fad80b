"""The SQLite content-addressed store: durability, first-write-wins, threads, stats and export."""

from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path

import pytest

from llmrec.cache import Cache, CacheError, cache_export, cache_stats, content_key


def test_content_key_is_canonical_and_sensitive() -> None:
    assert content_key({"a": 1, "b": [1, 2]}) == content_key({"b": [1, 2], "a": 1})
    assert content_key({"a": 1}) != content_key({"a": 2})
    assert len(content_key("x")) == 64


def test_put_get_and_reopen(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "c.sqlite"
    with Cache(path) as cache:
        cache.put("k1", {"text": "hello"}, meta={"q": 1}, stage="edges")
        assert cache.get("k1") == {"text": "hello"}
        assert cache.get("nope") is None
        assert "k1" in cache and "nope" not in cache
    with Cache(path) as cache:  # a new connection sees what the first one committed
        assert cache.get("k1") == {"text": "hello"}
        assert len(cache) == 1
        assert sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_first_write_wins(tmp_path: Path) -> None:
    with Cache(tmp_path / "c.sqlite") as cache:
        cache.put("k", "first")
        cache.put("k", "second")
        assert cache.get("k") == "first"
        assert len(cache) == 1


def test_get_many_spans_chunks(tmp_path: Path) -> None:
    with Cache(tmp_path / "c.sqlite") as cache:
        for i in range(1200):
            cache.put(f"k{i}", i)
        found = cache.get_many([f"k{i}" for i in range(0, 1300, 2)] + ["k0"])
    assert found == {f"k{i}": i for i in range(0, 1200, 2)}


def test_concurrent_writers_from_threads(tmp_path: Path) -> None:
    with Cache(tmp_path / "c.sqlite") as cache:

        def write(t: int) -> None:
            for i in range(200):
                cache.put(f"t{t}-{i}", [t, i], stage=f"s{t % 2}")

        threads = [threading.Thread(target=write, args=(t,)) for t in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(cache) == 1600
        assert cache.get("t7-199") == [7, 199]
        assert cache.stats()["stages"] == {"s0": 800, "s1": 800}


def test_stats_and_export(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    with Cache(path) as cache:
        cache.put("a", {"text": "x"}, meta={"messages": []}, stage="edges")
        cache.put("b", {"vector": [1.0]}, meta={"input": "t"}, stage="encode")
    stats = cache_stats(path)
    assert stats["entries"] == 2
    assert stats["stages"] == {"edges": 1, "encode": 1}
    assert stats["bytes"] > 0 and stats["oldest"] <= stats["newest"]
    out = tmp_path / "out" / "export.jsonl"
    assert cache_export(path, out) == 2
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["key"] for r in rows] == ["a", "b"]
    assert rows[0]["value"] == {"text": "x"} and rows[0]["meta"] == {"messages": []}
    assert rows[1]["stage"] == "encode"
    assert not out.with_name("export.jsonl.tmp").exists()


def test_missing_or_foreign_files_raise_cache_error(tmp_path: Path) -> None:
    with pytest.raises(CacheError, match="no cache at"):
        cache_stats(tmp_path / "absent.sqlite")
    assert not (tmp_path / "absent.sqlite").exists()
    junk = tmp_path / "junk.sqlite"
    junk.write_text("this is not a database, just text " * 100)
    with pytest.raises(CacheError, match="not a usable cache"):
        Cache(junk)


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    Cache(path).close()
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version=99")
    conn.close()
    with pytest.raises(CacheError, match="newer llmrec"):
        Cache(path)
