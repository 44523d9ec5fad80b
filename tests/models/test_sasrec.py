"""SASRec: causality, padding, both losses against hand computations, and it learns a cycle."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from llmrec.config import TrainConfig
from llmrec.errors import ConfigError
from llmrec.models import build_model
from llmrec.models.sasrec import SASRec


def model(**kw: object) -> SASRec:
    torch.manual_seed(0)
    m = SASRec(1, 6, dim=8, n_layers=2, n_heads=2, max_len=5, dropout=0.0, **kw)  # type: ignore[arg-type]
    return m.eval()


def test_causal_a_later_item_never_changes_an_earlier_state() -> None:
    m = model()
    a = m.hidden(torch.tensor([[0, 1, 2, 3, 4]]))
    b = m.hidden(torch.tensor([[0, 1, 2, 3, 6]]))
    torch.testing.assert_close(a[:, :4], b[:, :4])
    assert not torch.allclose(a[:, 4], b[:, 4])


def test_left_padding_is_ignored_and_long_inputs_keep_the_last_window() -> None:
    m = model()
    short = m.score(torch.tensor([0]), torch.tensor([[0, 0, 0, 2, 3]]))
    assert short.shape == (1, 6) and torch.isfinite(short).all()
    # positions differ with the window, so compare a 7-long input with its own last 5 columns
    long = m.score(torch.tensor([0]), torch.tensor([[5, 6, 1, 2, 3, 4, 5]]))
    cut = m.score(torch.tensor([0]), torch.tensor([[1, 2, 3, 4, 5]]))
    torch.testing.assert_close(long, cut)


def test_bce_loss_is_the_mean_over_real_positions_of_softplus_terms() -> None:
    m = model()
    inputs, pos, neg = torch.tensor([[0, 1, 2]]), torch.tensor([[0, 2, 3]]), torch.tensor([[0, 5, 6]])
    h = m.hidden(inputs)[0, 1:]
    e = m.item_emb.weight
    p, n = (h * e[[2, 3]]).sum(-1), (h * e[[5, 6]]).sum(-1)
    expected = (-torch.log(torch.sigmoid(p)) - torch.log(1 - torch.sigmoid(n))).mean()
    torch.testing.assert_close(m.loss((inputs, pos, neg)), expected)


def test_ce_loss_is_softmax_over_every_item() -> None:
    m = model(loss="ce")
    inputs, pos = torch.tensor([[0, 1, 2]]), torch.tensor([[0, 2, 3]])
    h = m.hidden(inputs)[0, 1:]
    logits = h @ m.item_emb.weight[1:].T
    expected = F.cross_entropy(logits, torch.tensor([1, 2]))
    torch.testing.assert_close(m.loss((inputs, pos, torch.zeros_like(pos))), expected)
    assert math.isfinite(m.loss((inputs, torch.zeros_like(pos), pos)).item())  # all padding: 0


def test_learns_a_cycle_of_items() -> None:
    # sequences walk 1 -> 2 -> ... -> 6 -> 1; after training, the item after 4 must be 5
    torch.manual_seed(0)
    m = SASRec(1, 6, dim=16, n_layers=1, max_len=8, dropout=0.0)
    opt = torch.optim.Adam(m.parameters(), lr=0.01)
    starts = torch.arange(6)
    seqs = (starts[:, None] + torch.arange(9)[None]) % 6 + 1
    for _ in range(150):
        neg = torch.randint(1, 7, seqs[:, 1:].shape)
        loss = m.loss((seqs[:, :-1], seqs[:, 1:], neg))
        opt.zero_grad()
        loss.backward()
        opt.step()
    m.eval()
    with torch.no_grad():
        scores = m.score(torch.tensor([0]), torch.tensor([[1, 2, 3, 4]]))
    assert int(scores.argmax()) == 4  # item index 4 = id 5


def test_bad_knobs_and_the_bpr_loop_are_refused() -> None:
    with pytest.raises(ValueError, match="loss"):
        SASRec(1, 3, loss="bpr")
    with pytest.raises(ValueError, match="multiple of n_heads"):
        SASRec(1, 3, dim=10, n_heads=3)
    from llmrec.config import EvalConfig
    from llmrec.data.interactions import Interactions
    from llmrec.train import fit

    inter = Interactions.from_pairs([0], [1], [0], [0, 1])
    with pytest.raises(ConfigError, match="time-ordered sequences"):
        fit(build_model("sasrec", 1, 2), inter, inter, None, TrainConfig(), EvalConfig(), seed=0)
