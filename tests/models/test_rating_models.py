"""The rating models against hand computations: predictions, the unknown row, the loss."""

from __future__ import annotations

import pytest
import torch

from llmrec.models import RATING_MODELS, BiasedMF, Capabilities, DeepFM


def test_biased_mf_predicts_mean_plus_biases_plus_dot_and_the_unknown_row_is_bias_free() -> None:
    model = BiasedMF(2, 3, dim=2, reg=0.5, global_mean=3.0)
    with torch.no_grad():
        model.user_emb.weight[:2] = torch.tensor([[1.0, 2.0], [0.0, 1.0]])
        model.item_emb.weight[:3] = torch.tensor([[1.0, 0.0], [0.5, 0.5], [2.0, 1.0]])
        model.user_bias.weight[:2, 0] = torch.tensor([0.5, -0.5])
        model.item_bias.weight[:3, 0] = torch.tensor([0.1, 0.2, 0.3])
    users, items = torch.tensor([0, 1, 2, 0]), torch.tensor([2, 1, 0, 3])  # user 2, item 3: unknown
    got = model.predict(users, items).tolist()
    assert got == pytest.approx([3 + 0.5 + 0.3 + 4.0, 3 - 0.5 + 0.2 + 0.5, 3 + 0.1, 3 + 0.5])
    # loss = mean squared error + reg * mean over rows of (|p|^2 + |q|^2 + b_u^2 + b_i^2)
    ratings = torch.tensor([5.0, 3.0, 4.0, 4.0])
    errors = [7.8 - 5, 3.2 - 3, 3.1 - 4, 3.5 - 4]
    norms = [5 + 5 + 0.25 + 0.09, 1 + 0.5 + 0.25 + 0.04, 0 + 1 + 0 + 0.01, 5 + 0 + 0.25 + 0]
    expected = sum(e * e for e in errors) / 4 + 0.5 * sum(norms) / 4
    assert model.loss((users, items, ratings)).item() == pytest.approx(expected, rel=1e-5)


def test_the_unknown_row_gets_no_gradient() -> None:
    model = BiasedMF(2, 2, dim=3, global_mean=3.0)
    model.loss((torch.tensor([2]), torch.tensor([2]), torch.tensor([5.0]))).backward()
    assert model.user_bias.weight.grad is not None
    assert float(model.user_bias.weight.grad[2].abs().sum()) == 0.0
    assert float(model.item_emb.weight.grad[2].abs().sum()) == 0.0


@torch.no_grad()
def _deepfm_by_hand(model: DeepFM, fields: list[list[int]]) -> float:
    """mu + sum of first-order weights + sum over field pairs of <v_f, v_g> + MLP, from the field means."""
    vectors, first = [], 0.0
    for rows in fields:
        if rows:
            vectors.append(torch.stack([model.emb.weight[r] for r in rows]).mean(0))
            first += float(torch.stack([model.weight.weight[r, 0] for r in rows]).mean())
        else:
            vectors.append(torch.zeros(model.dim))
    pairs = sum(
        float(vectors[a] @ vectors[b]) for a in range(len(vectors)) for b in range(a + 1, len(vectors))
    )
    deep = float(model.mlp(torch.cat(vectors)[None])[0, 0])
    return float(model.global_mean) + first + pairs + deep


def test_deepfm_is_first_order_plus_pairwise_plus_mlp_over_field_means() -> None:
    torch.manual_seed(0)
    # fields: user (3), item (4), genres (5 values, 2 slots), director (2 values, 1 slot)
    model = DeepFM(
        3, 4, dim=3, hidden=(4,), dropout=0.0, global_mean=3.5, attribute_sizes=(5, 2), attribute_slots=(2, 1)
    )
    with torch.no_grad():
        model.weight.weight[:-1] = torch.randn(model.pad, 1)
    model.eval()
    users, items = torch.tensor([1, 3]), torch.tensor([2, 0])  # user 3 is the unknown user
    attrs = torch.tensor([[0, 4, 1], [5, 5, 2]])  # pair 2: no genre (5 = empty), no director (2 = empty)
    got = model.predict(users, items, attrs).tolist()
    # global rows: users 0-2, items 3-6, genres 7-11, directors 12-13; pad 14
    expected = [
        _deepfm_by_hand(model, [[1], [3 + 2], [7 + 0, 7 + 4], [12 + 1]]),
        _deepfm_by_hand(model, [[], [3 + 0], [], []]),
    ]
    assert got == pytest.approx(expected, rel=1e-5)


def test_deepfm_rejects_mismatched_fields() -> None:
    with pytest.raises(ValueError, match="slot count"):
        DeepFM(2, 2, attribute_sizes=(3,), attribute_slots=())
    model = DeepFM(2, 2, attribute_sizes=(3,), attribute_slots=(2,))
    with pytest.raises(ValueError, match="expected 4 slots"):
        model.predict(torch.tensor([0]), torch.tensor([0]), torch.tensor([[0]]))


def test_rating_models_are_registered_apart_with_the_rating_capability() -> None:
    assert set(RATING_MODELS) == {"biased-mf", "deepfm"}
    for spec in RATING_MODELS.values():
        assert spec.capabilities == Capabilities(rating=True)
