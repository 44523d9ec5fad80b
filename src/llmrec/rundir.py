"""Run directories: everything a stage writes for later stages, read and written atomically.

A run directory stands alone: the resolved config, the exact split, item and user metadata and
the selected weights, so evaluation, recommendation and the LLM stages need no data folder.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch

from llmrec import config as cfgmod
from llmrec.atomic import atomic_write
from llmrec.config import RunConfig
from llmrec.data.dataset import Dataset, Split
from llmrec.data.interactions import Interactions
from llmrec.errors import DataError
from llmrec.factory import FeatureDims, new_model
from llmrec.models import ClosedForm, capabilities_of

log = logging.getLogger("llmrec")


def save_split(split: Split, dataset: Dataset, out: Path) -> None:
    """Store the split matrices, id maps and item/user metadata so the run dir stands alone."""
    arrays = {
        f"{part}_{attr}": getattr(getattr(split, part).user_items, attr)
        for part in ("train", "valid", "test")
        for attr in ("indptr", "indices")
    }
    if split.pool is not None:
        arrays.update(pool_indptr=split.pool.user_items.indptr, pool_indices=split.pool.user_items.indices)
    arrays["user_ids"] = split.train.user_ids.astype(str)
    arrays["item_ids"] = split.train.item_ids.astype(str)
    atomic_write(out / "split.npz", lambda f: np.savez_compressed(f, **arrays), binary=True)
    titles = _item_titles(dataset)
    if titles is not None:
        items = pd.DataFrame({"item_id": split.train.item_ids.astype(str), "title": titles})
        if dataset.item_meta is not None:  # every metadata column, for the LLM stages
            extra = dataset.item_meta.drop(columns=["title"], errors="ignore").reindex(range(dataset.n_items))
            items = pd.concat([items, extra.reset_index(drop=True)], axis=1)
        atomic_write(out / "items.tsv", lambda f: items.to_csv(f, sep="\t", index=False))
    if dataset.user_meta is not None:
        users = dataset.user_meta.reindex(range(dataset.n_users)).reset_index(drop=True)
        users.insert(0, "user_id", split.train.user_ids.astype(str))
        atomic_write(out / "users.tsv", lambda f: users.to_csv(f, sep="\t", index=False))


def _item_titles(dataset: Dataset) -> list[str] | None:
    """Titles by internal item index, or None when the dataset has none."""
    meta = dataset.item_meta
    if meta is None or "title" not in meta:
        return None
    titles = meta["title"].reindex(range(dataset.n_items)).fillna("").astype(str).tolist()
    return titles if any(titles) else None


def load_split(run_dir: Path) -> Split:
    """Rebuild the Split saved in a run directory."""
    path = run_dir / "split.npz"
    if not path.exists():
        raise DataError(f"{run_dir} is not a run directory: {path.name} is missing")
    with np.load(path) as z:
        user_ids, item_ids = z["user_ids"], z["item_ids"]
        shape = (len(user_ids), len(item_ids))
        parts = {}
        for part in ("train", "valid", "test", "pool"):
            if f"{part}_indices" not in z:  # the pool only where split.teacher_pool made one
                continue
            indices = z[f"{part}_indices"]
            matrix = sp.csr_matrix(
                (np.ones(len(indices), np.float32), indices, z[f"{part}_indptr"]), shape=shape
            )
            parts[part] = Interactions(matrix, user_ids, item_ids)
    return Split(parts["train"], parts["valid"], parts["test"], method="saved", pool=parts.get("pool"))


def load_run_config(run_dir: Path) -> RunConfig:
    """The resolved config a run was trained with."""
    for name in ("config.toml", "split.npz"):
        if not (run_dir / name).exists():
            raise DataError(f"{run_dir} is not a run directory: {name} is missing")
    return cfgmod.load(run_dir / "config.toml")


def model_file(seed: int, retrained: bool = False) -> str:
    """File name of a seed's selected model, or of its retrained (`train.refit`) test model."""
    return f"model-seed{seed}-refit.pt" if retrained else f"model-seed{seed}.pt"


