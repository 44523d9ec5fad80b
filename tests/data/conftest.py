"""Shared fixtures for the data tests: a file writer and the real-data directory."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

Writer = Callable[..., Path]


@pytest.fixture
def write(tmp_path: Path) -> Writer:
    """write("ml-100k/u.data", text, encoding="utf-8") creates the file under tmp_path."""

    def _write(relative: str, text: str, encoding: str = "utf-8", newline: str = "\n") -> Path:
        path = tmp_path / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text.replace("\n", newline).encode(encoding))
        return path

    return _write


@pytest.fixture(scope="session")
def real_dir() -> Path:
    """The offline copies of the real datasets (CI sets LLMREC_DATA_DIR)."""
    value = os.environ.get("LLMREC_DATA_DIR")
    if not value:
        pytest.skip("LLMREC_DATA_DIR is not set; real-dataset checks need the offline data copies")
    return Path(value)
