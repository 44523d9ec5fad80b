"""Biased matrix factorisation for explicit ratings (Koren et al., IEEE Computer 2009).

    r_hat(u, i) = mu + b_u + b_i + p_u . q_i

trained by mean squared error with L2 on the batch's rows. Index `n_users` (`n_items`) is the
unknown user (item): its bias and vector are zero and never trained, so a user or item absent from
training is predicted by the global mean and the other side's bias alone.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from llmrec.models.base import Capabilities


@dataclass(frozen=True)
class BiasedMFConfig:
    """[biased-mf]: embedding width and the L2 weight on the batch's biases and vectors."""

    dim: int = 32
    reg: float = 0.05


class BiasedMF(nn.Module):
    """Global mean + user bias + item bias + dot product of user and item vectors."""

    capabilities = Capabilities(rating=True)
    global_mean: torch.Tensor  # a buffer: the training ratings' mean, saved with the weights

    def __init__(
        self, n_users: int, n_items: int, dim: int = 32, reg: float = 0.05, global_mean: float = 0.0
    ) -> None:
        super().__init__()
        if dim < 1 or reg < 0:
            raise ValueError(f"dim must be >= 1 and reg >= 0, got dim={dim}, reg={reg}")
        self.n_users, self.n_items, self.dim, self.reg = n_users, n_items, dim, reg
        # the extra last row is the unknown user / item (padding: zero, no gradient)
        self.user_emb = nn.Embedding(n_users + 1, dim, padding_idx=n_users)
        self.item_emb = nn.Embedding(n_items + 1, dim, padding_idx=n_items)
        self.user_bias = nn.Embedding(n_users + 1, 1, padding_idx=n_users)
        self.item_bias = nn.Embedding(n_items + 1, 1, padding_idx=n_items)
        self.register_buffer("global_mean", torch.tensor(float(global_mean)))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Small normal vectors (std 0.01: the dot product starts near zero), zero biases."""
        for table in (self.user_emb, self.item_emb):
            nn.init.normal_(table.weight, std=0.01)
        for table in (self.user_bias, self.item_bias):
            nn.init.zeros_(table.weight)
        with torch.no_grad():
            self.user_emb.weight[self.n_users].zero_()
            self.item_emb.weight[self.n_items].zero_()

    def predict(
        self, users: torch.Tensor, items: torch.Tensor, attributes: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Predicted ratings of the (user, item) pairs, unclipped: [B] (it reads no attributes)."""
        dot = (self.user_emb(users) * self.item_emb(items)).sum(-1)
        bias = self.user_bias(users).squeeze(-1) + self.item_bias(items).squeeze(-1)
        return self.global_mean + bias + dot

    def loss(self, batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
        """MSE of (users, items, ratings) plus reg times the mean squared norm of the batch's rows."""
        users, items, ratings = batch[0], batch[1], batch[2]
        error = self.predict(users, items) - ratings
        rows = (
            self.user_emb(users).pow(2).sum(-1)
            + self.item_emb(items).pow(2).sum(-1)
            + self.user_bias(users).squeeze(-1).pow(2)
            + self.item_bias(items).squeeze(-1).pow(2)
        )
        return error.pow(2).mean() + self.reg * rows.mean()
