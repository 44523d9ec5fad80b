"""What the augmentation stage writes, and reads back: every file atomic, a manifest written last.

The manifest holds the fingerprint of the inputs and config; a rerun with the same fingerprint reuses
the files it lists. Before a rebuild the manifest is removed first, so a run killed half-way is never
mistaken for a finished one.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, Any

import numpy as np
import pandas as pd

from llmrec.atomic import atomic_write, write_json

MANIFEST = "manifest.json"
EDGES_NPZ, EDGES_TSV = "edges.npz", "edges.tsv"
ATTRIBUTES_TSV, PROFILES_JSONL = "attributes.tsv", "profiles.jsonl"
EMBEDDINGS_INDEX, AUDIT_JSON, AUDIT_TXT, USAGE_JSON = (
    "embeddings.json",
    "audit.json",
    "audit.txt",
    "llm_usage.json",
)


def write_edges(
    out: Path,
    users: np.ndarray,
    pos: np.ndarray,
    neg: np.ndarray,
    user_ids: np.ndarray,
    item_ids: np.ndarray,
    teacher: Mapping[str, Any],
) -> list[str]:
    """edges.npz (internal indices and raw ids) and edges.tsv (raw ids and the teacher's kind)."""
    arrays = {
        "user": users.astype(np.int64),
        "pos": pos.astype(np.int64),
        "neg": neg.astype(np.int64),
        "user_id": user_ids[users].astype(str),
        "pos_id": item_ids[pos].astype(str),
        "neg_id": item_ids[neg].astype(str),
        "teacher": np.array(json.dumps(teacher)),
    }
    atomic_write(out / EDGES_NPZ, lambda f: np.savez_compressed(f, **arrays), binary=True)
    table = pd.DataFrame(
        {
            "user_id": arrays["user_id"],
            "pos_id": arrays["pos_id"],
            "neg_id": arrays["neg_id"],
            "teacher": teacher["kind"],
        }
    )
    atomic_write(out / EDGES_TSV, lambda f: table.to_csv(f, sep="\t", index=False))
    return [EDGES_NPZ, EDGES_TSV]


def read_edges(out: Path) -> dict[str, Any]:
    """The augmented triples: user, pos, neg (internal indices), their raw ids, and the teacher record."""
    with np.load(out / EDGES_NPZ) as z:
        data: dict[str, Any] = {k: z[k] for k in z.files if k != "teacher"}
        data["teacher"] = json.loads(str(z["teacher"]))
    return data


def write_attributes(
    out: Path,
    item_ids: np.ndarray,
    values: Mapping[str, Sequence[str | None]],
    sources: Mapping[str, Sequence[str]],
    teacher: Mapping[str, Any],
) -> list[str]:
    """attributes.tsv: item_id, one column per attribute (empty = missing), <name>_source, teacher."""
    table = pd.DataFrame({"item_id": item_ids.astype(str)})
    for name, column in values.items():
        table[name] = [v or "" for v in column]
    for name, column in sources.items():
        table[f"{name}_source"] = list(column)
    table["teacher"] = teacher["kind"]
    atomic_write(out / ATTRIBUTES_TSV, lambda f: table.to_csv(f, sep="\t", index=False))
    return [ATTRIBUTES_TSV]


def read_attributes(out: Path) -> pd.DataFrame:
    """attributes.tsv as strings, empty strings where a value is missing."""
    return pd.read_csv(out / ATTRIBUTES_TSV, sep="\t", dtype=str, keep_default_na=False)


def write_profiles(
    out: Path, user_ids: np.ndarray, profiles: Sequence[Mapping[str, Any] | None], teacher: Mapping[str, Any]
) -> list[str]:
    """profiles.jsonl: one JSON object per profiled user, with its raw id and the teacher's kind."""
    lines = [
        json.dumps({"user_id": str(user_ids[u]), **p, "teacher": teacher["kind"]}, ensure_ascii=False)
        for u, p in enumerate(profiles)
        if p is not None
    ]
    atomic_write(out / PROFILES_JSONL, lambda f: f.write("".join(line + "\n" for line in lines)))
    return [PROFILES_JSONL]


def read_profiles(out: Path) -> list[dict[str, Any]]:
    """Every profile of profiles.jsonl."""
    text = (out / PROFILES_JSONL).read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def write_embeddings(
    out: Path, arrays: Mapping[str, np.ndarray], model: str, teacher: Mapping[str, Any]
) -> list[str]:
    """One .npy per array (rows by internal index, zeros where the text is missing) and a JSON index."""
    files = []
    for name, array in arrays.items():
        atomic_write(out / f"{name}.npy", functools.partial(_save_npy, array=array), binary=True)
        files.append(f"{name}.npy")
    index = {
        "model": model,
        "normalized": True,
        "teacher": dict(teacher),
        "files": {f"{n}.npy": {"shape": list(a.shape), "missing_rows": int((~a.any(axis=1)).sum())}
                  for n, a in arrays.items()},
    }  # fmt: skip
    write_json(out / EMBEDDINGS_INDEX, index)
    return [*files, EMBEDDINGS_INDEX]


def _save_npy(f: IO[Any], array: np.ndarray) -> None:
    """Write one array as float32 .npy."""
    np.save(f, array.astype(np.float32))


def read_embedding(out: Path, name: str) -> np.ndarray:
    """One embedding matrix by name: item_text, item_attr_<attribute>, item_attr_all, user_profile."""
    return np.load(out / f"{name}.npy")


def reuse(out: Path, fingerprint: str) -> dict[str, Any] | None:
    """The saved audit when `out` holds complete artefacts of this fingerprint, else None."""
    path = out / MANIFEST
    if not path.is_file():
        return None
    manifest = json.loads(path.read_text(encoding="utf-8"))
    if manifest.get("fingerprint") != fingerprint or not all((out / f).is_file() for f in manifest["files"]):
        return None
    return json.loads((out / AUDIT_JSON).read_text(encoding="utf-8"))


def invalidate(out: Path) -> None:
    """Remove the manifest (the folder is unfinished until a new one is written) and our old files.

    Only files of the names this module writes are removed: a stage switched off must not leave the
    previous run's output behind, and a folder given by --out may hold other things.
    """
    (out / MANIFEST).unlink(missing_ok=True)
    names = [
        EDGES_NPZ,
        EDGES_TSV,
        ATTRIBUTES_TSV,
        PROFILES_JSONL,
        EMBEDDINGS_INDEX,
        AUDIT_JSON,
        AUDIT_TXT,
        USAGE_JSON,
    ]
    for path in [
        *(out / n for n in names),
        *out.glob("item_attr_*.npy"),
        out / "item_text.npy",
        out / "user_profile.npy",
    ]:
        path.unlink(missing_ok=True)


def write_manifest(out: Path, fingerprint: str, files: Sequence[str], details: Mapping[str, Any]) -> None:
    """The manifest, last: the fingerprint, the files it vouches for, and what produced them."""
    write_json(out / MANIFEST, {"fingerprint": fingerprint, "files": sorted(set(files)), **details})
