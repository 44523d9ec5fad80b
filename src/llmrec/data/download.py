"""Fetch dataset files from their official sources, verifying sha256 before installing them."""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import urllib.request
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from llmrec.errors import DataError

TIMEOUT_S = 30.0  # per socket operation: fail fast on machines without network


@dataclass(frozen=True)
class DataFile:
    """One file a dataset uses, relative to a data dir, and where it officially comes from."""

    path: str  # e.g. "ml-100k/u.data"
    sha256: str | None = None  # None: no published checksum; only the loader's parse checks guard it
    required: bool = True
    url: str | None = None  # official download (a raw file, or a zip holding `member`)
    member: str | None = None  # path inside the zip at `url`


def fetch(files: Sequence[DataFile], root: Path, timeout: float = TIMEOUT_S) -> None:
    """Download `files` into data dir `root`, one request per URL; nothing is installed unverified."""
    by_url: dict[str, list[DataFile]] = {}
    for file in files:
        if file.url is None:
            raise DataError(f"{file.path}: no download URL is known")
        by_url.setdefault(file.url, []).append(file)
    root.mkdir(parents=True, exist_ok=True)
    for url, group in by_url.items():
        # staging inside `root` keeps the final os.replace atomic (same filesystem)
        with tempfile.TemporaryDirectory(dir=root, prefix=".llmrec-download-") as tmp:
            blob = Path(tmp) / "download"
            download(url, blob, timeout)
            staged = [(_member(blob, f, Path(tmp)) if f.member else blob, f) for f in group]
            for source, file in staged:
                verify(source, file.sha256, f"{url}#{file.member}" if file.member else url)
            for source, file in staged:
                dest = root / file.path
                dest.parent.mkdir(parents=True, exist_ok=True)
                os.replace(source, dest)


def download(url: str, dest: Path, timeout: float = TIMEOUT_S) -> None:
    """Stream `url` into `dest`; any network or URL error raises DataError naming the URL."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response, dest.open("wb") as out:
            shutil.copyfileobj(response, out, 1 << 20)
    except (OSError, ValueError) as exc:  # URLError/HTTPError/timeouts are OSErrors; bad URLs ValueErrors
        raise DataError(f"download of {url} failed: {getattr(exc, 'reason', exc)}") from None


def _member(archive: Path, file: DataFile, tmp: Path) -> Path:
    """Extract `file.member` of the zip `archive` to a staging file."""
    out = tmp / f"member-{Path(file.path).name}"
    try:
        with zipfile.ZipFile(archive) as zf, zf.open(str(file.member)) as src, out.open("wb") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
    except zipfile.BadZipFile:
        raise DataError(f"{file.url}: not a zip archive") from None
    except KeyError:
        raise DataError(f"{file.url}: archive has no member {file.member}") from None
    return out


def verify(path: Path, sha256: str | None, source: str) -> None:
    """Raise DataError when `path`'s sha256 differs from the published one (None: nothing to check)."""
    if sha256 is None:
        return
    digest = sha256_of(path)
    if digest != sha256:
        raise DataError(f"{source}: sha256 {digest} differs from the expected {sha256}; not installed")


def sha256_of(path: Path) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
