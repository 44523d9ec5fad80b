"""Ranking losses (torch only). Numerically safe forms, pinned by hand-computed tests."""

from __future__ import annotations

import math

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


def hardest_negatives(users: torch.Tensor, items: torch.Tensor, candidates: torch.Tensor) -> torch.Tensor:
    """Dynamic negative sampling (Zhang et al., SIGIR 2013; MixGCF's DNS baseline): per row, the
    candidate item the model currently scores highest, as a [B] tensor of item ids.

    `users` are the batch's [B, d] user vectors, `items` all [n_items, d] item vectors, `candidates`
    [B, K] uniformly drawn non-interacted items, or [B] (one uniform negative each), returned as is.
    The choice is made without gradient: the loss then trains on the chosen item like any negative.
    """
    if candidates.dim() == 1:
        return candidates
    with torch.no_grad():
        scores = torch.bmm(items[candidates], users.unsqueeze(2)).squeeze(2)  # [B, K]
        best = scores.argmax(dim=1, keepdim=True)
    return candidates.gather(1, best).squeeze(1)


INFO_NCE_BLOCK = 128  # rows of the similarity matrix formed at once: 128 x 4096 floats is 2 MB


class _BlockedInfoNCE(torch.autograd.Function):
    """Mean over rows i of -log softmax(z1 @ z2.T)_ii, formed `block` rows of z1 at a time.

    The B x B similarity matrix is never held whole. Each block of rows is formed, turned into its
    loss terms and, while still in cache, into its gradients (softmax - I) @ z2 and
    (softmax - I).T @ z1 (B x d each), then dropped. Forward thus computes the gradients and backward
    only scales them. Holding the whole matrix instead (64 MB at B = 4096, written and read back by
    every pass) made InfoNCE nearly a third of a SimGCL step on Gowalla (BENCHMARKS.md). Each row's maximum
    is subtracted before the one exp, so large logits (a tiny temperature) neither overflow nor give
    log(0).
    """

    @staticmethod
    def forward(
        ctx: torch.autograd.function.FunctionCtx, z1: torch.Tensor, z2: torch.Tensor, block: int
    ) -> torch.Tensor:
        n = z1.shape[0]
        want1, want2 = ctx.needs_input_grad[:2]  # type: ignore[attr-defined]
        grad1 = torch.empty_like(z1) if want1 else None
        grad2 = torch.zeros_like(z2) if want2 else None
        total = z1.new_zeros(())
        for start in range(0, n, block):
            rows = z1[start : start + block]
            p = rows @ z2.T
            top = p.max(dim=1, keepdim=True).values
            matching = p.diagonal(start).clone()  # row r of the block matches row start + r of z2
            p.sub_(top).exp_()  # one exp per entry: stable, as every exponent is <= 0
            sums = p.sum(dim=1, keepdim=True)
            total += (top.squeeze(1) + sums.squeeze(1).log() - matching).sum()  # log-sum-exp - matching
            if grad1 is None and grad2 is None:
                continue
            p.div_(sums)
            p.diagonal(start).sub_(1.0)
            if grad1 is not None:
                torch.mm(p, z2, out=grad1[start : start + block])
            if grad2 is not None:
                grad2.addmm_(p.T, rows)
        ctx.grads, ctx.n = (grad1, grad2), n  # type: ignore[attr-defined]  # made here, not inputs
        return total / n

    @staticmethod
    def backward(
        ctx: torch.autograd.function.FunctionCtx, grad: torch.Tensor
    ) -> tuple[torch.Tensor | None, torch.Tensor | None, None]:
        grad1, grad2 = ctx.grads  # type: ignore[attr-defined]
        scale = grad / ctx.n  # type: ignore[attr-defined]
        return None if grad1 is None else grad1 * scale, None if grad2 is None else grad2 * scale, None


def info_nce(
    view1: torch.Tensor, view2: torch.Tensor, temperature: float, block: int = INFO_NCE_BLOCK
) -> torch.Tensor:
    """Mean InfoNCE of row i of `view1` against row i of `view2`, the other rows being negatives.

    Rows are compared by cosine similarity divided by the temperature (applied to the B x d rows,
    not the B x B similarities); the loss is the cross-entropy of picking the matching row.
    """
    z1 = F.normalize(view1, dim=1) / temperature
    z2 = F.normalize(view2, dim=1)
    return _BlockedInfoNCE.apply(z1, z2, block)  # type: ignore[no-any-return]


def node_info_nce(
    view1: torch.Tensor,
    view2: torch.Tensor,
    batch: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
    n_users: int,
    temperature: float,
    max_rows: int,
) -> torch.Tensor:
    """SGL's and SimGCL's contrastive loss: InfoNCE over the batch's unique users plus over its unique
    positive items, between two (n_users + n_items, dim) views with users first.

    Its cost grows with the square of those counts: beyond `max_rows` a uniform sample of them is
    used, so a large batch (e.g. 32768 edges, ~20,000 unique Gowalla users) keeps the number of
    negatives of the published batch of 2048 instead of a 20,000 x 20,000 similarity matrix.
    """
    users, pos, _ = batch
    loss = torch.zeros(())
    for nodes in (torch.unique(users), torch.unique(pos) + n_users):
        if len(nodes) > max_rows:
            nodes = nodes[torch.randperm(len(nodes))[:max_rows]]
        loss = loss + info_nce(view1[nodes], view2[nodes], temperature)
    return loss


def bpr_pair_losses(pos_scores: torch.Tensor, neg_scores: torch.Tensor) -> torch.Tensor:
    """Per-pair BPR loss -log sigmoid(pos - neg), as softplus(neg - pos); `bpr_loss` is its mean."""
    return F.softplus(neg_scores - pos_scores)


def prune_paper(aug_losses: torch.Tensor, prune_ratio: float) -> torch.Tensor:
    """LLMRec paper's noisy-edge pruning: mean loss of the augmented pairs left after dropping the
    floor(prune_ratio * n) pairs with the highest loss (likely LLM mistakes); 0 for no pairs."""
    n = aug_losses.numel()
    n_keep = n - math.floor(prune_ratio * n)
    if n_keep == 0:
        return aug_losses.sum() * 0.0  # keeps the autograd graph; no NaN from an empty mean
    return torch.topk(aug_losses, n_keep, largest=False).values.mean()


def prune_official(pair_losses: torch.Tensor, keep_ratio: float) -> torch.Tensor:
    """Official LLMRec code's pruning: mean loss of the hardest max(1, floor(keep_ratio * n)) of all pairs.

    The code sorts log-sigmoid scores ascending and keeps the first ones: the highest-loss pairs,
    the inverse of the paper's rule. 0 for no pairs.
    """
    n = pair_losses.numel()
    if n == 0:
        return pair_losses.sum() * 0.0
    n_keep = max(1, math.floor(keep_ratio * n))
    return torch.topk(pair_losses, n_keep, largest=True).values.mean()


def scaled_cosine_loss(pred: torch.Tensor, target: torch.Tensor, gamma: float) -> torch.Tensor:
    """GraphMAE's scaled cosine error: mean over rows of (1 - cos(pred, target)) ** gamma.

    1 - cos is clamped at 0 so rounding (cos a hair above 1) never meets a fractional power; a zero
    row counts as orthogonal (cos 0).
    """
    cos = (F.normalize(pred, dim=-1) * F.normalize(target, dim=-1)).sum(-1)
    return (1.0 - cos).clamp_min(0.0).pow(gamma).mean()
