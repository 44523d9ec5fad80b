"""Vectorised BPR triple sampling: every training edge once per epoch, uniform true negatives."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from llmrec.data.interactions import Interactions

_MAX_RESAMPLE_ROUNDS = 100


class BPRSampler:
    """Yields (users, positives, negatives) int64 arrays for one epoch at a time.

    Negatives are drawn uniformly among items the user has not interacted with in `train`;
    collisions are found with one `searchsorted` over sorted edge keys and redrawn, so an epoch
    costs a few vectorised passes instead of a Python loop per edge.
    """

    def __init__(self, train: Interactions, seed: int) -> None:
        self.users, self.items = train.pairs()
        if len(self.users) == 0:
            raise ValueError("cannot sample from an empty training set")
        self.n_items = train.n_items
        self.keys = np.sort(self.users * self.n_items + self.items)
        self.rng = np.random.default_rng(seed)

    def negatives(self, users: np.ndarray) -> np.ndarray:
        """One uniformly drawn non-interacted item per user."""
        neg = self.rng.integers(0, self.n_items, size=len(users))
        todo = np.arange(len(users))
        for _ in range(_MAX_RESAMPLE_ROUNDS):
            keys = users[todo] * self.n_items + neg[todo]
            pos = np.searchsorted(self.keys, keys).clip(max=len(self.keys) - 1)
            todo = todo[self.keys[pos] == keys]
            if len(todo) == 0:
                return neg
            neg[todo] = self.rng.integers(0, self.n_items, size=len(todo))
        raise ValueError("could not draw negatives: some users have interacted with (almost) every item")

    def epoch(self, batch_size: int) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """Shuffle all training edges and yield them in batches with fresh negatives."""
        order = self.rng.permutation(len(self.users))
        users, pos = self.users[order], self.items[order]
        neg = self.negatives(users)
        for start in range(0, len(order), batch_size):
            stop = start + batch_size
            yield users[start:stop], pos[start:stop], neg[start:stop]

    def n_batches(self, batch_size: int) -> int:
        """Number of batches per epoch."""
        return -(-len(self.users) // batch_size)
