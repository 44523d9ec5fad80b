"""LLMRec's released layout (HKUDS/LLMRec), read and written where it maps onto ours.

| LLMRec file | its content | ours |
|---|---|---|
| augmented_sample_dict | {user: {0: pos item, 1: neg item}} | edges.npz |
| augmented_attribute_dict | {item: {0: director, 1: country, 2: language}} | attributes.tsv |
| augmented_item_attribute_agg.csv | id, title, genre, director, country, language (no header) | export only |
| augmented_user_profiling_dict | {user: "{'age': .., 'liked genre': .., ...}"} | profiles.jsonl |
| augmented_user_init_embedding | {user: vector} | export only (user_profile.npy) |
| augmented_atttribute_embedding_dict | {attribute: {item: vector}} (sic) | export only (item_attr_*.npy) |
| augmented_total_embed_dict | {attribute: n_items x d array} | export only (item_attr_*.npy) |

Indices are LLMRec's 0-based internal ones, which are llmrec's internal indices for the llmrec-netflix
split. LLMRec's files are pickles, and unpickling runs code: they are read with `SafeUnpickler`, which
admits dicts, lists, tuples, numbers, strings and numpy arrays and refuses everything else. Imported
text is re-encoded by our encoder; LLMRec's own embedding pickles are not read.
"""

from __future__ import annotations

import importlib
import json
import numbers
import pickle
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from llmrec.atomic import atomic_write
from llmrec.augment.artefacts import (
    read_attributes,
    read_edges,
    read_embedding,
    read_profiles,
)
from llmrec.augment.attributes import TEACHER, AttributeResult, from_dataset
from llmrec.augment.edges import EdgeResult
from llmrec.augment.inputs import Inputs
from llmrec.augment.parsers import normalise_value, parse_profile
from llmrec.augment.profiles import ProfileResult, with_demographics
from llmrec.errors import DataError

SAMPLES, ATTRIBUTES, PROFILES = (
    "augmented_sample_dict",
    "augmented_attribute_dict",
    "augmented_user_profiling_dict",
)
AGG_CSV = "augmented_item_attribute_agg.csv"
USER_EMBEDDING, ATTRIBUTE_EMBEDDING, TOTAL_EMBEDDING = (
    "augmented_user_init_embedding",
    "augmented_atttribute_embedding_dict",  # LLMRec's spelling
    "augmented_total_embed_dict",
)
LLMREC_ATTRIBUTES = ("director", "country", "language")  # positions 0, 1, 2 of augmented_attribute_dict
PROFILE_NAMES = {  # ours -> LLMRec's profile keys
    "age": "age",
    "gender": "gender",
    "liked_genres": "liked genre",
    "disliked_genres": "disliked genre",
    "liked_directors": "liked directors",
    "country": "country",
    "language": "language",
    "summary": "summary",
}
_ALLOWED = {
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
}


class SafeUnpickler(pickle.Unpickler):
    """An unpickler for data only: plain containers, numbers, strings and numpy arrays; nothing callable."""

    def find_class(self, module: str, name: str) -> Any:
        """Resolve only the numpy names needed to rebuild arrays and scalars; refuse everything else."""
        if (module, name) not in _ALLOWED:
            raise pickle.UnpicklingError(
                f"refusing to load {module}.{name}: only dicts, lists, tuples, numbers, strings and "
                "numpy arrays are allowed"
            )
        if module == "numpy":
            return getattr(np, name)
        try:  # pickles written by numpy 1 name numpy.core, numpy 2 names numpy._core
            return getattr(importlib.import_module("numpy._core.multiarray"), name)
        except ImportError:
            return getattr(importlib.import_module("numpy.core.multiarray"), name)


def safe_load(path: Path) -> Any:
    """Unpickle `path` with SafeUnpickler; a refused or broken file raises DataError naming it."""
    try:
        with path.open("rb") as f:
            return SafeUnpickler(f).load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError) as exc:
        raise DataError(f"{path}: not a readable LLMRec file: {exc}") from None


def import_files(folder: Path) -> list[Path]:
    """The LLMRec files of `folder` that an import reads (for the fingerprint)."""
    return [folder / n for n in (SAMPLES, ATTRIBUTES, PROFILES) if (folder / n).is_file()]


