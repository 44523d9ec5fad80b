"""Atomic file writes: a temp file beside the target, then a rename over it.

The one helper every writer of llmrec uses (run folders, augmentation artefacts, reports, LLM usage),
so a killed run never leaves half a file and every file it leaves is readable by others (0644:
`mkstemp` makes files private). Imports nothing of llmrec, so any layer may use it.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

FILE_MODE = 0o644  # run folders, artefacts and reports are meant to be read by others
_writer = True  # False on the non-zero ranks of a process group: rank 0 writes for all (llmrec.launch)


def set_writer(enabled: bool) -> None:
    """Whether this process writes files at all; the other ranks of a torchrun group do not."""
    global _writer
    _writer = enabled


def atomic_write(path: Path, write: Callable[[IO[Any]], Any], binary: bool = False) -> None:
    """Call write(file) on a temp file beside `path`, then rename it over `path` (nothing when this
    process is not the writer, see `set_writer`)."""
    if not _writer:
        return
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") if binary else os.fdopen(fd, "w", encoding="utf-8") as f:
            write(f)
        os.chmod(tmp, FILE_MODE)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_text(path: Path, text: str) -> None:
    """A text file, atomically."""
    atomic_write(path, lambda f: f.write(text))


def write_json(path: Path, data: Any) -> None:
    """JSON (indented, UTF-8 kept as is), atomically."""
    write_text(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")


__all__ = ["FILE_MODE", "atomic_write", "set_writer", "write_json", "write_text"]
