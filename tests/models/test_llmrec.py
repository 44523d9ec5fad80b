"""LLMRec: side-feature fusion, augmented BPR with pruning, MAE refinement, and input validation."""

import dataclasses

import numpy as np
import pytest
import torch

from llmrec.config import EvalConfig, TrainConfig
from llmrec.data.interactions import Interactions
from llmrec.errors import ConfigError
from llmrec.graph import build_graph
from llmrec.models import LightGCN, LLMRec, SideFeatures, build_model
from llmrec.models.losses import bpr_loss, l2_reg, prune_official, prune_paper
from llmrec.train import fit
from tests.models.test_contract import block_split


def cold_item_split(n_blocks: int = 3, size: int = 8) -> tuple[Interactions, Interactions]:
    """Block matrix whose last item of each block has no training edge; every user's held-out item is it.

    Six users of each block have all its other items, two have a single one (very few edges).
    """
    users, items, held_users, held_items = [], [], [], []
    u = 0
    for b in range(n_blocks):
        block = [b * size + j for j in range(size)]
        for k in range(8):
            mine = block[:-1] if k < 6 else [block[k - 6]]
            users += [u] * len(mine)
            items += mine
            held_users.append(u)
            held_items.append(block[-1])
            u += 1
    user_ids, item_ids = np.arange(u), np.arange(n_blocks * size)
    return (
        Interactions.from_pairs(users, items, user_ids, item_ids),
        Interactions.from_pairs(held_users, held_items, user_ids, item_ids),
    )


def item_features(n_items: int, dim: int = 4, seed: int = 0) -> SideFeatures:
    """One random item feature matrix named "text"."""
    return SideFeatures(
        item={"text": torch.randn(n_items, dim, generator=torch.Generator().manual_seed(seed))}
    )


def test_without_features_it_is_lightgcn() -> None:
    train, _ = block_split()
    graph = build_graph(train)
    torch.manual_seed(0)
    model = LLMRec(train.n_users, train.n_items, dim=8, n_layers=2)
    lightgcn = LightGCN(train.n_users, train.n_items, dim=8, n_layers=2)
    lightgcn.load_state_dict({k: v for k, v in model.state_dict().items() if k.endswith("emb.weight")})
    batch = (torch.tensor([0, 9]), torch.tensor([1, 10]), torch.tensor([20, 2]))
    torch.testing.assert_close(model.loss(batch, graph), lightgcn.loss(batch, graph))
    torch.testing.assert_close(
        model.score(torch.tensor([3]), graph), lightgcn.score(torch.tensor([3]), graph)
    )


@pytest.mark.parametrize("mode", ["paper", "official"])
def test_loss_combines_original_and_pruned_augmented_bpr(mode: str) -> None:
    train, _ = block_split()
    graph = build_graph(train)
    torch.manual_seed(0)
    model = LLMRec(
        train.n_users, train.n_items, dim=8, n_layers=2, aug_weight=0.5, prune_mode=mode, prune_ratio=0.5
    )
    users, pos, neg = torch.tensor([0, 9, 17]), torch.tensor([1, 10, 18]), torch.tensor([20, 2, 3])
    aug = (torch.tensor([1, 2, 3, 4]), torch.tensor([5, 6, 7, 0]), torch.tensor([12, 13, 14, 15]))
    with torch.no_grad():
        u, i = model.embed(graph)
        original = torch.nn.functional.softplus((u[users] * i[neg]).sum(-1) - (u[users] * i[pos]).sum(-1))
        augmented = torch.nn.functional.softplus(
            (u[aug[0]] * i[aug[2]]).sum(-1) - (u[aug[0]] * i[aug[1]]).sum(-1)
        )
        if mode == "paper":
            ranking = bpr_loss((u[users] * i[pos]).sum(-1), (u[users] * i[neg]).sum(-1)) + 0.5 * prune_paper(
                augmented, 0.5
            )
        else:
            ranking = prune_official(torch.cat([original, 0.5 * augmented]), 0.5)
        reg = l2_reg(model.user_emb(users), model.item_emb(pos), model.item_emb(neg))
        expected = ranking + 1e-4 * reg
        torch.testing.assert_close(model.loss((users, pos, neg, *aug), graph), expected)


