"""GF-CF against a dense numpy computation of the published formula."""

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from llmrec.models.gfcf import GFCF


def dense_gfcf(r: np.ndarray, alpha: float, k: int) -> np.ndarray:
    """r R~^T R~ + alpha r D_i^-1/2 V_k V_k^T D_i^1/2 with a full numpy SVD (the independent route)."""
    d_u, d_i = r.sum(1), r.sum(0)
    norm = r / np.sqrt(d_u)[:, None] / np.sqrt(d_i)[None, :]
    v_k = np.linalg.svd(norm)[2][:k].T  # singular values come sorted, largest first
    low = np.diag(d_i**-0.5) @ v_k @ v_k.T @ np.diag(d_i**0.5)
    return r @ norm.T @ norm + alpha * r @ low


def test_scores_match_the_dense_formula() -> None:
    # singular values of R~ are 1, 0.809 and 0.309: the top-2 subspace is well defined
    r = np.array([[1, 1, 0], [0, 1, 1], [1, 0, 0]], dtype=np.float64)
    model = GFCF(3, 3, alpha=0.3, k=2).fit(sp.csr_matrix(r))
    scores = model.score(torch.tensor([0, 1, 2])).numpy()
    np.testing.assert_allclose(scores, dense_gfcf(r, 0.3, 2), rtol=1e-5, atol=1e-6)
    # user 2 (item 0 only) prefers item 1, co-consumed with item 0 by user 0, over unrelated item 2
    assert scores[2, 1] > scores[2, 2]


def test_k_is_capped_and_unseen_items_stay_finite() -> None:
    # item 3 has no edge: its D_i^1/2 is 0 rather than 1/0, and svds can only give min(shape) - 1 vectors
    r = sp.csr_matrix(np.array([[1, 1, 0, 0], [0, 1, 1, 0], [1, 0, 1, 0]], dtype=np.float32))
    model = GFCF(3, 4, alpha=0.3, k=256).fit(r)
    scores = model.score(torch.tensor([0, 1, 2]))
    assert torch.isfinite(scores).all() and (scores[:, 3] == 0).all()
    assert model.low_out_.shape == (2, 4)


def test_fit_is_reproducible_and_checks_the_shape() -> None:
    rng = np.random.default_rng(0)
    r = sp.random(40, 30, density=0.2, random_state=rng, format="csr")
    users = torch.arange(40)
    a, b = (GFCF(40, 30, k=8, seed=1).fit(r).score(users) for _ in range(2))
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    with pytest.raises(ValueError, match="expected a"):
        GFCF(30, 40).fit(r)
    with pytest.raises(RuntimeError, match="before fit"):
        GFCF(40, 30).score(users)
