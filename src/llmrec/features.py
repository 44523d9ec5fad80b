"""A method's augmented inputs: side features and augmented triples read from an augmentation folder.

Which files a method reads is its recipe's business (`FeatureSpec` lists: LLMRec's in
`methods/llmrec.py`); the reading and checking is shared here.

Everything is checked against the run's split before a model sees it: the folder must hold a finished
augmentation of this very split (otherwise the candidates may come from a model that saw our test
items), every requested artefact must exist, matrices must have one finite row per user or item, and
triples must name users and items that exist. A failed check is an error naming the file, never a
silently different model. The inputs a model trained on are copied into its run directory, so the
run stands alone like every other.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch

from llmrec.atomic import atomic_write
from llmrec.augment import artefacts
from llmrec.data.dataset import Split
from llmrec.errors import ConfigError, DataError
from llmrec.models import SideFeatures
from llmrec.rundir import load_split

log = logging.getLogger("llmrec")

SAVED_FEATURES, SAVED_TRIPLES = "side_features.npz", "augmented.npz"

Triples = tuple[np.ndarray, np.ndarray, np.ndarray]


@dataclass(frozen=True)
class FeatureSpec:
    """One side-feature matrix a method reads from an augmentation folder, and the switch that asks for it."""

    switch: str  # the method's config key that turns it on, e.g. "llmrec.user_profiles"
    side: str  # "user" or "item": one row per user or per item
    name: str  # the feature's name in the model (projection order follows the list order)
    stem: str  # the artefact file: <stem>.npy
    producer: str  # the setting that makes the file, for the error when it is missing


@dataclass(frozen=True, eq=False)
class AugmentedInputs:
    """Side features for `Graph.features`, augmented (user, pos, neg) triples for `fit`, and their origin."""

    features: SideFeatures
    triples: Triples | None
    sources: dict[str, Any] = field(default_factory=dict)

    @property
    def user_dims(self) -> tuple[int, ...]:
        """Widths of the user feature matrices, in the model's projection order."""
        return tuple(x.shape[1] for x in self.features.user.values())

    @property
    def item_dims(self) -> tuple[int, ...]:
        """Widths of the item feature matrices, in the model's projection order."""
        return tuple(x.shape[1] for x in self.features.item.values())


def feature_dims(inputs: AugmentedInputs | None) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """(user, item) feature widths of `inputs`, empty without any: what a model is built with."""
    return ((), ()) if inputs is None else (inputs.user_dims, inputs.item_dims)


def load_augmented(
    augment_dir: Path,
    split: Split,
    features: list[FeatureSpec],
    edges: bool,
    feature_dim: int = 0,
    edges_switch: str = "llmrec.edges",
) -> AugmentedInputs:
    """The `features` (and with `edges` the augmented triples) read from `augment_dir`, checked
    against `split`. `feature_dim` > 0 keeps that many principal components of wider matrices."""
    manifest = augment_dir / artefacts.MANIFEST
    if not manifest.is_file():
        raise DataError(
            f"{augment_dir} holds no finished augmentation ({artefacts.MANIFEST} missing): "
            "run `llmrec augment RUN_DIR` or add 'augment' to the run's stages"
        )
    _check_same_split(augment_dir, split)
    sizes = {"user": split.train.n_users, "item": split.train.n_items}
    user: dict[str, torch.Tensor] = {}
    item: dict[str, torch.Tensor] = {}
    used: list[str] = []
    reduced: dict[str, dict[str, float]] = {}
    for spec in features:
        path = augment_dir / f"{spec.stem}.npy"
        if not path.is_file():
            raise ConfigError(
                f"{spec.switch} is on but {path} does not exist (made by {spec.producer}); "
                f"switch it off or rerun the augmentation with it"
            )
        matrix = _read_matrix(path, sizes[spec.side], spec.side)
        if not matrix.any():
            raise ConfigError(
                f"{spec.switch} is on but every row of {path} is empty (nothing was written for any "
                f"{spec.side}, e.g. no attribute in the metadata of a local teacher); switch it off"
            )
        if feature_dim and matrix.shape[1] > feature_dim:
            matrix, kept = principal_components(matrix, feature_dim)
            reduced[path.name] = {"columns": feature_dim, "variance_kept": round(kept, 4)}
        (user if spec.side == "user" else item)[spec.name] = torch.from_numpy(matrix)
        used.append(path.name)
    triples = _read_triples(augment_dir, split, edges_switch) if edges else None
    teacher = json.loads(manifest.read_text(encoding="utf-8")).get("teacher", {})
    sources = {
        "augment_dir": str(augment_dir),
        "features": used,
        "triples": 0 if triples is None else len(triples[0]),
        "teacher": teacher,
        "principal_components": reduced,
    }
    return AugmentedInputs(SideFeatures(user=user, item=item), triples, sources)