def test_learned_fusion_weights_sum_to_one_and_learn() -> None:
    train, _ = block_split()
    graph = build_graph(
        train, features=SideFeatures(user={"profile": torch.randn(24, 3)}, item={"text": torch.randn(24, 5)})
    )
    model = LLMRec(
        24, 24, dim=8, n_layers=2, user_feature_dims=(3,), item_feature_dims=(5,), fusion="learned"
    )
    weights = model.fusion_weights()
    assert weights.shape == (3,) and weights.sum().item() == pytest.approx(1.0)
    model.loss((torch.tensor([0, 9]), torch.tensor([1, 10]), torch.tensor([20, 2])), graph).backward()
    assert model.fusion_logits.grad is not None and model.fusion_logits.grad.abs().sum() > 0
    fixed = LLMRec(24, 24, dim=8, user_feature_dims=(3,), item_feature_dims=(5,), feature_weight=0.25)
    torch.testing.assert_close(fixed.fusion_weights(), torch.tensor([1.0, 0.25, 0.25]))


def test_mask_token_and_decoder_receive_gradients() -> None:
    train, _ = block_split()
    graph = build_graph(train, features=item_features(24))
    torch.manual_seed(0)
    model = LLMRec(24, 24, dim=8, n_layers=2, item_feature_dims=(4,), mae_weight=1.0, mask_ratio=0.25)
    model.train()
    model.loss((torch.tensor([0, 9]), torch.tensor([1, 10]), torch.tensor([20, 2])), graph).backward()
    for name in ("mask_token", "decoder.0.weight", "proj.0.weight"):
        grad = dict(model.named_parameters())[name].grad
        assert grad is not None and grad.abs().sum() > 0, name
    # in eval mode nothing is masked: scores are deterministic and the MAE term is off
    model.eval()
    first = model.score(torch.arange(3), graph)
    torch.testing.assert_close(first, model.score(torch.arange(3), graph), rtol=0, atol=0)


def test_mae_reconstruction_loss_decreases_with_training() -> None:
    # one-hot block membership: a masked item's block can be read off its neighbours' features
    train, _ = block_split()
    onehot = torch.nn.functional.one_hot(torch.arange(24) // 8, 3).float()
    graph = build_graph(train, features=SideFeatures(item={"block": onehot}))
    torch.manual_seed(0)
    model = LLMRec(24, 24, dim=8, n_layers=2, item_feature_dims=(3,), mask_ratio=0.25)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.05)
    losses = []
    for _ in range(150):
        loss = model.mae_loss(graph)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert np.mean(losses[-20:]) < 0.2 * np.mean(losses[:20])


