"""Splits: exact per-user counts on hand-made data, disjointness, determinism, edge cases."""

from __future__ import annotations

import numpy as np
import pytest

from llmrec.config import SplitConfig
from llmrec.data.dataset import TEST, TRAIN, VALID, Dataset, Split
from llmrec.data.split import ratio_counts, split
from llmrec.errors import ConfigError, DataError


def make(sizes: list[int], times: bool = True, folds: list[int] | None = None, n_items: int = 40) -> Dataset:
    """User u has sizes[u] events on items 0..sizes[u]-1 at times 0..sizes[u]-1 (item i at time i)."""
    users = np.repeat(np.arange(len(sizes)), sizes)
    items = np.concatenate([np.arange(n) for n in sizes])
    return Dataset(
        name="toy",
        users=users,
        items=items,
        user_ids=np.arange(len(sizes)),
        item_ids=np.arange(n_items),
        timestamps=items * 10 if times else None,
        folds=None if folds is None else np.array(folds, dtype=np.int8),
    )


def per_user(sp: Split) -> list[tuple[int, int, int]]:
    """(train, valid, test) counts of every user."""
    counts = [np.diff(part.user_items.indptr) for part in (sp.train, sp.valid, sp.test)]
    return [tuple(int(c[u]) for c in counts) for u in range(sp.train.n_users)]


def assert_partition(sp: Split, ds: Dataset) -> None:
    """Parts are disjoint, cover every event, and every valid/test user has train events."""
    parts = [p.user_items for p in (sp.train, sp.valid, sp.test)]
    total = parts[0] + parts[1] + parts[2]
    assert total.max() == 1 and total.nnz == len(ds)
    has_train = np.diff(parts[0].indptr) > 0
    for held_out in parts[1:]:
        assert has_train[np.diff(held_out.indptr) > 0].all()


def test_ratio_counts_round_half_up_and_keep_one_train() -> None:
    n = np.array([0, 1, 2, 3, 5, 10, 15, 20])
    n_test, n_valid = ratio_counts(n, (0.8, 0.1, 0.1))
    assert n_test.tolist() == [0, 0, 0, 0, 1, 1, 2, 2]
    assert n_valid.tolist() == [0, 0, 0, 0, 1, 1, 2, 2]
    n_test, n_valid = ratio_counts(np.array([3, 4]), (0.2, 0.4, 0.4))  # 1.2 -> 1 each; 1.6 -> 2 each
    assert n_test.tolist() == [1, 2] and n_valid.tolist() == [1, 1]  # valid shrinks first to keep one train


def test_ratio_split_exact_counts_and_partition() -> None:
    ds = make([10, 5, 2, 20])
    sp = split(ds, SplitConfig(method="ratio", ratios=(0.8, 0.1, 0.1), seed=1))
    assert sp.method == "ratio" and sp.notes == ()
    assert per_user(sp) == [(8, 1, 1), (3, 1, 1), (2, 0, 0), (16, 2, 2)]
    assert_partition(sp, ds)


def test_ratio_split_is_deterministic_per_seed() -> None:
    ds = make([30] * 20)
    a, b = (split(ds, SplitConfig(method="ratio", seed=7)) for _ in range(2))
    c = split(ds, SplitConfig(method="ratio", seed=8))
    assert (a.test.user_items != b.test.user_items).nnz == 0
    assert (a.test.user_items != c.test.user_items).nnz > 0
    assert per_user(a) == per_user(c) == [(24, 3, 3)] * 20


def test_temporal_split_holds_out_the_latest() -> None:
    ds = make([10, 5])
    sp = split(ds, SplitConfig(method="temporal", ratios=(0.6, 0.2, 0.2)))
    assert per_user(sp) == [(6, 2, 2), (3, 1, 1)]
    assert sp.test.items_of(0).tolist() == [8, 9] and sp.valid.items_of(0).tolist() == [6, 7]
    assert sp.test.items_of(1).tolist() == [4] and sp.valid.items_of(1).tolist() == [3]


def test_temporal_split_needs_timestamps() -> None:
    with pytest.raises(DataError, match=r"toy: split 'temporal' needs timestamps"):
        split(make([10], times=False), SplitConfig(method="temporal"))


def test_loo_takes_last_for_test_and_the_one_before_for_valid() -> None:
    ds = make([4, 3, 2])
    ds.timestamps[:4] = [40, 10, 30, 20]  # user 0: by time, items 1, 3, 2, 0
    sp = split(ds, SplitConfig(method="loo"))
    assert per_user(sp) == [(2, 1, 1), (1, 1, 1), (2, 0, 0)]
    assert sp.test.items_of(0).tolist() == [0] and sp.valid.items_of(0).tolist() == [2]
    assert sp.test.items_of(1).tolist() == [2] and sp.valid.items_of(1).tolist() == [1]


