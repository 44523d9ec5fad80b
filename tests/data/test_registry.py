"""Registry: search order, locating files, verified downloads (local file:// and http only), status."""

from __future__ import annotations

import functools
import hashlib
import http.server
import re
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from llmrec.config import DataConfig
from llmrec.data.download import DataFile, fetch
from llmrec.data.prepare import load_dataset
from llmrec.data.registry import DATASETS, DatasetSpec, dataset_status, find_data_dirs, locate
from llmrec.errors import ConfigError, DataError

U_DATA = b"1\t10\t5\t100\n2\t10\t3\t200\n"
U_ITEM = b"10|Heat (1995)|01-Jan-1995||http://x|" + b"|".join([b"0"] * 19) + b"\n"


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _zip_with(path: Path, members: dict[str, bytes]) -> str:
    """Write a zip archive and return its file:// URL."""
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path.as_uri()


def _spec(url: str, u_data_sha: str | None = None, extra: tuple[DataFile, ...] = ()) -> DatasetSpec:
    """An ml-100k-like spec whose files come from `url`."""
    files = (
        DataFile("toy/u.data", u_data_sha or sha(U_DATA), True, url, "toy/u.data"),
        DataFile("toy/u.item", sha(U_ITEM), True, url, "toy/u.item"),
        *extra,
    )
    return DatasetSpec("toy", "a toy", "toy", files, False, DATASETS["ml-100k"].loader)


def test_find_data_dirs_order_and_dedupe() -> None:
    home = Path.home()
    assert find_data_dirs("/a", "/b") == [Path("/a"), Path("/b"), Path("data"), home / ".cache/llmrec/data"]
    assert find_data_dirs(None, "/a") == [Path("/a"), Path("data"), home / ".cache/llmrec/data"]
    assert find_data_dirs("/a", "/a") == [Path("/a"), Path("data"), home / ".cache/llmrec/data"]
    assert find_data_dirs("~/x", None)[0] == home / "x"


def test_registry_lists_every_dataset_with_sources() -> None:
    assert set(DATASETS) == {
        "ml-100k", "ml-1m", "ml-1m-lightgcnpp", "ml-latest-small", "gowalla", "yelp2018",
        "llmrec-netflix", "lastfm", "custom",
    }  # fmt: skip
    for spec in DATASETS.values():
        for f in spec.files:
            assert f.path.split("/")[0] == spec.folder or not f.required, f.path
            assert f.sha256 is None or re.fullmatch(r"[0-9a-f]{64}", f.sha256), f.path
            assert f.url is None or f.url.startswith("https://"), f.url
        if any(f.url is None for f in spec.required):
            assert spec.manual, spec.name
    assert DATASETS["ml-1m"].required[0].sha256 is None  # ratings.dat: no published checksum
    assert "drive.google.com" in DATASETS["llmrec-netflix"].manual
    assert [s.name for s in DATASETS.values() if s.has_split] == [
        "ml-1m-lightgcnpp",
        "gowalla",
        "yelp2018",
        "llmrec-netflix",
    ]


