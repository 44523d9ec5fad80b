"""From a dataset name to clean implicit feedback: load, dedupe, threshold, k-core, reindex."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from llmrec.config import DataConfig
from llmrec.data.dataset import Dataset
from llmrec.data.registry import DATASETS, locate
from llmrec.errors import ConfigError


def load_dataset(config: DataConfig, dirs: Sequence[Path], *, download: bool = True) -> Dataset:
    """Load `config.dataset` from the first data dir holding it, then apply the config's filters."""
    spec = DATASETS.get(config.dataset)
    if spec is None:
        raise ConfigError(f"unknown dataset {config.dataset!r}; valid names: {', '.join(DATASETS)}")
    # custom data names its files in the config; relative paths resolve from the working directory
    folder = locate(spec, dirs, download=download) if spec.files else Path()
    ds = dedupe(spec.loader(folder, config))
    ds = to_implicit(ds, config.rating_threshold)
    return kcore(ds, config.kcore)


def dedupe(ds: Dataset) -> Dataset:
    """Keep one event per (user, item): the latest by timestamp, else the last in file order."""
    order = np.arange(len(ds)) if ds.timestamps is None else np.argsort(ds.timestamps, kind="stable")
    keys = ds.users[order] * ds.n_items + ds.items[order]
    # np.unique returns first occurrences, so search the reversed order for the last ones
    _, last = np.unique(keys[::-1], return_index=True)
    if len(last) == len(ds):
        return ds
    keep = np.zeros(len(ds), dtype=bool)
    keep[order[::-1][last]] = True
    removed = len(ds) - len(last)
    return _note(subset(ds, keep), f"{removed:,} repeated (user, item) events dropped; the latest kept")


def to_implicit(ds: Dataset, threshold: float | None) -> Dataset:
    """Keep events rated >= threshold; no threshold, no ratings or play counts keep everything."""
    if threshold is None or ds.ratings is None or ds.ratings_are_counts:
        return ds
    keep = ds.ratings >= threshold
    if keep.all():
        return ds
    return _note(subset(ds, keep), f"rating >= {threshold:g} kept {int(keep.sum()):,} of {len(ds):,} events")


def kcore(ds: Dataset, k: int) -> Dataset:
    """Iteratively drop users and items with fewer than k events until none is left (k <= 0: off)."""
    if k <= 0:
        return ds
    keep = np.ones(len(ds), dtype=bool)
    while True:
        user_deg = np.bincount(ds.users[keep], minlength=ds.n_users)
        item_deg = np.bincount(ds.items[keep], minlength=ds.n_items)
        ok = keep & (user_deg[ds.users] >= k) & (item_deg[ds.items] >= k)
        if ok.sum() == keep.sum():
            break
        keep = ok
    before = (ds.n_users, ds.n_items, len(ds))
    ds = subset(ds, keep)
    if (ds.n_users, ds.n_items, len(ds)) == before:
        return ds
    return _note(ds, f"{k}-core: {ds.n_users:,} users, {ds.n_items:,} items, {len(ds):,} events remain")


def subset(ds: Dataset, keep: np.ndarray) -> Dataset:
    """Events where `keep` is true, re-indexed to the users and items that still have events."""
    users, items = ds.users[keep], ds.items[keep]
    kept_users, new_users = np.unique(users, return_inverse=True)
    kept_items, new_items = np.unique(items, return_inverse=True)

    return dataclasses.replace(
        ds,
        users=new_users.astype(np.int64),
        items=new_items.astype(np.int64),
        user_ids=ds.user_ids[kept_users],
        item_ids=ds.item_ids[kept_items],
        ratings=None if ds.ratings is None else ds.ratings[keep],
        timestamps=None if ds.timestamps is None else ds.timestamps[keep],
        folds=None if ds.folds is None else ds.folds[keep],
        item_meta=None if ds.item_meta is None else ds.item_meta.iloc[kept_items].reset_index(drop=True),
        user_meta=None if ds.user_meta is None else ds.user_meta.iloc[kept_users].reset_index(drop=True),
        notes=list(ds.notes),
    )


def _note(ds: Dataset, note: str) -> Dataset:
    """`ds` with one more note (for reports: what filtering did)."""
    ds.notes.append(note)
    return ds
