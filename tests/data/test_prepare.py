"""Dedupe, implicit conversion, k-core and re-indexing, and `load_dataset` end to end."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from llmrec.config import DataConfig
from llmrec.data.dataset import TEST, TRAIN, Dataset
from llmrec.data.prepare import dedupe, kcore, load_dataset, subset, to_implicit


def make(
    users: list[int],
    items: list[int],
    ratings: list[float] | None = None,
    times: list[int] | None = None,
    n_users: int | None = None,
    n_items: int | None = None,
) -> Dataset:
    """A dataset whose raw ids are 100 + index (users) and 500 + index (items), with titles."""
    n_users = n_users or max(users) + 1
    n_items = n_items or max(items) + 1
    return Dataset(
        name="toy",
        users=np.array(users),
        items=np.array(items),
        user_ids=np.arange(n_users) + 100,
        item_ids=np.arange(n_items) + 500,
        ratings=None if ratings is None else np.array(ratings, dtype=np.float32),
        timestamps=None if times is None else np.array(times),
        item_meta=pd.DataFrame({"title": [f"t{i}" for i in range(n_items)]}),
        user_meta=pd.DataFrame({"age": [20 + u for u in range(n_users)]}),
    )


def test_dedupe_keeps_latest_by_time_then_by_file_order() -> None:
    ds = dedupe(make([0, 0, 1, 0], [1, 1, 0, 1], ratings=[2, 5, 4, 3], times=[30, 10, 5, 20]))
    assert ds.users.tolist() == [0, 1] and ds.items.tolist() == [1, 0]
    assert ds.ratings.tolist() == [2, 4]  # t=30 is the latest of the three (0, 1) events
    ds = dedupe(make([0, 0, 1], [1, 1, 0], ratings=[2, 5, 4]))
    assert ds.ratings.tolist() == [5, 4]
    assert "1 repeated (user, item) events dropped" in ds.notes[0]


def test_dedupe_without_repeats_is_identity() -> None:
    ds = make([0, 1], [1, 0])
    assert dedupe(ds) is ds


def test_to_implicit_filters_and_reindexes_with_metadata() -> None:
    ds = to_implicit(make([0, 0, 1, 2], [0, 1, 2, 1], ratings=[5, 3, 4, 1]), 4.0)
    assert ds.user_ids.tolist() == [100, 101] and ds.item_ids.tolist() == [500, 502]
    assert ds.users.tolist() == [0, 1] and ds.items.tolist() == [0, 1]
    assert ds.ratings.tolist() == [5, 4]
    assert ds.item_meta["title"].tolist() == ["t0", "t2"] and ds.item_meta.index.tolist() == [0, 1]
    assert ds.user_meta["age"].tolist() == [20, 21]
    assert ds.notes == ["rating >= 4 kept 2 of 4 events"]


def test_to_implicit_is_a_no_op_without_threshold_ratings_or_drops() -> None:
    rated = make([0, 1], [0, 1], ratings=[1, 2], n_items=5)
    assert to_implicit(rated, None) is rated
    assert to_implicit(rated, 1.0) is rated  # every weight >= 1 (e.g. listening counts): unseen ids kept
    binary = make([0, 1], [0, 1], n_items=5)
    assert to_implicit(binary, 4.0) is binary


def test_kcore_is_iterative() -> None:
    # user 2 has one event (item 2); dropping it leaves item 2 with one event (user 1), then
    # user 1 with a single event left (item 0) ... a 2-core of users 0 and 3 on items 0 and 1 remains
    users = [0, 0, 1, 1, 2, 3, 3]
    items = [0, 1, 0, 2, 2, 0, 1]
    ds = kcore(make(users, items), 2)
    assert ds.user_ids.tolist() == [100, 103] and ds.item_ids.tolist() == [500, 501]
    assert ds.users.tolist() == [0, 0, 1, 1] and ds.items.tolist() == [0, 1, 0, 1]
    assert ds.notes == ["2-core: 2 users, 2 items, 4 events remain"]


def test_kcore_off_and_already_satisfied() -> None:
    ds = make([0, 0, 1, 1], [0, 1, 0, 1])
    assert kcore(ds, 0) is ds
    assert kcore(ds, 2).notes == [] and len(kcore(ds, 2)) == 4


def test_subset_keeps_folds_and_times() -> None:
    ds = make([0, 1, 1], [0, 1, 2], times=[1, 2, 3])
    ds.folds = np.array([TRAIN, TRAIN, TEST], dtype=np.int8)
    sub = subset(ds, np.array([False, True, True]))
    assert sub.folds.tolist() == [TRAIN, TEST] and sub.timestamps.tolist() == [2, 3]
    assert sub.users.tolist() == [0, 0] and sub.items.tolist() == [0, 1]


def test_load_dataset_applies_dedupe_threshold_and_kcore(tmp_path: Path) -> None:
    (tmp_path / "events.csv").write_text(
        "user_id,item_id,rating,time\n"
        "a,x,5,1\na,y,4,2\nb,x,4,3\nb,y,5,4\nc,x,5,5\na,x,1,0\nb,z,2,6\n"  # (a,x,1,0) is older than (a,x,5,1)
    )
    config = DataConfig(
        dataset="custom", path=str(tmp_path / "events.csv"), rating_col="rating", time_col="time", kcore=2
    )
    ds = load_dataset(config, [])
    assert ds.user_ids.tolist() == ["a", "b"] and ds.item_ids.tolist() == ["x", "y"]
    assert sorted(zip(ds.users.tolist(), ds.items.tolist(), strict=True)) == [(0, 0), (0, 1), (1, 0), (1, 1)]
    assert ds.notes == [
        "1 repeated (user, item) events dropped; the latest kept",
        "rating >= 4 kept 5 of 6 events",
        "2-core: 2 users, 2 items, 4 events remain",
    ]


def test_threshold_is_a_no_op_for_binary_given_splits(tmp_path: Path) -> None:
    (tmp_path / "gowalla").mkdir()
    (tmp_path / "gowalla/train.txt").write_text("0 0 1\n1 1\n")
    (tmp_path / "gowalla/test.txt").write_text("0 2\n1 3\n")
    ds = load_dataset(DataConfig(dataset="gowalla", rating_threshold=4.0), [tmp_path], download=False)
    assert (ds.n_users, ds.n_items, len(ds)) == (2, 4, 5) and ds.notes == []
