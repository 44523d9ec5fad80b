"""`Dataset`: one dataset's raw events and metadata, before implicit conversion and splitting."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from llmrec.data.interactions import Interactions

TRAIN, VALID, TEST = 0, 1, 2  # values of Dataset.folds


@dataclass
class Dataset:
    """Events as parallel arrays of internal indices, plus raw id maps and metadata.

    `folds` is set when the dataset ships its own split (0 train, 1 valid, 2 test). `item_meta` is
    indexed by internal item index with at least a `title` column (may be empty strings); other
    columns (year, genres, director, cast, plot...) are whatever the dataset's metadata files hold.
    """

    name: str
    users: np.ndarray
    items: np.ndarray
    user_ids: np.ndarray
    item_ids: np.ndarray
    ratings: np.ndarray | None = None
    timestamps: np.ndarray | None = None
    folds: np.ndarray | None = None
    item_meta: pd.DataFrame | None = None
    user_meta: pd.DataFrame | None = None
    notes: list[str] = field(default_factory=list)
    ratings_are_counts: bool = False  # `ratings` hold play counts, not a scale: no rating threshold

    @property
    def n_users(self) -> int:
        """Number of users in the id map."""
        return len(self.user_ids)

    @property
    def n_items(self) -> int:
        """Number of items in the id map."""
        return len(self.item_ids)

    def __len__(self) -> int:
        return len(self.users)

    def interactions(self, mask: np.ndarray | None = None) -> Interactions:
        """The (optionally masked) events as an Interactions matrix with this dataset's id maps."""
        users, items = (self.users, self.items) if mask is None else (self.users[mask], self.items[mask])
        return Interactions.from_pairs(users, items, self.user_ids, self.item_ids)


@dataclass(frozen=True)
class Split:
    """Train / valid / test interactions over one shared id space."""

    train: Interactions
    valid: Interactions
    test: Interactions
    method: str
    notes: tuple[str, ...] = ()
    # training positives held out of every model for a simulated teacher (split.teacher_pool); None: none
    pool: Interactions | None = None
