"""Embedding generation (Sec. 3.3, Eqs. 4-5) and the features the graph model trains on.

Each item aspect is embedded on its own, as "aspect: value" (the aspect's name keeps "Drama" the genre
apart from "Drama" a keyword); a user's vector is the weighted sum of their profile's aspect vectors
(Eq. 5). After the gate, an item's aspect feature pools its kept aspect vectors; an item left with
none falls back to its basic-attribute vector (counted), so no row is silently empty.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

Encode = Callable[[list[str]], np.ndarray]  # texts -> [n, d] vectors, zeros for empty texts


def aspect_texts(rows: Sequence[Mapping[str, str | None] | None], aspects: Sequence[str]) -> list[str]:
    """'aspect: value' for every row and aspect, row-major; '' where the value is missing."""
    return [f"{a}: {row[a]}" if row and row.get(a) else "" for row in rows for a in aspects]


def aspect_vectors(
    rows: Sequence[Mapping[str, str | None] | None], aspects: Sequence[str], encode: Encode
) -> np.ndarray:
    """[n_rows, n_aspects, d] vectors of every aspect (Eq. 4), zeros where missing."""
    flat = encode(aspect_texts(rows, aspects))
    return flat.reshape(len(rows), len(aspects), -1)


def weighted_profiles(vectors: np.ndarray, weights: np.ndarray, present: np.ndarray) -> np.ndarray:
    """Eq. 5: e_u = sum_k w_uk q_uk over the aspects the profile has; [n_users, d]."""
    w = np.where(present, weights, 0.0)
    return np.einsum("uk,ukd->ud", w, vectors).astype(np.float32)


def pool_items(
    vectors: np.ndarray, kept: np.ndarray, basic: np.ndarray, how: str = "mean"
) -> tuple[np.ndarray, dict[str, Any]]:
    """The item aspect feature from the kept vectors ('mean' of them, or 'concat' with zeros where
    dropped); items with none kept get their basic vector (mean) or it in the first slot (concat)."""
    n_items, n_kinds, d = vectors.shape
    none = ~kept.any(axis=1)
    masked = vectors * kept[:, :, None]
    if how == "concat":
        out = masked.reshape(n_items, n_kinds * d).copy()
        out[none, :d] = basic[none]
    else:
        counts = np.maximum(kept.sum(axis=1, keepdims=True), 1)
        out = masked.sum(axis=1) / counts
        out[none] = basic[none]
    return out.astype(np.float32), {"items_with_no_kept_aspect": int(none.sum()), "pooling": how}


__all__ = ["Encode", "aspect_texts", "aspect_vectors", "pool_items", "weighted_profiles"]
