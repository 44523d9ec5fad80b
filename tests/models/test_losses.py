"""Losses pinned to values computed by hand."""

import math

import pytest
import torch

from llmrec.models.losses import bpr_loss, l2_reg


def test_bpr_loss_by_hand() -> None:
    pos = torch.tensor([2.0, 0.0])
    neg = torch.tensor([1.0, 3.0])
    expected = (-math.log(1 / (1 + math.exp(-1))) - math.log(1 / (1 + math.exp(3)))) / 2
    assert bpr_loss(pos, neg).item() == pytest.approx(expected, rel=1e-6)


def test_bpr_loss_is_finite_for_huge_margins() -> None:
    assert torch.isfinite(bpr_loss(torch.tensor([-1e4]), torch.tensor([1e4])))
    assert bpr_loss(torch.tensor([1e4]), torch.tensor([-1e4])).item() == 0.0


def test_l2_reg_by_hand() -> None:
    a = torch.tensor([[1.0, 2.0], [0.0, 1.0]])  # squared norms 5 and 1
    b = torch.tensor([[3.0, 0.0], [0.0, 0.0]])  # 9 and 0
    assert l2_reg(a, b).item() == pytest.approx((5 + 1 + 9) / (2 * 2))
