"""Losses by hand and a killed fine-tuning resumed from its checkpoint."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from llmrec.data.interactions import Interactions
from llmrec.gat.config import GatConfig
from llmrec.gat.data import build_data
from llmrec.gat.prompts import collate
from llmrec.gat.training import finetune, multinomial_loss, new_model, personal_batch, prompt_loss

TRAIN = sp.csr_matrix(np.array([[1, 1, 1, 0, 0], [0, 0, 1, 1, 0], [1, 0, 0, 0, 1]], np.float32))
VALID = sp.csr_matrix(np.array([[0, 0, 0, 1, 0], [1, 0, 0, 0, 0], [0, 1, 0, 0, 0]], np.float32))
CFG = GatConfig(n_layers=1, dim=8, n_heads=2, context=16, dropout=0.0, mutual_weight=0.0, batch_size=2)


def test_losses_by_hand() -> None:
    data = build_data(TRAIN, None, CFG, seed=0)
    model = new_model(data, CFG, 0).eval()
    batch, targets = personal_batch(data, [0, 1], np.random.default_rng(0), (), mask_ratio=0.4)
    hidden = model(batch.tokens, batch.lengths, batch.rel)
    logp = torch.log_softmax(hidden[[0, 1], batch.lengths - 1] @ model.item_emb.weight.T, -1).detach()
    expected = -np.mean([logp[b, targets[b] > 0].sum().item() for b in range(2)])
    assert multinomial_loss(model, batch, targets, CFG).item() == pytest.approx(expected, rel=1e-5)
    # collaborative: the last template word predicts item 2, item 2 predicts item 0
    p = data.builder.collaborative(0, np.array([2, 0]), data.relations(0, np.array([2, 0])))
    batch = collate([p])
    h = model(batch.tokens, batch.lengths, batch.rel)[0]
    logits = (h @ model.item_emb.weight.T).detach()
    by_hand = -(torch.log_softmax(logits[3], -1)[2] + torch.log_softmax(logits[4], -1)[0]).item() / 2
    assert prompt_loss(model, batch, CFG).item() == pytest.approx(by_hand, rel=1e-5)
    with_gap = GatConfig(**{**CFG.__dict__, "mutual_weight": 2.0})
    users, items = torch.tensor([0]), torch.tensor([0, 2])
    gap = model.mutual_gap(users, items).item()
    assert prompt_loss(model, batch, with_gap).item() == pytest.approx(by_hand + 2.0 * gap, rel=1e-5)


def test_killed_finetune_resumes(tmp_path: Path) -> None:
    ids = np.arange(5).astype(str)
    valid = Interactions(VALID, np.arange(3).astype(str), ids)
    data = build_data(TRAIN, None, CFG, seed=0)
    one = GatConfig(**{**CFG.__dict__, "finetune_epochs": 1})
    ckpt = tmp_path / "ft.ckpt"
    first = finetune(new_model(data, one, 0), data, one, valid, [2], "recall@2", 0, ckpt, "key")
    assert len(first.history) == 1 and ckpt.is_file()
    two = GatConfig(**{**CFG.__dict__, "finetune_epochs": 2})
    resumed = finetune(new_model(data, two, 0), data, two, valid, [2], "recall@2", 0, ckpt, "key")
    assert len(resumed.history) == 2 and resumed.history[0] == first.history[0]  # epoch 0 not rerun
    fresh = finetune(new_model(data, two, 0), data, two, valid, [2], "recall@2", 0, ckpt, "other")
    assert fresh.history[0]["seconds"] != first.history[0]["seconds"]  # another key starts over