def load_model(
    run_dir: Path,
    cfg: RunConfig,
    split: Split,
    seed: int | None = None,
    edges: sp.csr_matrix | None = None,
    feature_dims: FeatureDims = ((), ()),
    retrained: bool = False,
) -> torch.nn.Module:
    """The selected model of one seed (default: the first), for side features of `feature_dims` widths;
    with `retrained`, the model retrained on train + valid that a `train.refit` run tested.

    A model declared `closed_form` (GF-CF, popularity) keeps no learned weights: it is solved again
    here on `edges`, the training edges its run used (default: the saved train split).
    """
    seed = cfg.seed if seed is None else seed
    path = run_dir / model_file(seed, retrained)
    if not path.exists():
        raise DataError(f"no trained model for seed {seed} in {run_dir} ({path.name} missing)")
    model = new_model(cfg, split.train.n_users, split.train.n_items, feature_dims)
    model.load_state_dict(torch.load(path, weights_only=True))
    if capabilities_of(model).closed_form:
        cast(ClosedForm, model).fit(split.train.user_items if edges is None else edges)
    model.eval()
    return model


def warm_start(model: torch.nn.Module, run_dir: Path, seed: int, split: Split) -> None:
    """Load seed `seed`'s selected weights from an earlier run into `model`, to train on from there.

    The earlier run must have used the same split (same users, items and edges) and a model with the
    same parameters; anything else is a one-line error naming the run. Optimiser state is not saved
    with a run, so Adam starts afresh.
    """
    saved = load_split(run_dir)
    for part in ("train", "valid", "test"):
        ours, theirs = getattr(split, part).user_items, getattr(saved, part).user_items
        if ours.shape != theirs.shape or not (
            np.array_equal(ours.indptr, theirs.indptr) and np.array_equal(ours.indices, theirs.indices)
        ):
            raise DataError(f"train.init_from: {run_dir} was trained on another split ({part} differs)")
    path = run_dir / f"model-seed{seed}.pt"
    if not path.exists():
        raise DataError(
            f"train.init_from: no trained model for seed {seed} in {run_dir} ({path.name} missing)"
        )
    try:
        model.load_state_dict(torch.load(path, weights_only=True))
    except RuntimeError as err:
        first = str(err).strip().splitlines()[1:2] or [str(err)]
        raise DataError(
            f"train.init_from: {path} does not fit {type(model).__name__}: {first[0].strip()}"
        ) from None


def load_titles(run_dir: Path) -> list[str] | None:
    """Item titles saved with the run, by internal index."""
    meta = load_item_meta(run_dir)
    return None if meta is None else meta["title"].tolist()


def load_item_meta(run_dir: Path) -> pd.DataFrame | None:
    """Item metadata saved with a run (all text, by internal index), or None."""
    path = run_dir / "items.tsv"
    return pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False) if path.exists() else None


def load_user_meta(run_dir: Path) -> pd.DataFrame | None:
    """User metadata (demographics) saved with a run, by internal index, or None."""
    path = run_dir / "users.tsv"
    return pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False) if path.exists() else None


def checkpoint_file(seed: int, retrained: bool = False) -> str:
    """File name of a seed's resumable training state while it trains (or refits); removed after."""
    return f"seed{seed}-refit.ckpt" if retrained else f"seed{seed}-train.ckpt"


@dataclasses.dataclass(frozen=True)
class RunCheckpoint:
    """A seed's resumable training state in a run folder (`train.Checkpoint`), valid only for the
    run fingerprint it was saved under: a changed config or split starts the seed afresh."""

    path: Path
    fingerprint: str
    interval: float = 120.0  # seconds between saves

    def load(self) -> dict[str, Any] | None:
        """The saved state, or None if there is none, it is another run's, or it cannot be read."""
        if not self.path.is_file():
            return None
        try:
            saved = torch.load(self.path, weights_only=True)
        except Exception as exc:  # noqa: BLE001  (torch raises many kinds for a damaged file)
            log.warning("%s cannot be read (%s): training this seed from its first epoch", self.path, exc)
            return None
        if not isinstance(saved, dict) or saved.get("fingerprint") != self.fingerprint:
            log.info(
                "%s belongs to another configuration: training this seed from its first epoch", self.path
            )
            return None
        return cast(dict[str, Any], saved["state"])

    def save(self, state: dict[str, Any]) -> None:
        """Replace the saved state atomically (a kill mid-save leaves the previous one)."""
        atomic_torch_save({"fingerprint": self.fingerprint, "state": state}, self.path)

    def clear(self) -> None:
        """Remove the state once the model it leads to is saved."""
        self.path.unlink(missing_ok=True)


def atomic_torch_save(obj: Any, path: Path) -> None:
    """torch.save through a temp file + rename."""
    atomic_write(path, lambda f: torch.save(obj, f), binary=True)
