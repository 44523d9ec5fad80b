"""The rating task's data: explicit ratings split per user 80/10/10, and DeepFM's attribute fields.

The split (`rating_split`): each user's ratings are shuffled with a generator seeded by (split seed,
user) and cut into test (round(10%) of them, at least one), validation (likewise) and training (the
rest); a user with fewer than three ratings keeps them all in training. Every rating must lie on the
dataset's scale (ML-100K: 1-5); one outside it is a DataError naming it, never used. Users and items
with no training rating can still appear in validation and test; `RatingSplit.known_*` marks them
so models map them to their unknown row (bias-only predictions).

Fields (`attribute_fields`): user attributes (age group, gender, occupation) and item attributes
(genres, several slots; year; and any extra item attributes such as director and star), each value
a category. Values are kept only when some training item (or user) has them; the others, like a
missing value, leave the slot empty.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from llmrec.data.dataset import Dataset
from llmrec.errors import DataError

# the rating scale of each dataset with explicit ratings (a custom dataset: its observed range)
SCALES: dict[str, tuple[float, float]] = {
    "ml-100k": (1.0, 5.0),
    "ml-1m": (1.0, 5.0),
    "ml-latest-small": (0.5, 5.0),
}
AGE_GROUPS = (18, 25, 35, 45, 50, 56)  # MovieLens 1M's age codes, as bucket edges


@dataclass(frozen=True)
class Ratings:
    """(user, item, rating) triples as parallel arrays of internal indices and values."""

    users: np.ndarray
    items: np.ndarray
    ratings: np.ndarray

    def __len__(self) -> int:
        return len(self.users)


@dataclass(frozen=True)
class RatingSplit:
    """Train / valid / test ratings over the dataset's id space, the scale, and what splitting did."""

    train: Ratings
    valid: Ratings
    test: Ratings
    n_users: int
    n_items: int
    scale: tuple[float, float]
    notes: tuple[str, ...] = ()

    @property
    def known_users(self) -> np.ndarray:
        """[n_users] whether each user has a training rating."""
        return np.bincount(self.train.users, minlength=self.n_users) > 0

    @property
    def known_items(self) -> np.ndarray:
        """[n_items] whether each item has a training rating."""
        return np.bincount(self.train.items, minlength=self.n_items) > 0

    @property
    def n_train(self) -> np.ndarray:
        """[n_users] training ratings per user: N(u) of the long-tail coefficient."""
        return np.bincount(self.train.users, minlength=self.n_users)

    def describe(self) -> dict[str, object]:
        """The split as recorded in metrics.json."""
        return {
            "method": "per-user random 80/10/10 of explicit ratings",
            "scale": list(self.scale),
            "train": len(self.train),
            "valid": len(self.valid),
            "test": len(self.test),
            "n_users": self.n_users,
            "n_items": self.n_items,
            "notes": list(self.notes),
        }


def dataset_scale(ds: Dataset) -> tuple[float, float]:
    """The dataset's rating scale: known for MovieLens, else the observed range (noted by the caller)."""
    if ds.ratings is None or ds.ratings_are_counts:
        raise DataError(f"{ds.name}: the rating task needs explicit ratings; this dataset has none")
    if ds.name in SCALES:
        return SCALES[ds.name]
    return float(np.nanmin(ds.ratings)), float(np.nanmax(ds.ratings))


def check_scale(ds: Dataset, scale: tuple[float, float]) -> None:
    """DataError when any rating is missing or outside the scale, naming how many and the first one."""
    assert ds.ratings is not None
    bad = ~((ds.ratings >= scale[0]) & (ds.ratings <= scale[1]))  # NaN is bad too
    if bad.any():
        j = int(np.flatnonzero(bad)[0])
        raise DataError(
            f"{ds.name}: {int(bad.sum()):,} rating(s) outside the scale {scale[0]:g}-{scale[1]:g}, e.g. "
            f"user {ds.user_ids[ds.users[j]]} item {ds.item_ids[ds.items[j]]} rating {ds.ratings[j]}; "
            "fix or remove them (the rating task uses no rating it cannot trust)"
        )


def rating_split(ds: Dataset, ratios: Sequence[float] = (0.8, 0.1, 0.1), seed: int = 2024) -> RatingSplit:
    """Per-user random split of every explicit rating (see the module docstring)."""
    scale = dataset_scale(ds)
    check_scale(ds, scale)
    assert ds.ratings is not None
    if len(ratios) != 3 or any(r < 0 for r in ratios) or abs(sum(ratios) - 1.0) > 1e-6:
        raise DataError(f"split.ratios must be three non-negative shares summing to 1, got {list(ratios)}")
    fold = np.zeros(len(ds), dtype=np.int8)
    order = np.argsort(ds.users, kind="stable")
    starts = np.searchsorted(ds.users[order], np.arange(ds.n_users + 1))
    few = 0
    for u in range(ds.n_users):
        rows = order[starts[u] : starts[u + 1]]
        n = len(rows)
        if n < 3:
            few += n > 0
            continue
        n_test = max(1, round(ratios[2] * n))
        n_valid = max(1, round(ratios[1] * n))
        shuffled = np.random.default_rng([seed, u]).permutation(rows)
        fold[shuffled[:n_test]] = 2
        fold[shuffled[n_test : n_test + n_valid]] = 1
    parts = [
        Ratings(ds.users[fold == k], ds.items[fold == k], ds.ratings[fold == k].astype(np.float32))
        for k in range(3)
    ]
    notes = []
    if ds.name not in SCALES:
        notes.append(f"scale {scale[0]:g}-{scale[1]:g} taken from the observed ratings")
    if few:
        notes.append(f"{few} user(s) with fewer than 3 ratings kept wholly in training")
    train, valid, test = parts
    split = RatingSplit(train, valid, test, n_users=ds.n_users, n_items=ds.n_items, scale=scale)
    for name, part in (("validation", split.valid), ("test", split.test)):
        cold_items = int((~split.known_items[part.items]).sum())
        if cold_items:
            notes.append(f"{cold_items} {name} rating(s) of items with no training rating (bias-only)")
    return dataclasses.replace(split, notes=tuple(notes))