def load_extra_edges(folder: str | Path, split: Split, switch: str = "train.extra_edges") -> sp.csr_matrix:
    """The augmented (user, liked item) pairs of an augmentation folder as a users x items matrix, to
    join a model's graph; the folder must be a finished augmentation of this very split."""
    augment_dir = Path(folder).expanduser()
    if not (augment_dir / artefacts.MANIFEST).is_file():
        raise DataError(
            f"{switch}: {augment_dir} holds no finished augmentation ({artefacts.MANIFEST} missing)"
        )
    _check_same_split(augment_dir, split)
    users, pos, _ = _read_triples(augment_dir, split, switch)
    return triples_as_edges((users, pos, pos), split)


def triples_as_edges(triples: Triples, split: Split) -> sp.csr_matrix:
    """The (user, liked item) pairs of augmented triples as a binary users x items matrix."""
    users, pos, _ = triples
    shape = (split.train.n_users, split.train.n_items)
    edges = sp.csr_matrix((np.ones(len(users), np.float32), (users, pos)), shape=shape)
    edges.data[:] = 1.0  # a pair picked twice is one edge
    return edges


def _read_matrix(path: Path, rows: int, side: str) -> np.ndarray:
    """A float32 [rows, d] matrix from a .npy file, or DataError saying what is wrong with it."""
    try:
        matrix = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise DataError(f"{path}: not a readable .npy matrix ({exc})") from None
    if matrix.ndim != 2 or not np.issubdtype(matrix.dtype, np.floating):
        raise DataError(f"{path}: expected a 2-D float matrix, got {matrix.dtype} of shape {matrix.shape}")
    if matrix.shape[0] != rows:
        raise DataError(f"{path}: {matrix.shape[0]} rows, but the run has {rows} {side}s (one row each)")
    bad = ~np.isfinite(matrix).all(axis=1)
    if bad.any():
        raise DataError(
            f"{path}: {int(bad.sum())} row(s) hold NaN or infinite values, first row {bad.argmax()}"
        )
    return np.ascontiguousarray(matrix, dtype=np.float32)


def principal_components(matrix: np.ndarray, k: int) -> tuple[np.ndarray, float]:
    """The centred matrix in its top-k principal directions, and the share of variance they keep.

    The model's projection is affine, so centring changes nothing it can express; dropping the weakest
    directions is the only approximation. Eigenvectors of the small covariance, signs fixed, so the
    result is deterministic.
    """
    centred = matrix.astype(np.float64) - matrix.mean(axis=0, dtype=np.float64)
    values, vectors = np.linalg.eigh(centred.T @ centred)  # ascending
    top = vectors[:, ::-1][:, :k]
    top *= np.where(top[np.abs(top).argmax(axis=0), np.arange(k)] < 0, -1.0, 1.0)
    kept = float(values[::-1][:k].sum() / values.sum()) if values.sum() > 0 else 1.0
    return np.ascontiguousarray(centred @ top, dtype=np.float32), kept


