"""Ranking losses (torch only). Numerically safe forms, pinned by hand-computed tests."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def bpr_loss(pos_scores: torch.Tensor, neg_scores: torch.Tensor) -> torch.Tensor:
    """Mean of -log sigmoid(pos - neg), computed as softplus(neg - pos) to avoid log(0)."""
    return F.softplus(neg_scores - pos_scores).mean()


def l2_reg(*embeddings: torch.Tensor) -> torch.Tensor:
    """Half the squared L2 norm of the given embedding rows, divided by the batch size.

    This is LightGCN's reference regulariser: it touches only the batch's layer-0 embeddings,
    so the penalty per row is independent of the batch size.
    """
    batch = embeddings[0].shape[0]
    return sum((e.pow(2).sum() for e in embeddings), torch.zeros(())) / (2 * batch)
