"""Time-ordered leave-one-out: order, the tie rule and its counts, short users, padding."""

from __future__ import annotations

import numpy as np
import pytest

from llmrec.config import SplitConfig
from llmrec.data.dataset import Dataset
from llmrec.data.sequences import NONE, padded, sequence_split
from llmrec.data.split import split
from llmrec.errors import DataError


def dataset(events: list[tuple[int, int, int]], n_users: int = 3, n_items: int = 6) -> Dataset:
    """(user, item, time) events in file order."""
    u, i, t = (np.array(x, dtype=np.int64) for x in zip(*events, strict=True))
    return Dataset("toy", u, i, np.arange(n_users), np.arange(n_items), timestamps=t)


EVENTS = [
    # user 0: times 5, 1, 3, 3 (items 0, 1, 2, 3): order 1, 2, 3 (tie: file order), 0
    (0, 0, 5), (0, 1, 1), (1, 4, 9), (0, 2, 3), (0, 3, 3),
    # user 1: items 4 (9), 5 (9), 0 (9), 1 (2): order 1, 4, 5, 0 -- the last three all tied
    (1, 5, 9), (1, 0, 9), (1, 1, 2),
    # user 2: two events only
    (2, 3, 1), (2, 4, 2),
]  # fmt: skip


def test_order_held_out_items_and_tie_counts() -> None:
    s = sequence_split(dataset(EVENTS))
    assert s.train[0].tolist() == [1, 2] and s.valid[0] == 3 and s.test[0] == 0
    assert s.train[1].tolist() == [1, 4] and s.valid[1] == 5 and s.test[1] == 0
    assert s.train[2].tolist() == [3, 4] and s.valid[2] == NONE and s.test[2] == NONE
    # tied consecutive pairs: user 0 (2, 3); user 1 (4, 5), (5, 0)
    assert s.counts["tied_pairs"] == 3 and s.counts["users_with_ties"] == 2
    assert s.counts["test_tied"] == 1  # user 1's test item 0 ties with 5; user 0's does not (5 vs 3)
    assert s.counts["valid_tied"] == 2  # user 0's 3 ties with 2, user 1's 5 with 4
    assert s.counts["short_users"] == 1
    notes = " ".join(s.notes())
    assert "file's order" in notes and "1 users have fewer than 3 events" in notes


def test_same_held_out_items_as_the_loo_split() -> None:
    rng = np.random.default_rng(0)
    events = [(int(u), int(i), int(t)) for u, i, t in zip(
        rng.integers(0, 20, 400), rng.permutation(np.tile(np.arange(40), 10)), rng.integers(0, 30, 400),
        strict=True)]  # fmt: skip
    ds = dataset(events, n_users=20, n_items=40)
    ds = Dataset("toy", ds.users, ds.items, ds.user_ids, ds.item_ids, timestamps=ds.timestamps)
    ours = sequence_split(ds).interactions()
    theirs = split(ds, SplitConfig(method="loo"))
    for part in ("train", "valid", "test"):
        a, b = getattr(ours, part).user_items, getattr(theirs, part).user_items
        assert (a != b).nnz == 0, part


def test_with_valid_appends_the_validation_item() -> None:
    s = sequence_split(dataset(EVENTS))
    assert [x.tolist() for x in s.with_valid()] == [[1, 2, 3], [1, 4, 5], [3, 4]]
    assert s.lengths().tolist() == [2, 2, 2]


def test_no_timestamps_and_no_long_user_are_errors() -> None:
    ds = dataset(EVENTS)
    with pytest.raises(DataError, match="needs timestamps"):
        sequence_split(Dataset("toy", ds.users, ds.items, ds.user_ids, ds.item_ids))
    with pytest.raises(DataError, match="no user has 3 events"):
        sequence_split(dataset([(0, 0, 1), (0, 1, 2), (1, 2, 3)], n_users=2))


def test_padded_shifts_items_and_pads_left() -> None:
    out = padded([np.array([0, 4, 2]), np.array([], dtype=np.int64), np.array([7])], 2)
    assert out.tolist() == [[5, 3], [0, 0], [0, 8]]
