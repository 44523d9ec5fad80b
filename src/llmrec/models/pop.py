"""MostPop: every user gets the items with the most training interactions, the bar any model must clear."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import torch
from torch import nn

from llmrec.models.base import Capabilities, GraphLike


@dataclass(frozen=True)
class PopConfig:
    """[model.pop]: none; popularity is a count of training interactions."""


class MostPop(nn.Module):
    """Scores each item by its number of training users, the same for every user.

    Solved in closed form by `fit`; its counts are a function of the edges, so they stay out of
    `state_dict` and a saved run refits them when loaded (like GF-CF). Ties are broken by item index
    (`torch.topk` keeps the first), so the ranking is deterministic.
    """

    capabilities = Capabilities(closed_form=True)

    def __init__(self, n_users: int, n_items: int) -> None:
        super().__init__()
        self.n_users, self.n_items = n_users, n_items
        self.counts_: torch.Tensor | None = None

    def fit(self, user_items: sp.csr_matrix) -> MostPop:
        """Count each item's distinct training users; returns self."""
        if user_items.shape != (self.n_users, self.n_items):
            raise ValueError(f"expected a {(self.n_users, self.n_items)} matrix, got {user_items.shape}")
        binary = user_items.tocsr().copy()
        binary.data[:] = 1.0
        self.counts_ = torch.from_numpy(np.asarray(binary.sum(axis=0), dtype=np.float32).ravel())
        return self

    def score(self, users: torch.Tensor, graph: GraphLike | None = None) -> torch.Tensor:
        """[len(users), n_items]: every row is the item counts."""
        if self.counts_ is None:
            raise RuntimeError("MostPop.score before fit: call fit(user_items) first")
        return self.counts_.expand(len(users), -1).clone()
