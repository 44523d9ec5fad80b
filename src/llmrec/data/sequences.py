"""Time-ordered user histories and their leave-one-out split, for sequential recommendation.

Each user's events are ordered by timestamp; **ties in time keep the order of the events in the
dataset's file** (a stable sort, the rule of the `loo` split too, so both give the same held-out
items). Ties are counted, not hidden: ML-100K users rate many movies in the same second, so the
"last" item is partly the file's choice. Per user with at least `MIN_EVENTS` events the last event is
the test item and the second-last the validation item; users with fewer keep every event for
training and are not evaluated (counted, with a note).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from llmrec.data.dataset import Dataset, Split
from llmrec.data.interactions import Interactions
from llmrec.data.split import MIN_EVENTS
from llmrec.errors import DataError

NONE = -1  # no validation / test item (a user with too few events)
TIE_RULE = "ties in time keep the dataset file's order (stable sort by timestamp)"


@dataclass(frozen=True)
class SequenceSplit:
    """Per-user training sequences (oldest first) and the held-out validation and test items.

    `train[u]` holds internal item indices; `valid[u]` / `test[u]` one item or NONE. `counts` says
    what the tie rule and the short users did, for notes and metrics.json.
    """

    train: list[np.ndarray]
    valid: np.ndarray
    test: np.ndarray
    user_ids: np.ndarray
    item_ids: np.ndarray
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def n_users(self) -> int:
        """Number of users."""
        return len(self.train)

    @property
    def n_items(self) -> int:
        """Number of items."""
        return len(self.item_ids)

    def lengths(self) -> np.ndarray:
        """Training sequence length per user (the long-tail coefficient's input)."""
        return np.array([len(s) for s in self.train], dtype=np.int64)

    def with_valid(self) -> list[np.ndarray]:
        """Each user's history at test time: the training sequence then the validation item."""
        return [np.append(s, v) if v != NONE else s for s, v in zip(self.train, self.valid, strict=True)]

    def with_train(self, train: list[np.ndarray]) -> SequenceSplit:
        """The same held-out items over other training sequences (e.g. augmented ones)."""
        if len(train) != self.n_users:
            raise ValueError(f"{len(train)} sequences for {self.n_users} users")
        return SequenceSplit(train, self.valid, self.test, self.user_ids, self.item_ids, dict(self.counts))

    def interactions(self) -> Split:
        """Train / valid / test as `Interactions` (what evaluation masks and scores against)."""

        def part(items: list[np.ndarray]) -> Interactions:
            users = np.repeat(np.arange(len(items)), [len(s) for s in items])
            flat = np.concatenate(items) if items else np.zeros(0, np.int64)
            return Interactions.from_pairs(users, flat, self.user_ids, self.item_ids)

        held = [np.array([v]) if v != NONE else np.zeros(0, np.int64) for v in self.valid]
        tested = [np.array([t]) if t != NONE else np.zeros(0, np.int64) for t in self.test]
        return Split(part(self.train), part(held), part(tested), "loo", tuple(self.notes()))

    def notes(self) -> list[str]:
        """What the ordering and the short users did, in words."""
        c = self.counts
        out = [
            f"time order: {TIE_RULE}; {c['tied_pairs']:,} consecutive event pairs share a timestamp "
            f"({c['users_with_ties']:,} users); the test item ties with the one before it for "
            f"{c['test_tied']:,} users, the validation item for {c['valid_tied']:,}"
        ]
        if c["short_users"]:
            out.append(
                f"{c['short_users']:,} users have fewer than {MIN_EVENTS} events: leave-one-out needs a "
                "validation and a test item and one to learn from, so they train but are not evaluated"
            )
        return out


def sequence_split(ds: Dataset) -> SequenceSplit:
    """Leave-one-out over time-ordered histories (see the module doc for the tie rule)."""
    if ds.timestamps is None:
        raise DataError(f"{ds.name}: sequential recommendation needs timestamps and this dataset has none")
    order = np.lexsort((ds.timestamps, ds.users))  # stable: equal (user, time) keep file order
    users, items, times = ds.users[order], ds.items[order], ds.timestamps[order]
    bounds = np.searchsorted(users, np.arange(ds.n_users + 1))
    seqs = [items[bounds[u] : bounds[u + 1]].astype(np.int64) for u in range(ds.n_users)]
    same = (users[1:] == users[:-1]) & (times[1:] == times[:-1])  # event k+1 ties with event k
    tied_at = np.flatnonzero(same) + 1
    n = np.diff(bounds)
    ends = bounds[1:]
    long = n >= MIN_EVENTS
    valid = np.full(ds.n_users, NONE, dtype=np.int64)
    test = np.full(ds.n_users, NONE, dtype=np.int64)
    train = []
    for u, s in enumerate(seqs):
        if long[u]:
            valid[u], test[u] = s[-2], s[-1]
            s = s[:-2]
        train.append(s)
    tied = np.zeros(len(users) + 1, dtype=bool)
    tied[tied_at] = True
    counts = {
        "users": int(ds.n_users),
        "events": int(len(ds)),
        "tied_pairs": int(same.sum()),
        "users_with_ties": int(len(np.unique(users[tied_at]))),
        "test_tied": int((long & tied[np.maximum(ends - 1, 0)]).sum()),
        "valid_tied": int((long & tied[np.maximum(ends - 2, 0)]).sum()),
        "short_users": int((~long & (n > 0)).sum()),
    }
    if not long.any():
        raise DataError(f"{ds.name}: no user has {MIN_EVENTS} events; leave-one-out has nothing to test")
    return SequenceSplit(train, valid, test, ds.user_ids, ds.item_ids, counts)


def padded(seqs: list[np.ndarray], max_len: int) -> np.ndarray:
    """[len(seqs), max_len] int64: each sequence's last `max_len` items as index + 1, left-padded with 0."""
    out = np.zeros((len(seqs), max_len), dtype=np.int64)
    for u, s in enumerate(seqs):
        tail = s[-max_len:] if max_len else s[:0]
        if len(tail):
            out[u, max_len - len(tail) :] = tail + 1
    return out


__all__ = ["NONE", "TIE_RULE", "SequenceSplit", "padded", "sequence_split"]
