"""BPR sampler: every edge once per epoch, negatives never among the user's items."""

import numpy as np
import pytest

from llmrec.data.interactions import Interactions
from llmrec.data.sampler import BPRSampler


def test_epoch_covers_each_edge_once_with_true_negatives() -> None:
    rng = np.random.default_rng(0)
    users = rng.integers(0, 50, 2000)
    items = rng.integers(0, 40, 2000)
    train = Interactions.from_pairs(users, items, np.arange(50), np.arange(40))
    sampler = BPRSampler(train, seed=1)
    batches = list(sampler.epoch(128))
    assert len(batches) == sampler.n_batches(128)
    u = np.concatenate([b[0] for b in batches])
    p = np.concatenate([b[1] for b in batches])
    n = np.concatenate([b[2] for b in batches])
    dense = train.user_items.toarray() > 0
    assert len(u) == train.nnz
    all_u, all_i = train.pairs()
    assert np.array_equal(np.sort(u * 40 + p), np.sort(all_u * 40 + all_i))
    assert dense[u, p].all()
    assert not dense[u, n].any()


def test_user_with_every_item_raises() -> None:
    train = Interactions.from_pairs([0, 0], [0, 1], np.arange(1), np.arange(2))
    with pytest.raises(ValueError, match="every item"):
        list(BPRSampler(train, seed=0).epoch(2))
