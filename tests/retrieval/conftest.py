"""Fixtures for the retrieval tests: a file writer, a tiny movie corpus, a fake encoder, the real data."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pytest

Writer = Callable[..., Path]


@pytest.fixture
def write(tmp_path: Path) -> Writer:
    """write("docs.csv", text) creates the file under tmp_path (bytes pass through unchanged)."""

    def _write(name: str, content: str | bytes) -> Path:
        path = tmp_path / name
        path.write_bytes(content.encode() if isinstance(content, str) else content)
        return path

    return _write


MOVIES_CSV = """id,title,year,plot
1,The Shawshank Redemption,1994,Two imprisoned men bond over a number of years.
2,Sabrina,1954,A playboy becomes interested in the daughter of his family's chauffeur.
3,Sabrina,1995,An ugly duckling having undergone a remarkable change still harbors feelings.
4,12 Monkeys,1995,A convict is sent back in time to gather information about a virus.
5,Il Postino: The Postman,1994,A simple Italian postman learns to love poetry.
"""


class HashingEncoder:
    """A deterministic stand-in for a sentence encoder: character trigrams hashed into 64 dimensions."""

    id = "hashing-trigrams"

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), 64), dtype=np.float32)
        for row, text in enumerate(texts):
            padded = f"  {text.lower()} "
            for i in range(len(padded) - 2):
                out[row, hashlib.md5(padded[i : i + 3].encode()).digest()[0] % 64] += 1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.where(norms > 0, norms, 1.0)


@pytest.fixture
def encoder() -> HashingEncoder:
    """The fake encoder (no model download, no torch)."""
    return HashingEncoder()


@pytest.fixture(scope="session")
def real_dir() -> Path:
    """The offline copies of the real datasets (CI sets LLMREC_DATA_DIR)."""
    value = os.environ.get("LLMREC_DATA_DIR")
    if not value:
        pytest.skip("LLMREC_DATA_DIR is not set; real-dataset checks need the offline data copies")
    return Path(value)