@dataclass(frozen=True)
class Release:
    """What an LLMRec folder holds, as our results (None: that file is not there)."""

    edges: EdgeResult | None
    attributes: AttributeResult | None
    profiles: ProfileResult | None


def import_release(folder: Path, inputs: Inputs, names: tuple[str, ...]) -> Release:
    """Read every LLMRec file of `folder`; a folder with none of them is a DataError."""
    if not import_files(folder):
        raise DataError(f"{folder}: none of LLMRec's files ({SAMPLES}, {ATTRIBUTES}, {PROFILES}) is there")
    return Release(
        import_edges(folder, inputs),
        import_attributes(folder, inputs, names),
        import_profiles(folder, inputs),
    )


def import_edges(folder: Path, inputs: Inputs) -> EdgeResult | None:
    """augmented_sample_dict as triples; entries out of range or with pos == neg are counted and dropped."""
    path = folder / SAMPLES
    if not path.is_file():
        return None
    data = _mapping(safe_load(path), path)
    invalid: Counter[str] = Counter()
    kept: list[tuple[int, int, int]] = []
    for user, pair in data.items():
        triple = _triple(user, pair, inputs.n_users, inputs.n_items)
        if isinstance(triple, str):
            invalid[triple] += 1
        else:
            kept.append(triple)
    triples = np.array(kept, dtype=np.int64).reshape(-1, 3)
    report = {"users": inputs.n_users, "no_history": 0, "too_few_candidates": 0, "short_candidates": 0}
    return EdgeResult(
        triples[:, 0],
        triples[:, 1],
        triples[:, 2],
        {**report, **_import_report(len(data), len(kept), invalid)},
    )


def _triple(user: Any, pair: Any, n_users: int, n_items: int) -> tuple[int, int, int] | str:
    """(user, pos, neg) from one entry, or the reason it is unusable."""
    if not isinstance(pair, Mapping | list | tuple) or len(pair) < 2:
        return "format"
    values = (user, pair[0], pair[1])
    if not all(isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in values):
        return "format"
    u, p, n = (int(v) for v in values)
    if not (0 <= u < n_users and 0 <= p < n_items and 0 <= n < n_items):
        return "out_of_range"  # also LLMRec's own "no pair" marker, an index >= n_items
    return (u, p, n) if p != n else "same_item"


def import_attributes(folder: Path, inputs: Inputs, names: tuple[str, ...]) -> AttributeResult | None:
    """augmented_attribute_dict filling what the dataset lacks, values normalised like an LLM's."""
    path = folder / ATTRIBUTES
    if not path.is_file():
        return None
    data = _mapping(safe_load(path), path)
    result = from_dataset(inputs, names)
    invalid: Counter[str] = Counter()
    for item, fields in data.items():
        if not isinstance(item, numbers.Integral) or not 0 <= int(item) < inputs.n_items:
            invalid["out_of_range"] += 1
            continue
        if not isinstance(fields, Mapping | list | tuple):
            invalid["format"] += 1
            continue
        for position, name in enumerate(LLMREC_ATTRIBUTES):
            if name not in names or result.values[name][int(item)] is not None:
                continue
            raw = fields.get(position) if isinstance(fields, Mapping) else _at(fields, position)
            value = normalise_value(name, raw, name) if isinstance(raw, str) else None
            if value is not None:
                result.values[name][int(item)] = value
                result.sources[name][int(item)] = TEACHER
    result.report = {
        "items": inputs.n_items,
        **_import_report(len(data), len(data) - sum(invalid.values()), invalid),
    }
    return result


def _at(values: list[Any] | tuple[Any, ...], position: int) -> Any:
    """values[position], or None past the end."""
    return values[position] if position < len(values) else None


def import_profiles(folder: Path, inputs: Inputs) -> ProfileResult | None:
    """augmented_user_profiling_dict through the profile parser (LLMRec's profiles have no summary)."""
    path = folder / PROFILES
    if not path.is_file():
        return None
    data = _mapping(safe_load(path), path)
    profiles: list[dict[str, Any] | None] = [None] * inputs.n_users
    invalid: Counter[str] = Counter()
    for user, text in data.items():
        if not isinstance(user, numbers.Integral) or not 0 <= int(user) < inputs.n_users:
            invalid["out_of_range"] += 1
            continue
        raw = json.dumps(text) if isinstance(text, dict) else text
        try:
            parsed = parse_profile(str(raw), require_summary=False)
        except ValueError:
            invalid["format"] += 1
            continue
        profiles[int(user)] = with_demographics(parsed, inputs.users[int(user)])
    usable = sum(p is not None for p in profiles)
    return ProfileResult(profiles, {"users": inputs.n_users, **_import_report(len(data), usable, invalid)})


