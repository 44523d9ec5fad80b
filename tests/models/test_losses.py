"""Losses pinned to values computed by hand."""

import math

import pytest
import torch
import torch.nn.functional as F

from llmrec.models.losses import (
    bpr_loss,
    bpr_pair_losses,
    hardest_negatives,
    info_nce,
    l2_reg,
    node_info_nce,
    prune_official,
    prune_paper,
    scaled_cosine_loss,
)


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


def test_info_nce_by_hand() -> None:
    # rows of view2 normalise to (1, 0) and (1, 1)/sqrt(2); cosines: row 0 -> [1, c], row 1 -> [0, c]
    view1 = torch.tensor([[2.0, 0.0], [0.0, 3.0]])
    view2 = torch.tensor([[1.0, 0.0], [1.0, 1.0]])
    c, tau = 1 / math.sqrt(2), 0.5
    row0 = -math.log(math.exp(1 / tau) / (math.exp(1 / tau) + math.exp(c / tau)))
    row1 = -math.log(math.exp(c / tau) / (math.exp(0 / tau) + math.exp(c / tau)))
    assert info_nce(view1, view2, tau).item() == pytest.approx((row0 + row1) / 2, rel=1e-6)


def test_info_nce_is_finite_at_a_tiny_temperature() -> None:
    view = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    assert info_nce(view, view, 1e-4).item() == pytest.approx(0.0, abs=1e-6)
    assert torch.isfinite(info_nce(view, view.flip(0), 1e-4))


def test_info_nce_gradient_matches_autograd_of_the_formula() -> None:
    torch.manual_seed(0)
    view1, view2 = torch.randn(6, 4, requires_grad=True), torch.randn(6, 4, requires_grad=True)
    (3 * info_nce(view1, view2, 0.2)).backward()
    fast = view1.grad.clone(), view2.grad.clone()
    view1.grad = view2.grad = None
    logits = F.normalize(view1, dim=1) @ F.normalize(view2, dim=1).T / 0.2
    (3 * -torch.diagonal(F.log_softmax(logits, dim=1)).mean()).backward()
    torch.testing.assert_close(fast, (view1.grad, view2.grad))


def test_info_nce_in_blocks_matches_the_whole_matrix_loss_and_gradients() -> None:
    """Blocks of 4 rows over 10 (the last one ragged) give the loss and gradients of autograd run on
    the whole 10 x 10 matrix; with one side frozen only the other gets a gradient."""
    torch.manual_seed(1)
    view1, view2 = torch.randn(10, 3, requires_grad=True), torch.randn(10, 3, requires_grad=True)
    logits = F.normalize(view1, dim=1) @ F.normalize(view2, dim=1).T / 0.3
    expected = -torch.diagonal(F.log_softmax(logits, dim=1)).mean()
    expected_grads = torch.autograd.grad(2 * expected, (view1, view2), retain_graph=True)
    for block in (1, 4, 10, 64):
        loss = info_nce(view1, view2, 0.3, block=block)
        torch.testing.assert_close(loss, expected.detach())
        torch.testing.assert_close(torch.autograd.grad(2 * loss, (view1, view2)), expected_grads)
    frozen = view2.detach()
    (grad1,) = torch.autograd.grad(info_nce(view1, frozen, 0.3, block=4), (view1,))
    torch.testing.assert_close(grad1, torch.autograd.grad(expected, (view1,))[0])


def test_node_info_nce_is_the_user_plus_the_item_term_and_caps_rows() -> None:
    torch.manual_seed(0)
    view1, view2 = torch.randn(7, 4), torch.randn(7, 4)  # 3 users then 4 items
    batch = (torch.tensor([0, 2, 0]), torch.tensor([1, 1, 3]), torch.tensor([0, 0, 0]))
    users, items = torch.tensor([0, 2]), torch.tensor([4, 6])  # unique users; unique items + 3
    expected = info_nce(view1[users], view2[users], 0.2) + info_nce(view1[items], view2[items], 0.2)
    assert node_info_nce(view1, view2, batch, 3, 0.2, max_rows=2).item() == pytest.approx(expected.item())
    # one row per side leaves no negative: each InfoNCE term is -log(1) = 0
    assert node_info_nce(view1, view2, batch, 3, 0.2, max_rows=1).item() == pytest.approx(0.0, abs=1e-6)


