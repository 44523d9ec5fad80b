"""SASRec (Kang & McAuley, ICDM 2018): causal self-attention over a user's time-ordered items.

Inputs are padded item sequences: item index + 1, 0 pads, left-padded so the last column is the most
recent item. The hidden state at position t predicts the item at t + 1; all-ranking scores are the
last position's state against every item embedding (shared with the input embedding, as the paper).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from llmrec.models.base import Capabilities

LOSSES = ("bce", "ce")
NEG_BIG = -1e9  # finite: a query whose keys are all masked (a pad position) must not become NaN


@dataclass(frozen=True)
class SASRecConfig:
    """[model.sasrec]: heads, window, dropout and objective; it takes [model] dim and n_layers (blocks).

    `loss = "bce"`: the paper's binary cross-entropy with one sampled negative per position;
    `"ce"`: softmax cross-entropy over every item (RecBole's default for SASRec).
    """

    n_heads: int = 1
    max_len: int = 200  # the most recent items a sequence keeps (the paper's n for ML-1M)
    dropout: float = 0.2
    loss: str = "bce"


class SASRec(nn.Module):
    """Item and position embeddings, `n_layers` pre-norm causal Transformer blocks, a final LayerNorm."""

    capabilities = Capabilities(sequential=True)

    def __init__(
        self,
        n_users: int,
        n_items: int,
        dim: int = 64,
        n_layers: int = 2,
        n_heads: int = 1,
        max_len: int = 200,
        dropout: float = 0.2,
        loss: str = "bce",
    ) -> None:
        super().__init__()
        if loss not in LOSSES:
            raise ValueError(f"loss must be one of {list(LOSSES)}, got {loss!r}")
        if dim % n_heads:
            raise ValueError(f"dim ({dim}) must be a multiple of n_heads ({n_heads})")
        if max_len < 1 or not 0.0 <= dropout < 1.0:
            raise ValueError(f"need max_len >= 1 and 0 <= dropout < 1, got {max_len}, {dropout}")
        self.n_users, self.n_items, self.dim = n_users, n_items, dim
        self.n_heads, self.max_len, self.loss_kind = n_heads, max_len, loss
        self.item_emb = nn.Embedding(n_items + 1, dim, padding_idx=0)
        self.pos_emb = nn.Embedding(max_len, dim)
        self.drop = nn.Dropout(dropout)
        self.blocks = nn.ModuleList(
            nn.TransformerEncoderLayer(
                dim,
                n_heads,
                dim_feedforward=dim,
                dropout=dropout,
                activation="gelu",
                batch_first=True,
                norm_first=True,
            )  # fmt: skip
            for _ in range(n_layers)
        )
        self.norm = nn.LayerNorm(dim)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Xavier-normal embeddings (the reference implementation's choice); the pad row is zero."""
        nn.init.xavier_normal_(self.item_emb.weight)
        nn.init.xavier_normal_(self.pos_emb.weight)
        with torch.no_grad():
            self.item_emb.weight[0].zero_()

    def hidden(self, seqs: torch.Tensor) -> torch.Tensor:
        """[B, L, dim] states of [B, L] padded sequences (cut to their last `max_len` columns)."""
        seqs = seqs[:, -self.max_len :]
        length = seqs.shape[1]
        x = self.item_emb(seqs) * math.sqrt(self.dim) + self.pos_emb.weight[:length]
        real = (seqs > 0).unsqueeze(-1)
        x = self.drop(x) * real
        mask = self._mask(seqs)
        for block in self.blocks:
            x = block(x, src_mask=mask) * real
        return self.norm(x)

    def _mask(self, seqs: torch.Tensor) -> torch.Tensor:
        """[B * heads, L, L] additive mask: no attention to later positions or to padding."""
        length = seqs.shape[1]
        future = torch.triu(torch.ones(length, length, dtype=torch.bool, device=seqs.device), 1)
        blocked = future.unsqueeze(0) | (seqs == 0).unsqueeze(1)  # [B, L(query), L(key)]
        mask = torch.zeros(blocked.shape, dtype=self.item_emb.weight.dtype, device=seqs.device)
        mask = mask.masked_fill(blocked, NEG_BIG)
        return mask.repeat_interleave(self.n_heads, dim=0)

    def loss(self, batch: tuple[torch.Tensor, ...], graph: object = None) -> torch.Tensor:
        """Next-item loss of (inputs, positives, negatives), each [B, L]; positions with positive 0 are
        padding and count for nothing. BCE uses the negatives; CE scores every item and ignores them."""
        inputs, pos, neg = batch[:3]
        h = self.hidden(inputs)
        pos, neg = pos[:, -self.max_len :], neg[:, -self.max_len :]
        real = pos > 0
        if not real.any():
            return h.sum() * 0.0
        h = h[real]
        if self.loss_kind == "ce":
            logits = h @ self.item_emb.weight[1:].T
            return F.cross_entropy(logits, pos[real] - 1)
        pos_logit = (h * self.item_emb(pos[real])).sum(-1)
        neg_logit = (h * self.item_emb(neg[real])).sum(-1)
        return (F.softplus(-pos_logit) + F.softplus(neg_logit)).mean()  # -log s(p) - log(1 - s(n))

    def score(self, users: torch.Tensor, seqs: torch.Tensor) -> torch.Tensor:
        """[len(users), n_items] scores of every item as the next one, from `seqs[users]` (all users'
        padded histories, [n_users, L])."""
        last = self.hidden(seqs[users])[:, -1]
        return last @ self.item_emb.weight[1:].T