def test_locate_returns_first_dir_with_all_required_files(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    (a / "toy").mkdir(parents=True)
    (a / "toy/u.data").write_bytes(U_DATA)  # u.item missing here
    (b / "toy").mkdir(parents=True)
    (b / "toy/u.data").write_bytes(U_DATA)
    (b / "toy/u.item").write_bytes(U_ITEM)
    assert locate(_spec("https://unused.invalid/x.zip"), [a, b], download=False) == b / "toy"


def test_locate_missing_without_download_names_file_dirs_and_url(tmp_path: Path) -> None:
    (tmp_path / "a/toy").mkdir(parents=True)
    (tmp_path / "a/toy/u.data").write_bytes(U_DATA)
    with pytest.raises(DataError) as err:
        locate(_spec("https://example.org/toy.zip"), [tmp_path / "a", tmp_path / "b"], download=False)
    message = str(err.value)
    assert "\n" not in message
    assert "missing toy/u.item;" in message  # the dir holding the most files decides what is missing
    assert f"searched {tmp_path / 'a'}, {tmp_path / 'b'}" in message
    assert "https://example.org/toy.zip" in message


def test_download_from_local_zip_verifies_and_installs(tmp_path: Path) -> None:
    url = _zip_with(tmp_path / "toy.zip", {"toy/u.data": U_DATA, "toy/u.item": U_ITEM, "toy/other": b"x"})
    root = tmp_path / "data"
    root.mkdir()
    folder = locate(_spec(url), [tmp_path / "absent", root])
    assert folder == root / "toy"
    assert (folder / "u.data").read_bytes() == U_DATA and (folder / "u.item").read_bytes() == U_ITEM
    assert sorted(p.name for p in root.iterdir()) == ["toy"]  # no staging leftovers
    assert not (folder / "other").exists()


def test_download_with_wrong_sha256_installs_nothing(tmp_path: Path) -> None:
    url = _zip_with(tmp_path / "toy.zip", {"toy/u.data": U_DATA, "toy/u.item": U_ITEM})
    root = tmp_path / "data"
    root.mkdir()
    with pytest.raises(
        DataError, match=r"download failed \(.*toy.zip#toy/u.data: sha256 [0-9a-f]{64} differs"
    ):
        locate(_spec(url, u_data_sha="0" * 64), [root])
    assert list(root.iterdir()) == []


def test_download_failure_and_missing_member_are_data_errors(tmp_path: Path) -> None:
    root = tmp_path / "data"
    root.mkdir()
    with pytest.raises(
        DataError, match=r"missing toy/u.data, toy/u.item; .*download of file://.*nope.zip failed"
    ):
        locate(_spec((tmp_path / "nope.zip").as_uri()), [root])
    url = _zip_with(tmp_path / "toy.zip", {"toy/u.data": U_DATA})
    with pytest.raises(DataError, match=r"archive has no member toy/u.item"):
        locate(_spec(url), [root])
    (tmp_path / "junk.zip").write_bytes(b"not a zip")
    with pytest.raises(DataError, match=r"junk.zip: not a zip archive"):
        locate(_spec((tmp_path / "junk.zip").as_uri()), [root])


@pytest.fixture
def http_dir(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """A folder served over HTTP on 127.0.0.1 (a free port) for the duration of one test."""
    served = tmp_path / "served"
    served.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    handler.log_message = lambda *args: None  # keep test output clean
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield served, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_fetch_raw_files_over_http(http_dir: tuple[Path, str], tmp_path: Path) -> None:
    served, base = http_dir
    (served / "train.txt").write_bytes(b"0 1 2\n")
    (served / "test.txt").write_bytes(b"0 3\n")
    files = [
        DataFile("g/train.txt", sha(b"0 1 2\n"), True, f"{base}/train.txt"),
        DataFile("g/test.txt", sha(b"0 3\n"), True, f"{base}/test.txt"),
    ]
    root = tmp_path / "data"
    fetch(files, root)
    assert (root / "g/train.txt").read_bytes() == b"0 1 2\n" and (
        root / "g/test.txt"
    ).read_bytes() == b"0 3\n"
    with pytest.raises(
        DataError, match=r"download of http://127.0.0.1:\d+/absent.txt failed: File not found"
    ):
        fetch([DataFile("g/absent.txt", None, True, f"{base}/absent.txt")], root)


def test_download_fetches_optional_files_from_the_same_archive(tmp_path: Path) -> None:
    url = _zip_with(
        tmp_path / "toy.zip", {"toy/u.data": U_DATA, "toy/u.item": U_ITEM, "toy/u.user": b"1|2|M|x|1\n"}
    )
    extra = (DataFile("toy/u.user", None, False, url, "toy/u.user"), DataFile("side/x.csv", None, False))
    folder = locate(_spec(url, extra=extra), [tmp_path])
    assert (folder / "u.user").read_bytes() == b"1|2|M|x|1\n"
    assert not (tmp_path / "side").exists()


def test_manual_only_dataset_says_where_to_get_it(tmp_path: Path) -> None:
    with pytest.raises(
        DataError, match=r"missing llmrec-netflix/train.json, llmrec-netflix/test.json; .*Google Drive"
    ):
        locate(DATASETS["llmrec-netflix"], [tmp_path])


def test_dataset_status_reports_found_and_missing(tmp_path: Path) -> None:
    (tmp_path / "ml-100k").mkdir()
    (tmp_path / "ml-100k/u.data").write_bytes(U_DATA)
    (tmp_path / "ml-100k/u.item").write_bytes(U_ITEM)
    (tmp_path / "ml-1m").mkdir()
    (tmp_path / "ml-1m/movies.dat").write_bytes(b"1::A (1995)::Drama\n")
    rows = {r["name"]: r for r in dataset_status([tmp_path])}
    assert rows["ml-100k"]["path"] == str(tmp_path / "ml-100k") and rows["ml-100k"]["missing"] == []
    assert rows["ml-100k"]["missing_optional"] == [
        "ml-100k/u.user",
        "ml-100k-imdb-details/movielens100k_details.csv",
    ]
    assert rows["ml-1m"]["path"] is None and rows["ml-1m"]["missing"] == ["ml-1m/ratings.dat"]
    assert rows["gowalla"]["missing"] == ["gowalla/train.txt", "gowalla/test.txt"]
    assert rows["custom"] == {
        "name": "custom", "description": DATASETS["custom"].description, "path": None, "missing": [],
        "missing_optional": [],
    }  # fmt: skip


def test_unknown_dataset_lists_valid_names(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"unknown dataset 'ml-10m'; valid names: ml-100k, ml-1m, .*custom"):
        load_dataset(DataConfig(dataset="ml-10m"), [tmp_path])