def test_informative_item_features_rank_a_cold_item() -> None:
    # Each block's last item has no training edge: only its (block one-hot) features can tell users
    # it belongs to their block. With them it must beat every other block's items for every user.
    train, held = cold_item_split()
    onehot = torch.nn.functional.one_hot(torch.arange(train.n_items) // 8, 3).float()
    cfg = TrainConfig(epochs=60, batch_size=64, lr=0.05, eval_every=10, patience=100, metric="recall@1")
    users = torch.arange(train.n_users)
    block_of_user = (np.arange(train.n_users) // 8)[:, None]
    other_block = torch.from_numpy((np.arange(train.n_items) // 8)[None, :] != block_of_user)
    cold = torch.from_numpy(held.user_items.toarray().argmax(1))
    beaten = {}
    for with_features in (False, True):
        torch.manual_seed(0)
        features = SideFeatures(item={"block": onehot}) if with_features else None
        graph = build_graph(train, features=features)
        model = LLMRec(
            train.n_users,
            train.n_items,
            16,
            2,
            item_feature_dims=(3,) if with_features else (),
            feature_weight=1.0,
        )
        fit(model, train, held, graph, cfg, EvalConfig(ks=(1,)), seed=0, show_progress=False)
        with torch.no_grad():
            scores = model.score(users, graph)
        above_cold = scores > scores[users, cold][:, None]
        beaten[with_features] = int((above_cold & other_block).sum())
    assert beaten[True] == 0
    assert beaten[False] > 0


def test_augmented_triples_reach_training_through_fit() -> None:
    # User 24 has no training edge; augmented triples say it likes block 0 and dislikes block 2.
    train, held = block_split(n_users=25)
    graph = build_graph(train)
    aug = (np.full(7, 24), np.arange(7), np.arange(16, 23))
    cfg = TrainConfig(epochs=60, batch_size=64, lr=0.05, eval_every=20, patience=100, metric="recall@1")
    torch.manual_seed(0)
    model = LLMRec(train.n_users, train.n_items, 16, 2, aug_weight=1.0, prune_ratio=0.0)
    fit(model, train, held, graph, dataclasses.replace(cfg, aug_rate=0.5), EvalConfig(ks=(1,)), 0, False, aug)
    with torch.no_grad():
        scores = model.score(torch.tensor([24]), graph)[0]
    assert scores[:8].mean() > scores[8:].mean()
    # a model without LLMRec's separate augmented loss trains on them as part of its BPR batches
    torch.manual_seed(0)
    plain = LightGCN(25, 24, 16, 2)
    fit(plain, train, held, graph, dataclasses.replace(cfg, aug_rate=0.5), EvalConfig(ks=(1,)), 0, False, aug)
    with torch.no_grad():
        scores = plain.score(torch.tensor([24]), graph)[0]
    assert (scores.topk(7).indices < 8).sum() >= 6  # its liked block on top: not a chance ordering
    with pytest.raises(ConfigError, match="aug_rate"):
        fit(
            model,
            train,
            held,
            graph,
            dataclasses.replace(cfg, aug_rate=0.0),
            EvalConfig(ks=(1,)),
            0,
            False,
            aug,
        )


def test_paper_pruning_discounts_noisy_augmented_pairs() -> None:
    # The cold user 24 likes block 0 by seven augmented triples; three noisy ones say the opposite.
    # Dropping the highest-loss 30% of augmented pairs per batch mostly drops the noisy ones, so the
    # user's margin of block 0 over block 2 grows compared with keeping every pair.
    train, held = block_split(n_users=25)
    graph = build_graph(train)
    aug = (np.full(10, 24), np.r_[np.arange(7), 16, 17, 18], np.r_[np.arange(16, 23), 0, 1, 2])
    cfg = TrainConfig(
        epochs=60, batch_size=64, lr=0.05, eval_every=20, patience=100, metric="recall@1", aug_rate=0.5
    )
    margins = []
    for ratio in (0.0, 0.3):
        torch.manual_seed(0)
        model = LLMRec(train.n_users, train.n_items, 16, 2, aug_weight=1.0, prune_ratio=ratio)
        fit(model, train, held, graph, cfg, EvalConfig(ks=(1,)), 0, False, aug)
        with torch.no_grad():
            scores = model.score(torch.tensor([24]), graph)[0]
        margins.append((scores[:8].mean() - scores[16:].mean()).item())
    assert margins[0] > 0
    assert margins[1] > margins[0] + 0.5


def test_invalid_features_raise_naming_the_feature() -> None:
    train, _ = block_split()
    with pytest.raises(ValueError, match="'text'.*NaN"):
        SideFeatures(item={"text": torch.tensor([[0.0, float("nan")]])})
    with pytest.raises(ValueError, match="'profile'.*2-D"):
        SideFeatures(user={"profile": torch.zeros(3)})
    model = LLMRec(24, 24, dim=8, item_feature_dims=(4,))
    with pytest.raises(ValueError, match=r"'text' has shape \(23, 4\), expected \(24, 4\)"):
        model.embed(build_graph(train, features=item_features(23)))
    with pytest.raises(ValueError, match="expects 1 item feature"):
        model.embed(build_graph(train))
    with pytest.raises(ValueError, match="fusion"):
        LLMRec(24, 24, fusion="sum")
    with pytest.raises(ValueError, match="prune_mode"):
        LLMRec(24, 24, prune_mode="both")
    with pytest.raises(ValueError, match="side features"):
        build_model("lightgcn", 24, 24, 8, 2, 1e-4, item_feature_dims=(4,))
