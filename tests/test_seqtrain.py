"""The sequential training loop: next-item batches, negatives, selection on validation."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from llmrec.config import EvalConfig, TrainConfig
from llmrec.data.interactions import Interactions
from llmrec.models.sasrec import SASRec
from llmrec.seqtrain import NextItemBatches, evaluate_sequences, fit_sequential


def test_batches_shift_by_one_and_draw_unseen_negatives() -> None:
    train = [np.array([0, 1, 2]), np.array([3]), np.array([4, 5])]
    b = NextItemBatches(train, n_items=8, max_len=3, seed=0)
    assert b.inputs.tolist()[0] == [0, 1, 2] and b.positives.tolist()[0] == [0, 2, 3]
    assert b.users.tolist() == [0, 2]  # user 1 has nothing to predict
    for _ in range(20):
        neg = b.negatives(np.array([0, 2]))
        assert neg[0, 0] == 0 and neg[1, :2].tolist() == [0, 0]  # padding positions get no negative
        assert not set(neg[0, 1:].tolist()) & {1, 2, 3} and not set(neg[1, 2:].tolist()) & {5, 6}
    inputs, positives, negatives = b.epoch(batch_size=1)[0]
    assert inputs.shape == positives.shape == negatives.shape == (1, 3)


def test_fit_keeps_the_selected_weights_and_learns_cycles() -> None:
    # 12 users walk items 0..5 in a cycle from different starts; the held-out item is the next one
    starts = np.arange(12) % 6
    train = [(s + np.arange(7)) % 6 for s in starts]
    valid_items = (starts + 7) % 6
    ids = np.arange(12)
    valid = Interactions.from_pairs(ids, valid_items, ids, np.arange(6))
    edges = Interactions.from_pairs(np.repeat(ids, 7), np.concatenate(train), ids, np.arange(6))
    torch.manual_seed(0)
    model = SASRec(12, 6, dim=16, n_layers=1, max_len=8, dropout=0.0, loss="ce")
    cfg = TrainConfig(epochs=60, batch_size=4, lr=0.01, eval_every=10, patience=100, metric="hit@1")
    # every item is in every user's training sequence: mask nothing, rank all six
    empty = Interactions.from_pairs([], [], ids, np.arange(6))
    result = fit_sequential(model, train, valid, empty, cfg, EvalConfig(ks=(1,)), seed=0, max_len=8)
    assert result.best_valid["hit@1"] == 1.0 and len(result.history) == 6
    _, values = evaluate_sequences(model, train, valid, [empty], (1,), 8)
    assert values["hit@1"].mean() == pytest.approx(result.best_valid["hit@1"])
    assert all(h["cpu_seconds"] >= 0 for h in result.history) and edges.nnz == 12 * 6