def _read_triples(augment_dir: Path, split: Split, switch: str) -> Triples:
    """edges.npz as index arrays, with indices and raw ids checked against the split."""
    path = augment_dir / artefacts.EDGES_NPZ
    if not path.is_file():
        raise ConfigError(
            f"{switch} is on but {path} does not exist (made by augment.edges); "
            "switch it off or rerun the augmentation with it"
        )
    try:
        edges = artefacts.read_edges(augment_dir)
        users, pos, neg = (np.asarray(edges[k], dtype=np.int64) for k in ("user", "pos", "neg"))
    except (OSError, KeyError, ValueError) as exc:
        raise DataError(f"{path}: not a readable edges file ({exc})") from None
    n_users, n_items = split.train.n_users, split.train.n_items
    if not len(users) == len(pos) == len(neg):
        raise DataError(f"{path}: user, pos and neg arrays differ in length")
    for name, values, bound in (("user", users, n_users), ("pos", pos, n_items), ("neg", neg, n_items)):
        if len(values) and (values.min() < 0 or values.max() >= bound):
            raise DataError(f"{path}: {name} index out of range [0, {bound})")
    ids = {"user_id": (split.train.user_ids, users), "pos_id": (split.train.item_ids, pos),
           "neg_id": (split.train.item_ids, neg)}  # fmt: skip
    for key, (known, index) in ids.items():
        if key in edges and not np.array_equal(np.asarray(edges[key], dtype=str), known[index].astype(str)):
            raise DataError(f"{path}: {key} values do not match this run's ids: made for another dataset?")
    return users, pos, neg


def _check_same_split(augment_dir: Path, split: Split) -> None:
    """Refuse an augmentation made from another split: its candidates' model may have seen our test."""
    audit_path = augment_dir / artefacts.AUDIT_JSON
    base = json.loads(audit_path.read_text(encoding="utf-8")).get("base", {}) if audit_path.is_file() else {}
    base_dir = Path(base.get("run_dir", ""))
    if not (base_dir / "split.npz").is_file():
        log.warning(
            "llmrec: cannot find the base run of %s to compare splits; checking ids only", augment_dir
        )
        return
    other = load_split(base_dir)
    for part in ("train", "valid", "test"):
        a, b = getattr(split, part), getattr(other, part)
        same_ids = all(  # a fresh split may hold numeric ids; saved ones are strings
            np.array_equal(x.astype(str), y.astype(str))
            for x, y in ((a.user_ids, b.user_ids), (a.item_ids, b.item_ids))
        )
        if not same_ids or a.user_items.shape != b.user_items.shape or (a.user_items != b.user_items).nnz:
            raise DataError(
                f"{augment_dir} was made from the split of {base_dir}, which differs from this run's "
                f"{part} part: augmenting from another split can leak test items"
            )


def save_inputs(inputs: AugmentedInputs, run_dir: Path) -> None:
    """Copy the inputs a model trains on into its run directory (features, triples, origin)."""
    arrays = {f"{side}/{name}": x.numpy() for side in ("user", "item")
              for name, x in getattr(inputs.features, side).items()}  # fmt: skip
    arrays["sources"] = np.array(json.dumps(inputs.sources))
    atomic_write(run_dir / SAVED_FEATURES, lambda f: np.savez(f, **arrays), binary=True)
    if inputs.triples is not None:
        users, pos, neg = inputs.triples
        atomic_write(
            run_dir / SAVED_TRIPLES, lambda f: np.savez(f, user=users, pos=pos, neg=neg), binary=True
        )


def load_saved_inputs(run_dir: Path) -> AugmentedInputs | None:
    """The inputs saved by `save_inputs`, or None for a run without them."""
    path = run_dir / SAVED_FEATURES
    if not path.is_file():
        return None
    user: dict[str, torch.Tensor] = {}
    item: dict[str, torch.Tensor] = {}
    with np.load(path, allow_pickle=False) as z:
        sources = json.loads(str(z["sources"]))
        for key in z.files:  # npz keeps insertion order, which is the projection order
            side, _, name = key.partition("/")
            if name:
                (user if side == "user" else item)[name] = torch.from_numpy(z[key])
    triples = None
    if (run_dir / SAVED_TRIPLES).is_file():
        with np.load(run_dir / SAVED_TRIPLES) as z:
            triples = (z["user"], z["pos"], z["neg"])
    return AugmentedInputs(SideFeatures(user=user, item=item), triples, sources)


__all__ = [
    "AugmentedInputs",
    "FeatureSpec",
    "feature_dims",
    "load_augmented",
    "load_extra_edges",
    "load_saved_inputs",
    "save_inputs",
    "triples_as_edges",
]
