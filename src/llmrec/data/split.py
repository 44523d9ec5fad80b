"""Train / valid / test splits of a `Dataset`, seeded and deterministic.

Methods: `ratio` (random per user), `temporal` (per user by time), `loo` (leave the last one out),
`given` (the dataset's own folds), `auto` (given when the dataset ships folds, else ratio).
Every user with valid or test events keeps at least one train event.
`teacher_pool` moves a share of each user's train events out of train into `Split.pool`, for a simulated
teacher (docs/teacher.md); valid and test are the same as without it.
"""

from __future__ import annotations

import numpy as np

from llmrec.config import SplitConfig
from llmrec.data.dataset import TEST, TRAIN, VALID, Dataset, Split
from llmrec.errors import ConfigError, DataError

METHODS = ("auto", "ratio", "loo", "temporal", "given")
POOL = 3  # fold of the training events held out for a simulated teacher (split.teacher_pool)
MIN_EVENTS = 3  # users with fewer events keep them all in train: holding one out leaves too little


def split(ds: Dataset, cfg: SplitConfig) -> Split:
    """Divide the dataset's events into train / valid / test according to `cfg`."""
    if cfg.method not in METHODS:
        raise ConfigError(f"unknown split method {cfg.method!r}; valid methods: {', '.join(METHODS)}")
    method = cfg.method if cfg.method != "auto" else ("given" if ds.folds is not None else "ratio")
    rng = np.random.default_rng(cfg.seed)
    note = None
    if method == "given":
        folds, note = given_folds(ds, cfg.valid_from_train, rng)
    elif method == "loo":
        # random order when there is no time; ties in time keep file order (lexsort is stable)
        key = rng.random(len(ds)) if ds.timestamps is None else ds.timestamps
        n = np.bincount(ds.users, minlength=ds.n_users)
        one = (n >= MIN_EVENTS).astype(np.int64)
        folds = assign(ds.users, key, n_test=one, n_valid=one)
    else:
        _check_ratios(cfg.ratios)
        if method == "ratio":
            key = rng.random(len(ds))
        elif ds.timestamps is None:
            raise DataError(f"{ds.name}: split 'temporal' needs timestamps and this dataset has none")
        else:
            key = ds.timestamps
        n_test, n_valid = ratio_counts(np.bincount(ds.users, minlength=ds.n_users), cfg.ratios)
        folds = assign(ds.users, key, n_test=n_test, n_valid=n_valid)
    for fold, part in ((TRAIN, "train"), (VALID, "valid"), (TEST, "test")):
        if not (folds == fold).any():
            raise DataError(f"{ds.name}: split '{method}' leaves {part} empty")
    notes: tuple[str, ...] = (note,) if note else ()
    pool = None
    if cfg.teacher_pool != 0:
        folds = carve_pool(ds.users, folds, cfg.teacher_pool, cfg.seed)
        pool = ds.interactions(folds == POOL)
        notes += (
            f"teacher pool: {cfg.teacher_pool:.0%} of each user's train events (rounded, users with at "
            f"least {MIN_EVENTS} keep at least two) held out of every model for a simulated teacher",
        )
    return Split(
        train=ds.interactions(folds == TRAIN),
        valid=ds.interactions(folds == VALID),
        test=ds.interactions(folds == TEST),
        method=method,
        notes=notes,
        pool=pool,
    )


def carve_pool(users: np.ndarray, folds: np.ndarray, share: float, seed: int) -> np.ndarray:
    """`folds` with `share` of each user's TRAIN events (rounded half up) moved to POOL.

    Users with fewer than MIN_EVENTS train events give none; the others keep at least two. The draw has
    its own random stream, so valid and test are exactly those of the split without a pool.
    """
    if not 0 < share < 1:
        raise ConfigError(f"split.teacher_pool must be in [0, 1), got {share}")
    train = np.flatnonzero(folds == TRAIN)
    n = np.bincount(users[train], minlength=int(users.max()) + 1 if len(users) else 0)
    n_pool = np.minimum(np.floor(n * share + 0.5).astype(np.int64), np.maximum(n - 2, 0))
    n_pool[n < MIN_EVENTS] = 0
    rng = np.random.default_rng([seed, POOL])
    carved = assign(users[train], rng.random(len(train)), n_test=n_pool, n_valid=np.zeros_like(n_pool))
    out = folds.copy()
    out[train] = np.where(carved == TEST, POOL, TRAIN)
    return out


def ratio_counts(n: np.ndarray, ratios: tuple[float, float, float]) -> tuple[np.ndarray, np.ndarray]:
    """Per-user (test, valid) sizes: n * ratio rounded half up, at least one train event left."""
    n_test = np.floor(n * ratios[2] + 0.5).astype(np.int64)
    n_valid = np.floor(n * ratios[1] + 0.5).astype(np.int64)
    over = np.maximum(n_test + n_valid - (n - 1), 0)  # shrink valid first, then test
    cut = np.minimum(over, n_valid)
    n_valid, n_test = n_valid - cut, n_test - (over - cut)
    few = n < MIN_EVENTS
    n_test[few], n_valid[few] = 0, 0
    return n_test, n_valid


def assign(users: np.ndarray, key: np.ndarray, n_test: np.ndarray, n_valid: np.ndarray) -> np.ndarray:
    """Fold per event: per user, ordered by `key`, the last n_test go to test, the n_valid before to valid."""
    order = np.lexsort((key, users))
    counts = np.bincount(users, minlength=len(n_test))
    ends = np.cumsum(counts)
    sorted_users = users[order]
    from_end = ends[sorted_users] - np.arange(len(order)) - 1  # 0 = the user's last event
    t, v = n_test[sorted_users], n_valid[sorted_users]
    folds = np.full(len(users), TRAIN, dtype=np.int8)
    folds[order] = np.where(from_end < t, TEST, np.where(from_end < t + v, VALID, TRAIN))
    return folds


def given_folds(ds: Dataset, valid_share: float, rng: np.random.Generator) -> tuple[np.ndarray, str | None]:
    """The dataset's folds (and a note); with no valid fold, carve `valid_share` of each user's train."""
    if ds.folds is None:
        raise DataError(
            f"{ds.name}: split 'given' needs a dataset that ships its own split; use ratio, loo or temporal"
        )
    folds = ds.folds.astype(np.int8)
    if (folds == VALID).any():
        return folds, None
    train = np.flatnonzero(folds == TRAIN)
    n = np.bincount(ds.users[train], minlength=ds.n_users)
    n_valid = np.minimum(np.floor(n * valid_share + 0.5).astype(np.int64), np.maximum(n - 1, 0))
    carved = assign(ds.users[train], rng.random(len(train)), np.zeros_like(n_valid), n_valid)
    folds[train] = carved
    note = (
        f"valid carved from train: {valid_share:.0%} of each user's train events (rounded, at least one "
        "train event kept, seeded); the dataset ships no separate valid part"
    )
    return folds, note


def _check_ratios(ratios: tuple[float, float, float]) -> None:
    """Ratios must be three non-negative shares summing to 1 with a positive train share."""
    if len(ratios) != 3 or min(ratios) < 0 or ratios[0] <= 0 or abs(sum(ratios) - 1) > 1e-6:
        raise ConfigError(f"split.ratios must be (train, valid, test) >= 0 summing to 1, got {ratios}")