@dataclass(frozen=True)
class Fields:
    """Attribute fields: names, category counts, slots per field, and each user's / item's slot values.

    `user_slots[u]` and `item_slots[i]` hold category indices; a field's size marks an empty slot.
    """

    names: tuple[str, ...] = ()
    sizes: tuple[int, ...] = ()
    slots: tuple[int, ...] = ()
    user_slots: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), dtype=np.int64))
    item_slots: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), dtype=np.int64))

    def of(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """[B, S] the slot values of (user, item) pairs: user fields first, then item fields."""
        return np.concatenate([self.user_slots[users], self.item_slots[items]], axis=1)

    def describe(self) -> dict[str, int]:
        """{field: categories}, for metrics.json."""
        return dict(zip(self.names, self.sizes, strict=True))


def _categorical(values: Sequence[Sequence[str]], trained: np.ndarray) -> tuple[int, int, np.ndarray]:
    """(size, slots, [n, slots] indices) of a field: categories seen on a trained row, empty = size."""
    vocab = sorted({v for row, t in zip(values, trained, strict=True) if t for v in row})
    index = {v: k for k, v in enumerate(vocab)}
    slots = max(1, max((len(row) for row in values), default=1))
    table = np.full((len(values), slots), len(vocab), dtype=np.int64)
    for r, row in enumerate(values):
        known = [index[v] for v in row if v in index]
        table[r, : len(known)] = known
    return len(vocab), slots, table


def _column(meta: pd.DataFrame | None, name: str, n: int) -> list[str]:
    """A metadata column as stripped strings ('' where absent), or n blanks."""
    if meta is None or name not in meta:
        return [""] * n
    return ["" if pd.isna(v) else str(v).strip() for v in meta[name].tolist()]


def _age_group(age: str) -> list[str]:
    """MovieLens 1M's age bucket of an age ('' when unknown)."""
    if not age.isdigit():
        return []
    return [f"<{edge}" for edge in AGE_GROUPS if int(age) < edge][:1] or [f">={AGE_GROUPS[-1]}"]


def attribute_fields(
    ds: Dataset, split: RatingSplit, extra: Mapping[str, Sequence[str | None]] | None = None
) -> Fields:
    """User fields age/gender/occupation, item fields genres/year, then `extra` item fields
    (e.g. {"director": [...], "star": [...]} by item index, None where unknown)."""
    n_u, n_i = ds.n_users, ds.n_items
    user_values = {
        "age": [_age_group(a) for a in _column(ds.user_meta, "age", n_u)],
        "gender": [[g] if g else [] for g in _column(ds.user_meta, "gender", n_u)],
        "occupation": [[o] if o else [] for o in _column(ds.user_meta, "occupation", n_u)],
    }
    item_values = {
        "genres": [
            [g for g in s.split("|") if g and g != "unknown"] for s in _column(ds.item_meta, "genres", n_i)
        ],
        "year": [[y] if y and y != "<NA>" else [] for y in _column(ds.item_meta, "year", n_i)],
    }
    for name, given in (extra or {}).items():
        if len(given) != n_i:
            raise DataError(f"item attribute {name!r}: {len(given)} values for {n_i} items")
        item_values[name] = [[v] if v else [] for v in given]
    names: list[str] = []
    sizes: list[int] = []
    slots: list[int] = []
    users: list[np.ndarray] = []
    items: list[np.ndarray] = []
    sides: tuple[tuple[str, dict[str, list[list[str]]], np.ndarray], ...] = (
        ("user", user_values, split.known_users),
        ("item", item_values, split.known_items),
    )
    for side, by_field, trained in sides:
        for name, column in by_field.items():
            if not any(column):
                continue  # the dataset has nothing for this field
            size, width, table = _categorical(column, trained)
            names.append(name)
            sizes.append(size)
            slots.append(width)
            (users if side == "user" else items).append(table)
    return Fields(
        tuple(names),
        tuple(sizes),
        tuple(slots),
        np.concatenate(users, axis=1) if users else np.zeros((n_u, 0), dtype=np.int64),
        np.concatenate(items, axis=1) if items else np.zeros((n_i, 0), dtype=np.int64),
    )


def first_name(value: object) -> str | None:
    """The first of a ', '-joined list of names (the first-billed star, the first director), or None."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    head = str(value).split(",")[0].strip()
    return head or None


__all__ = [
    "SCALES",
    "Fields",
    "RatingSplit",
    "Ratings",
    "attribute_fields",
    "check_scale",
    "dataset_scale",
    "first_name",
    "rating_split",
]
