"""Exact inner-product search over document vectors: FAISS `IndexFlatIP` when installed, else numpy.

Both are exhaustive, so they return the same neighbours; FAISS is the faster one on large corpora
(`pip install 'llmrec[faiss]'`). Vectors from `llmrec.encode` are L2-normalised, so the inner
product is the cosine.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np

from llmrec.errors import ConfigError
from llmrec.retrieval.bm25 import top_k

Backend = Literal["auto", "faiss", "numpy"]
QUERY_BATCH = 1024


def faiss_available() -> bool:
    """Whether the faiss module can be imported."""
    try:
        import faiss  # noqa: F401
    except ImportError:
        return False
    return True


class DenseIndex:
    """Exact top-k by inner product over `vectors` ([n_docs, dim] float32)."""

    def __init__(self, vectors: np.ndarray, backend: Backend = "auto") -> None:
        if backend not in ("auto", "faiss", "numpy"):
            raise ConfigError(f"dense backend must be auto, faiss or numpy, not {backend!r}")
        if backend == "faiss" and not faiss_available():
            raise ConfigError("the faiss backend needs faiss-cpu: pip install 'llmrec[faiss]'")
        self.vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        self.backend = "faiss" if backend == "auto" and faiss_available() else backend
        if self.backend == "auto":
            self.backend = "numpy"
        self._faiss: Any = None
        if self.backend == "faiss":
            import faiss

            self._faiss = faiss.IndexFlatIP(self.vectors.shape[1])
            self._faiss.add(self.vectors)

    def __len__(self) -> int:
        return int(self.vectors.shape[0])

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-k (scores, doc indices) per query row, best first."""
        queries = np.ascontiguousarray(queries, dtype=np.float32)
        k = min(k, len(self))
        if self._faiss is not None:
            scores, docs = self._faiss.search(queries, k)
            return scores, docs.astype(np.int64)
        out_scores = np.zeros((len(queries), k), dtype=np.float32)
        out_docs = np.zeros((len(queries), k), dtype=np.int64)
        for start in range(0, len(queries), QUERY_BATCH):
            block = queries[start : start + QUERY_BATCH] @ self.vectors.T
            scores, docs = top_k(block, k)
            out_scores[start : start + len(block)] = scores
            out_docs[start : start + len(block)] = docs
        return out_scores, out_docs