def _import_report(entries: int, usable: int, invalid: Counter[str]) -> dict[str, Any]:
    """Counts of one imported file."""
    return {"prompts": 0, "imported_entries": entries, "usable": usable, "invalid_imported": dict(invalid)}


def _mapping(data: Any, path: Path) -> Mapping[Any, Any]:
    """The dict at the top of an LLMRec pickle."""
    if not isinstance(data, Mapping):
        raise DataError(f"{path}: expected a dict at the top, got {type(data).__name__}")
    return data


def export_llmrec(augment_dir: Path, dest: Path, inputs: Inputs, names: tuple[str, ...]) -> list[str]:
    """Write the artefacts of `augment_dir` as LLMRec's files into `dest`; returns the names written.

    Users without an augmented pair get {0: n_items, 1: n_items}, the out-of-range marker LLMRec's
    trainer skips. Embeddings are written only when the augmentation encoded them.
    """
    dest.mkdir(parents=True, exist_ok=True)
    written = []
    if (augment_dir / "edges.npz").is_file():
        edges = read_edges(augment_dir)
        samples = {u: {0: inputs.n_items, 1: inputs.n_items} for u in range(inputs.n_users)}
        for u, p, n in zip(edges["user"], edges["pos"], edges["neg"], strict=True):
            samples[int(u)] = {0: int(p), 1: int(n)}
        written.append(_dump(dest / SAMPLES, samples))
    if (augment_dir / "attributes.tsv").is_file():
        table = read_attributes(augment_dir)
        columns = [table.get(n, pd.Series([""] * len(table))) for n in LLMREC_ATTRIBUTES]
        rows = {i: {k: str(col.iloc[i]) for k, col in enumerate(columns)} for i in range(len(table))}
        written.append(_dump(dest / ATTRIBUTES, rows))
        agg = pd.DataFrame(
            {
                "id": range(len(table)),
                "title": [m.get("title", "") for m in inputs.items],
                "genre": [m.get("genres", "") for m in inputs.items],
                **{n: table.get(n, "") for n in LLMREC_ATTRIBUTES},
            }
        )
        atomic_write(dest / AGG_CSV, lambda f: agg.to_csv(f, index=False, header=False))
        written.append(AGG_CSV)
    if (augment_dir / "profiles.jsonl").is_file():
        index = {str(uid): u for u, uid in enumerate(inputs.train.user_ids)}
        texts = {index[p["user_id"]]: repr(_llmrec_profile(p)) for p in read_profiles(augment_dir)}
        written.append(_dump(dest / PROFILES, texts))
    if (augment_dir / "user_profile.npy").is_file():
        users = read_embedding(augment_dir, "user_profile")
        written.append(_dump(dest / USER_EMBEDDING, {u: users[u] for u in range(len(users))}))
    attrs = {n: read_embedding(augment_dir, f"item_attr_{n}") for n in names
             if (augment_dir / f"item_attr_{n}.npy").is_file()}  # fmt: skip
    if attrs:
        per_item = {n: {i: a[i].tolist() for i in range(len(a))} for n, a in attrs.items()}
        written.append(_dump(dest / ATTRIBUTE_EMBEDDING, per_item))
        written.append(_dump(dest / TOTAL_EMBEDDING, attrs))
    return written


def _llmrec_profile(profile: Mapping[str, Any]) -> dict[str, Any]:
    """A profile under LLMRec's key names, lists ', '-joined as its LLM wrote them."""
    return {
        theirs: ", ".join(profile[ours]) if isinstance(profile.get(ours), list) else profile.get(ours)
        for ours, theirs in PROFILE_NAMES.items()
    }


def _dump(path: Path, data: Any) -> str:
    """Pickle `data` (plain containers and numpy arrays only) atomically; returns the file name."""
    atomic_write(path, lambda f: pickle.dump(data, f, protocol=4), binary=True)
    return path.name