def test_loo_without_time_is_random_but_seeded() -> None:
    ds = make([6] * 10, times=False)
    a, b = (split(ds, SplitConfig(method="loo", seed=3)) for _ in range(2))
    assert per_user(a) == [(4, 1, 1)] * 10
    assert (a.test.user_items != b.test.user_items).nnz == 0
    assert_partition(a, ds)


def test_given_uses_folds_and_carves_valid_when_absent() -> None:
    ds = make([10, 2], folds=[TRAIN] * 9 + [TEST] + [TRAIN, TEST])
    sp = split(ds, SplitConfig(method="given", valid_from_train=0.2, seed=5))
    assert per_user(sp) == [(7, 2, 1), (1, 0, 1)]  # 9 * 0.2 = 1.8 -> 2; one train event -> none carved
    assert sp.test.items_of(0).tolist() == [9]
    assert len(sp.notes) == 1 and "valid carved from train: 20%" in sp.notes[0]
    assert_partition(sp, ds)


def test_given_keeps_a_shipped_valid_fold() -> None:
    ds = make([4], folds=[TRAIN, TRAIN, VALID, TEST])
    sp = split(ds, SplitConfig(method="auto"))
    assert sp.method == "given" and sp.notes == ()
    assert per_user(sp) == [(2, 1, 1)] and sp.valid.items_of(0).tolist() == [2]


def test_auto_without_folds_is_ratio() -> None:
    assert split(make([10, 10]), SplitConfig()).method == "ratio"


def test_given_without_folds_is_an_error() -> None:
    with pytest.raises(DataError, match=r"toy: split 'given' needs a dataset that ships its own split"):
        split(make([10]), SplitConfig(method="given"))


@pytest.mark.parametrize(
    ("method", "ds", "part"),
    [
        ("ratio", make([2, 2]), "valid"),  # users with < 3 events keep all in train
        ("loo", make([2, 2]), "valid"),
        ("given", make([3], folds=[TRAIN, TRAIN, VALID]), "test"),
    ],
)
def test_empty_parts_are_errors(method: str, ds: Dataset, part: str) -> None:
    with pytest.raises(DataError, match=rf"toy: split '{method}' leaves {part} empty"):
        split(ds, SplitConfig(method=method))


def test_bad_method_and_ratios_are_config_errors() -> None:
    with pytest.raises(ConfigError, match=r"unknown split method 'random'; valid methods: auto, ratio"):
        split(make([10]), SplitConfig(method="random"))
    with pytest.raises(ConfigError, match=r"split.ratios"):
        split(make([10]), SplitConfig(method="ratio", ratios=(0.5, 0.1, 0.1)))


def test_random_dataset_partitions_for_every_method() -> None:
    rng = np.random.default_rng(0)
    sizes = rng.integers(1, 30, size=200).tolist()
    ds = make(sizes, n_items=40)
    ds.timestamps = rng.integers(0, 5, size=len(ds))  # many ties
    for method in ("ratio", "temporal", "loo"):
        sp = split(ds, SplitConfig(method=method, seed=11))
        assert_partition(sp, ds)
        counts = per_user(sp)
        assert all(t == n for (t, _, _), n in zip(counts, sizes, strict=True) if n < 3)


def test_teacher_pool_carves_train_only_and_leaves_valid_test_unchanged() -> None:
    ds = make([10, 5, 2, 20])
    plain = split(ds, SplitConfig(method="ratio", seed=1))
    pooled = split(ds, SplitConfig(method="ratio", seed=1, teacher_pool=0.25))
    assert pooled.pool is not None and plain.pool is None
    # train 8, 3, 2, 16 -> pool round(2.0), round(0.75)=1, 0 (under 3 events), round(4.0)
    assert np.diff(pooled.pool.user_items.indptr).tolist() == [2, 1, 0, 4]
    assert (pooled.valid.user_items != plain.valid.user_items).nnz == 0
    assert (pooled.test.user_items != plain.test.user_items).nnz == 0
    whole = pooled.train.user_items + pooled.pool.user_items
    assert (whole != plain.train.user_items).nnz == 0  # train = what is left of the plain train
    assert "teacher pool" in pooled.notes[-1]


def test_teacher_pool_keeps_two_train_events_and_rejects_bad_shares() -> None:
    from llmrec.data.split import POOL, carve_pool

    users = np.zeros(4, dtype=np.int64)
    out = carve_pool(users, np.full(4, TRAIN, dtype=np.int8), 0.9, seed=3)  # round(3.6)=4, capped at 2
    assert (out == POOL).sum() == 2 and (out == TRAIN).sum() == 2
    with pytest.raises(ConfigError, match="teacher_pool"):
        carve_pool(users, np.full(4, TRAIN, dtype=np.int8), 1.0, seed=3)
