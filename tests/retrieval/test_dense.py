"""The dense index: FAISS and numpy brute force return the same neighbours."""

from __future__ import annotations

import numpy as np
import pytest

from llmrec.errors import ConfigError
from llmrec.retrieval.dense import DenseIndex, faiss_available


def _vectors(rng: np.random.Generator, n: int) -> np.ndarray:
    v = rng.standard_normal((n, 32)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def test_numpy_backend_matches_a_full_sort() -> None:
    rng = np.random.default_rng(0)
    docs, queries = _vectors(rng, 500), _vectors(rng, 40)
    scores, idx = DenseIndex(docs, backend="numpy").search(queries, 10)
    expected = np.argsort(-(queries @ docs.T), axis=1)[:, :10]
    assert (idx == expected).all()
    np.testing.assert_allclose(scores, np.take_along_axis(queries @ docs.T, expected, axis=1), rtol=1e-5)


def test_faiss_and_numpy_give_the_same_top_k() -> None:
    if not faiss_available():
        pytest.skip("faiss-cpu is not installed (pip install 'llmrec[faiss]'): only numpy was checked")
    rng = np.random.default_rng(1)
    docs, queries = _vectors(rng, 2000), _vectors(rng, 100)
    f_scores, f_idx = DenseIndex(docs, backend="faiss").search(queries, 10)
    n_scores, n_idx = DenseIndex(docs, backend="numpy").search(queries, 10)
    assert (f_idx == n_idx).all()
    np.testing.assert_allclose(f_scores, n_scores, rtol=1e-4, atol=1e-6)


def test_unknown_backend_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="auto, faiss or numpy"):
        DenseIndex(np.zeros((2, 3), np.float32), backend="annoy")  # type: ignore[arg-type]
