"""Vectorised BPR triple sampling: every training edge once per epoch, uniform true negatives
(one per edge, or several candidates per edge for a model that trains on the hardest of them)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from llmrec.data.interactions import Interactions

_MAX_RESAMPLE_ROUNDS = 100


class BPRSampler:
    """Yields (users, positives, negatives) int64 arrays for one epoch at a time.

    Negatives are drawn uniformly among items the user has not interacted with in `train`;
    collisions are found with one `searchsorted` over sorted edge keys and redrawn, so an epoch
    costs a few vectorised passes instead of a Python loop per edge.

    With `n_negatives` > 1 each batch's negatives are a (B, n_negatives) array of such draws, drawn
    batch by batch so an epoch never holds them all: the candidates of dynamic negative sampling,
    among which the model trains on the one it currently scores highest (`losses.hardest_negatives`).
    With 1, negatives are one array per epoch, drawn as before (the same stream for the same seed).
    """

    def __init__(self, train: Interactions, seed: int, n_negatives: int = 1) -> None:
        self.users, self.items = train.pairs()
        if len(self.users) == 0:
            raise ValueError("cannot sample from an empty training set")
        if n_negatives < 1:
            raise ValueError(f"n_negatives must be at least 1, got {n_negatives}")
        self.n_negatives = n_negatives
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
        k = self.n_negatives
        neg = self.negatives(users) if k == 1 else None
        for start in range(0, len(order), batch_size):
            batch = users[start : start + batch_size]
            if neg is not None:
                negs = neg[start : start + batch_size]
            else:
                negs = self.negatives(np.repeat(batch, k)).reshape(len(batch), k)
            yield batch, pos[start : start + batch_size], negs

    def n_batches(self, batch_size: int) -> int:
        """Number of batches per epoch."""
        return -(-len(self.users) // batch_size)

    def state(self) -> dict[str, Any]:
        """The random stream's position between epochs: restoring it replays the epochs that follow."""
        return {"rng": self.rng.bit_generator.state}

    def set_state(self, state: dict[str, Any]) -> None:
        """Continue the stream from a `state()` taken by a sampler of the same training set and seed."""
        self.rng.bit_generator.state = state["rng"]


class AugmentedSampler:
    """`BPRSampler`'s batches followed by augmented (user, pos, neg) triples: six int64 arrays per batch,
    or with `merged` the triples appended to the batch's own three arrays.

    Each batch of B original edges brings max(1, round(rate * B)) augmented triples (e.g. LLM-chosen
    liked / disliked items) drawn uniformly with replacement from all of them; the original part is
    exactly what `BPRSampler(train, seed, n_negatives)` yields, so switching augmentation on changes
    nothing else. Six arrays feed a model that weighs augmented pairs apart (LLMRec's pruning); merged
    ones train any BPR model on D + the triples (Llama4Rec's data augmentation), an augmented negative
    repeated across the K columns of dynamic negative sampling.
    """

    def __init__(
        self,
        train: Interactions,
        augmented: tuple[np.ndarray, np.ndarray, np.ndarray],
        rate: float,
        seed: int,
        merged: bool = False,
        n_negatives: int = 1,
    ) -> None:
        users, pos, neg = (np.asarray(a, dtype=np.int64) for a in augmented)
        if not len(users) == len(pos) == len(neg) or len(users) == 0:
            raise ValueError(
                f"augmented triples must be non-empty and aligned, got {len(users)}/{len(pos)}/{len(neg)}"
            )
        if users.min() < 0 or users.max() >= train.n_users:
            raise ValueError(f"augmented users must lie in [0, {train.n_users})")
        for name, items in (("pos", pos), ("neg", neg)):
            if items.min() < 0 or items.max() >= train.n_items:
                raise ValueError(f"augmented {name} items must lie in [0, {train.n_items})")
        if rate <= 0:
            raise ValueError(f"aug_rate must be positive, got {rate}")
        self.base = BPRSampler(train, seed, n_negatives)
        self.users, self.pos, self.neg, self.rate, self.merged = users, pos, neg, rate, merged
        # its own stream, so the original part of each batch is BPRSampler's, draw for draw
        self.rng = np.random.default_rng([seed, 2])

    def epoch(self, batch_size: int) -> Iterator[tuple[np.ndarray, ...]]:
        """BPRSampler's epoch, each batch extended by its share of augmented triples."""
        for users, pos, neg in self.base.epoch(batch_size):
            pick = self.rng.integers(0, len(self.users), size=max(1, round(self.rate * len(users))))
            if not self.merged:
                yield users, pos, neg, self.users[pick], self.pos[pick], self.neg[pick]
                continue
            extra = self.neg[pick] if neg.ndim == 1 else np.repeat(self.neg[pick][:, None], neg.shape[1], 1)
            yield (
                np.concatenate([users, self.users[pick]]),
                np.concatenate([pos, self.pos[pick]]),
                np.concatenate([neg, extra]),
            )

    def n_batches(self, batch_size: int) -> int:
        """Number of batches per epoch."""
        return self.base.n_batches(batch_size)

    def state(self) -> dict[str, Any]:
        """Both random streams' positions between epochs (see `BPRSampler.state`)."""
        return {"base": self.base.state(), "rng": self.rng.bit_generator.state}

    def set_state(self, state: dict[str, Any]) -> None:
        """Continue both streams from a `state()` of a sampler built from the same inputs and seed."""
        self.base.set_state(state["base"])
        self.rng.bit_generator.state = state["rng"]
