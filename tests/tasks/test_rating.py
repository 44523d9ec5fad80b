"""The rating task: the per-user split, the scale check, fields, metrics and training with reuse."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from llmrec.config import TrainConfig
from llmrec.data.dataset import Dataset
from llmrec.errors import DataError
from llmrec.models import BiasedMFConfig, DeepFMConfig
from llmrec.tasks.rating import rating_metrics, train_rating_seeds
from llmrec.tasks.rating_data import Fields, Ratings, RatingSplit, attribute_fields, first_name, rating_split


def toy_dataset(n_users: int = 30, n_items: int = 20, seed: int = 0, name: str = "ml-100k") -> Dataset:
    """Every user rates every item: 3 + user offset + item offset (rounded into 1-5), two user kinds."""
    rng = np.random.default_rng(seed)
    users, items = np.meshgrid(np.arange(n_users), np.arange(n_items), indexing="ij")
    users, items = users.ravel(), items.ravel()
    kind = users % 2  # even users love even items
    ratings = np.clip(
        np.round(3 + np.where(kind == items % 2, 1.5, -1.5) + rng.normal(0, 0.3, len(users))), 1, 5
    )
    items_meta = pd.DataFrame(
        {
            "title": [f"Film {i}" for i in range(n_items)],
            "year": [1990 + i % 3 for i in range(n_items)],
            "genres": ["Drama|Comedy" if i % 2 else "Action" for i in range(n_items)],
            "director": [f"D{i % 2}" if i != 3 else "" for i in range(n_items)],
            "cast": [f"Star {i % 4}, Other" for i in range(n_items)],
        }
    )
    users_meta = pd.DataFrame(
        {"age": ["24"] * n_users, "gender": ["M", "F"] * (n_users // 2), "occupation": ["writer"] * n_users}
    )
    return Dataset(
        name,
        users,
        items,
        np.arange(n_users).astype(str),
        np.arange(n_items).astype(str),
        ratings=ratings.astype(np.float32),
        item_meta=items_meta,
        user_meta=users_meta,
    )


def test_each_user_is_split_80_10_10_at_random_and_the_parts_cover_every_rating() -> None:
    ds = toy_dataset()
    split = rating_split(ds, (0.8, 0.1, 0.1), seed=7)
    for part, n in ((split.train, 16), (split.valid, 2), (split.test, 2)):  # 20 ratings per user
        assert (np.bincount(part.users, minlength=30) == n).all()
    keys = {
        (u, i) for p in (split.train, split.valid, split.test) for u, i in zip(p.users, p.items, strict=True)
    }
    assert len(keys) == 600
    again = rating_split(ds, (0.8, 0.1, 0.1), seed=7)
    assert (again.test.items == split.test.items).all()
    other = rating_split(ds, (0.8, 0.1, 0.1), seed=8)
    assert not (other.test.items == split.test.items).all()


def test_users_with_fewer_than_three_ratings_stay_in_training_and_are_noted() -> None:
    ds = toy_dataset()
    keep = (ds.users != 0) | (ds.items < 2)  # user 0 keeps two ratings
    ds = Dataset(ds.name, ds.users[keep], ds.items[keep], ds.user_ids, ds.item_ids, ratings=ds.ratings[keep])
    split = rating_split(ds)
    assert (split.train.users == 0).sum() == 2 and 0 not in split.test.users
    assert any("fewer than 3" in n for n in split.notes)


def test_a_rating_off_the_scale_is_an_error_naming_it() -> None:
    ds = toy_dataset()
    ds.ratings[5] = 7.0
    with pytest.raises(DataError, match=r"1 rating\(s\) outside the scale 1-5, e.g. user 0 item 5 rating 7"):
        rating_split(ds)
    ds.ratings[5] = np.nan
    with pytest.raises(DataError, match="outside the scale"):
        rating_split(ds)


def test_fields_keep_values_seen_in_training_and_leave_the_rest_empty() -> None:
    ds = toy_dataset()
    split = rating_split(ds)
    extra = {"director": [first_name(v) for v in ds.item_meta["director"]]}
    fields = attribute_fields(ds, split, extra)
    assert fields.names == ("age", "gender", "occupation", "genres", "year", "director")
    assert fields.sizes == (1, 2, 1, 3, 3, 2) and fields.slots == (1, 1, 1, 2, 1, 1)
    slots = fields.of(np.array([0]), np.array([3]))[0]  # item 3: Drama|Comedy, 1990, no director
    assert slots.tolist() == [0, 1, 0, 2, 1, 0, 2]  # "<25"; M; writer; Drama, Comedy (as listed); 1990; empty
    assert first_name("Tom Hanks, Tim Allen") == "Tom Hanks" and first_name("") is None


def test_rmse_and_mae_by_hand() -> None:
    got = rating_metrics(np.array([3.0, 4.0, 5.0]), np.array([4.0, 4.0, 3.0]))
    assert got == pytest.approx({"rmse": np.sqrt(5 / 3), "mae": 1.0})


@pytest.mark.parametrize("model", ["biased-mf", "deepfm"])
def test_training_learns_the_two_tastes_and_a_rerun_reuses_the_seeds(model: str, tmp_path: Path) -> None:
    ds = toy_dataset()
    split = rating_split(ds)
    fields = attribute_fields(ds, split) if model == "deepfm" else Fields()
    options = (
        BiasedMFConfig(dim=4, reg=0.001)
        if model == "biased-mf"
        else DeepFMConfig(dim=4, reg=0.001, hidden=(8,))
    )
    cfg = TrainConfig(epochs=60, batch_size=64, lr=0.05, patience=5)
    run = train_rating_seeds(model, model, options, cfg, split, fields, tmp_path, [1, 2])
    always_mean = rating_metrics(np.full(len(split.test), split.train.ratings.mean()), split.test.ratings)
    # the tastes are +-1.5 around 3: the mean alone errs by ~1.5, rounding noise leaves ~0.5
    assert run.metrics["test"]["rmse"] < 0.8 and always_mean["rmse"] > 1.4
    assert run.valid_score("rmse") == pytest.approx(
        np.mean([r["valid"]["rmse"] for r in run.metrics["runs"]])
    )
    record = json.loads((tmp_path / "seed-1.json").read_text())
    assert record["valid"]["rmse"] == min(h["valid"]["rmse"] for h in record["history"])
    again = train_rating_seeds(model, model, options, cfg, split, fields, tmp_path, [1, 2])
    assert again.metrics["runs"] == run.metrics["runs"]
    assert (again.predictions[2]["test"] == run.predictions[2]["test"]).all()


def _join(a: Ratings, b: Ratings) -> Ratings:
    return Ratings(
        *(np.concatenate([x, y]) for x, y in ((a.users, b.users), (a.items, b.items), (a.ratings, b.ratings)))
    )


def _where(part: Ratings, mask: np.ndarray) -> Ratings:
    return Ratings(part.users[mask], part.items[mask], part.ratings[mask])


def test_an_item_absent_from_training_is_predicted_from_the_biases(tmp_path: Path) -> None:
    split = rating_split(toy_dataset())
    gone = split.train.items == 0  # item 0's training ratings move to the test part
    test = _join(split.test, _where(split.train, gone))
    cold = RatingSplit(
        _where(split.train, ~gone), split.valid, test, split.n_users, split.n_items, split.scale
    )
    cfg = TrainConfig(epochs=5, batch_size=64, lr=0.05, patience=5)
    run = train_rating_seeds("m", "biased-mf", BiasedMFConfig(dim=2), cfg, cold, Fields(), tmp_path, [1])
    assert not cold.known_items[0]
    preds = run.predictions[1]["test"][cold.test.items == 0]
    assert np.isfinite(preds).all() and len(set(np.round(preds, 6))) > 1  # user biases still differ
