"""`Interactions`: the one currency between stages, a users x items CSR matrix plus raw id maps."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp


@dataclass(frozen=True)
class Interactions:
    """Implicit feedback as a binary users x items CSR matrix (rows are users).

    `user_ids[u]` / `item_ids[i]` give the raw (dataset) id of internal index u / i. All parts of one
    split (train, valid, test) share the same id maps and shape.
    """

    user_items: sp.csr_matrix
    user_ids: np.ndarray
    item_ids: np.ndarray

    def __post_init__(self) -> None:
        n_users, n_items = self.user_items.shape
        if len(self.user_ids) != n_users or len(self.item_ids) != n_items:
            raise ValueError(
                f"id maps ({len(self.user_ids)} users, {len(self.item_ids)} items) do not match "
                f"the matrix shape {self.user_items.shape}"
            )

    @classmethod
    def from_pairs(
        cls, users: np.ndarray, items: np.ndarray, user_ids: np.ndarray, item_ids: np.ndarray
    ) -> Interactions:
        """Build from parallel arrays of internal indices; duplicates collapse to one edge."""
        users = np.asarray(users, dtype=np.int64)
        items = np.asarray(items, dtype=np.int64)
        data = np.ones(len(users), dtype=np.float32)
        mat = sp.csr_matrix((data, (users, items)), shape=(len(user_ids), len(item_ids)))
        mat.sum_duplicates()
        mat.data[:] = 1.0
        mat.sort_indices()
        return cls(mat, np.asarray(user_ids), np.asarray(item_ids))

    @property
    def n_users(self) -> int:
        """Number of users (rows), including users without interactions here."""
        return int(self.user_items.shape[0])

    @property
    def n_items(self) -> int:
        """Number of items (columns)."""
        return int(self.user_items.shape[1])

    @property
    def nnz(self) -> int:
        """Number of (user, item) edges."""
        return int(self.user_items.nnz)

    def items_of(self, user: int) -> np.ndarray:
        """Internal item indices of one user's interactions."""
        m = self.user_items
        return m.indices[m.indptr[user] : m.indptr[user + 1]]

    def active_users(self) -> np.ndarray:
        """Internal indices of users with at least one interaction."""
        return np.flatnonzero(np.diff(self.user_items.indptr) > 0)

    def pairs(self) -> tuple[np.ndarray, np.ndarray]:
        """(users, items) arrays of every edge, in row order."""
        m = self.user_items
        users = np.repeat(np.arange(m.shape[0], dtype=np.int64), np.diff(m.indptr))
        return users, m.indices.astype(np.int64)

    def with_matrix(self, user_items: sp.csr_matrix) -> Interactions:
        """Same id maps, other edges (e.g. train + augmented edges)."""
        return Interactions(user_items.tocsr(), self.user_ids, self.item_ids)
