"""What ER2ALM's stages keep in OUT/er2alm: one JSON per stage keyed by a fingerprint (an unchanged
rerun reads it back; a changed input rebuilds it), TSV views for people, and the finished feature
folder the graph model reads (the layout of `llmrec.augment.artefacts`: .npy matrices, edges.npz,
audit.json naming the base run, a manifest written last).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from llmrec.atomic import atomic_write, write_json
from llmrec.augment import artefacts
from llmrec.errors import DataError

log = logging.getLogger("llmrec")


def load_or_build(path: Path, key: str, build: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """The saved payload of `path` when it was made under `key`, else `build()` saved there first."""
    if path.is_file():
        try:
            saved = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            saved = {}  # a torn or foreign file: rebuilt below
        if saved.get("key") == key:
            log.info("er2alm: %s is up to date: reused", path.name)
            return {**saved, "reused": True}
    payload = {"key": key, **build()}
    write_json(path, payload)
    return payload


def write_table(path: Path, frame: pd.DataFrame) -> None:
    """A TSV view of a stage's output."""
    atomic_write(path, lambda f: frame.to_csv(f, sep="\t", index=False))


def write_features(
    out: Path,
    key: str,
    matrices: Mapping[str, np.ndarray],
    triples: tuple[np.ndarray, np.ndarray, np.ndarray] | None,
    user_ids: np.ndarray,
    item_ids: np.ndarray,
    teacher: Mapping[str, Any],
    audit: Mapping[str, Any],
) -> None:
    """The feature folder: matrices, edges, audit and the manifest that vouches for them (last)."""
    out.mkdir(parents=True, exist_ok=True)
    (out / artefacts.MANIFEST).unlink(missing_ok=True)
    for stale in out.glob("*.npy"):
        stale.unlink()
    (out / artefacts.EDGES_NPZ).unlink(missing_ok=True)
    files: list[str] = []
    files += artefacts.write_embeddings(out, dict(matrices), str(audit.get("encoder", "")), teacher)
    if triples is not None:
        files += artefacts.write_edges(out, *triples, user_ids, item_ids, teacher)
    write_json(out / artefacts.AUDIT_JSON, dict(audit))
    files.append(artefacts.AUDIT_JSON)
    artefacts.write_manifest(out, key, files, {"teacher": dict(teacher)})


def features_ready(out: Path, key: str) -> bool:
    """Whether `out` holds a finished feature folder made under `key`."""
    return artefacts.reuse(out, key) is not None


def find_file(name: str, dirs: Sequence[Path]) -> Path:
    """The corpus file: absolute, or the first data directory (then the working directory) holding it."""
    path = Path(name).expanduser()
    if path.is_absolute():
        if not path.is_file():
            raise DataError(f"er2alm.corpus: {path} not found")
        return path
    for folder in (*dirs, Path.cwd()):
        if (folder / path).is_file():
            return folder / path
    raise DataError(
        f"er2alm.corpus: {name} not found under {[str(d) for d in dirs] or ['.']} or the working directory"
    )


def gate_frame(
    item_ids: Sequence[str],
    aspects: Sequence[str],
    table: Sequence[Sequence[str | None]],
    scores: np.ndarray,
    routes: Sequence[Sequence[str]],
    kept: np.ndarray,
) -> pd.DataFrame:
    """One row per present (item, aspect): value, J, the route that decided, kept or dropped."""
    rows = [
        {
            "item_id": item_ids[i],
            "aspect": a,
            "value": table[i][k],
            "J": round(float(scores[i, k]), 4),
            "route": routes[i][k],
            "kept": bool(kept[i, k]),
        }
        for i in range(len(table))
        for k, a in enumerate(aspects)
        if table[i][k]
    ]
    return pd.DataFrame(rows, columns=["item_id", "aspect", "value", "J", "route", "kept"])


__all__ = ["features_ready", "find_file", "gate_frame", "load_or_build", "write_features", "write_table"]