def test_bpr_pair_losses_are_the_per_pair_terms_of_bpr_loss() -> None:
    pos, neg = torch.tensor([2.0, 0.0]), torch.tensor([1.0, 0.0])
    # -log sigmoid(1) = log(1 + e^-1) = 0.313262, -log sigmoid(0) = log 2 = 0.693147
    torch.testing.assert_close(bpr_pair_losses(pos, neg), torch.tensor([0.313262, 0.693147]))
    torch.testing.assert_close(bpr_pair_losses(pos, neg).mean(), bpr_loss(pos, neg))


PAIR_LOSSES = [0.1, 2.0, 0.5, 3.0, 0.3]


def test_prune_paper_drops_the_highest_loss_augmented_pairs() -> None:
    losses = torch.tensor(PAIR_LOSSES, requires_grad=True)
    # floor(0.4 * 5) = 2 dropped: 3.0 and 2.0; mean of 0.1, 0.5, 0.3 = 0.3
    kept = prune_paper(losses, 0.4)
    assert kept.item() == pytest.approx(0.3)
    kept.backward()
    assert losses.grad is not None
    torch.testing.assert_close(losses.grad, torch.tensor([1 / 3, 0.0, 1 / 3, 0.0, 1 / 3]))
    assert prune_paper(torch.tensor(PAIR_LOSSES), 0.0).item() == pytest.approx(5.9 / 5)
    assert prune_paper(torch.zeros(0), 0.4).item() == 0.0


def test_prune_official_keeps_only_the_hardest_pairs() -> None:
    losses = torch.tensor(PAIR_LOSSES)
    # floor(0.4 * 5) = 2 kept, the hardest: 3.0 and 2.0 -> 2.5 (the paper's rule would drop exactly these)
    assert prune_official(losses, 0.4).item() == pytest.approx(2.5)
    assert prune_official(losses, 0.1).item() == pytest.approx(3.0)  # at least one pair survives
    assert prune_official(losses, 1.0).item() == pytest.approx(5.9 / 5)
    assert prune_official(torch.zeros(0), 0.4).item() == 0.0


def test_scaled_cosine_loss_by_hand() -> None:
    pred = torch.tensor([[1.0, 0.0], [1.0, 0.0], [1.0, 1.0]])
    target = torch.tensor([[2.0, 0.0], [0.0, 3.0], [1.0, 0.0]])
    # cosines 1, 0, 1/sqrt(2): (1 - cos)^2 = 0, 1, (1 - 0.707107)^2 = 0.085786; mean 0.361929
    assert scaled_cosine_loss(pred, target, 2.0).item() == pytest.approx(0.361929, abs=1e-6)
    # gamma 1: 0, 1, 0.292893; mean 0.430964
    assert scaled_cosine_loss(pred, target, 1.0).item() == pytest.approx(0.430964, abs=1e-6)
    # identical rows give exactly 0, even with a fractional power (1 - cos clamped at 0)
    same = torch.tensor([[0.3, 0.7, 0.1]])
    assert scaled_cosine_loss(same, same * 5, 1.5).item() == pytest.approx(0.0, abs=1e-6)


def test_hardest_negatives_picks_each_rows_top_scored_candidate() -> None:
    users = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    items = torch.tensor([[1.0, 0.0], [0.0, 2.0], [3.0, 0.0]])
    # row 0 scores items 1, 2 as 0, 3; row 1 scores items 0, 1 as 0, 2
    chosen = hardest_negatives(users, items, torch.tensor([[1, 2], [0, 1]]))
    assert chosen.tolist() == [2, 1]
    one = torch.tensor([1, 0])
    assert hardest_negatives(users, items, one) is one  # one negative per edge: uniform sampling, as is
    items.requires_grad_(True)
    assert not hardest_negatives(users, items, torch.tensor([[1, 2], [0, 1]])).requires_grad
