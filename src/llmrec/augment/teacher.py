"""The local teacher: LLMRec's three outputs without an LLM, for machines that have none.

It is a baseline, and every output it feeds says so (`LOCAL_TEACHER`): edges are the candidates nearest
to and farthest from the user's history in text-embedding space, attributes are the dataset's own
metadata, and profiles are statistics of the history plus whatever demographics the dataset has.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp

from llmrec.augment.candidates import NO_ITEM
from llmrec.augment.parsers import GENDERS, MISSING, normalise_value

LOCAL_TEACHER = {
    "kind": "local",
    "note": (
        "no LLM was used: edges are the candidates nearest to and farthest from the user's history in "
        "text-embedding space, attributes come from the dataset's metadata files, profiles from history "
        "statistics and the dataset's demographics"
    ),
}
LIKED_GENRES = 3
DISLIKED_GENRES = 2
LIKED_DIRECTORS = 3
MIN_GENRE_SHARE = 0.01  # genres rarer than this in the catalogue are never called "disliked"


def nearest_farthest(
    item_vecs: np.ndarray, train: sp.csr_matrix, candidates: np.ndarray, batch_size: int = 1024
) -> tuple[np.ndarray, np.ndarray]:
    """Per user, the candidate most and least cosine-similar to the mean of the history's item vectors.

    NO_ITEM for users without history or with fewer than two candidates. The two picks always differ.
    """
    n_users = candidates.shape[0]
    pos = np.full(n_users, NO_ITEM, dtype=np.int64)
    neg = np.full(n_users, NO_ITEM, dtype=np.int64)
    for start in range(0, n_users, batch_size):
        rows = slice(start, min(start + batch_size, n_users))
        history = np.asarray(train[rows] @ item_vecs)  # the sum has the direction of the mean
        norms = np.linalg.norm(history, axis=1, keepdims=True)
        history = history / np.where(norms > 0, norms, 1.0)
        cands = candidates[rows]
        real = cands != NO_ITEM
        sims = np.einsum("ud,und->un", history, item_vecs[np.where(real, cands, 0)])
        best = np.argmax(np.where(real, sims, -np.inf), axis=1)
        away = np.where(real, sims, np.inf)
        away[np.arange(len(best)), best] = np.inf  # so the disliked pick is never the liked one
        worst = np.argmin(away, axis=1)
        ok = (norms[:, 0] > 0) & (real.sum(axis=1) >= 2)
        taken = np.arange(len(best))
        pos[rows] = np.where(ok, cands[taken, best], NO_ITEM)
        neg[rows] = np.where(ok, cands[taken, worst], NO_ITEM)
    return pos, neg


def dataset_attributes(
    items: Sequence[Mapping[str, str]], names: Sequence[str]
) -> dict[str, list[str | None]]:
    """Each attribute as the dataset's metadata has it, normalised; None where the dataset lacks it."""
    return {name: [normalise_value(name, meta.get(name), name) for meta in items] for name in names}


def genres_of(meta: Mapping[str, str]) -> list[str]:
    """An item's genres ('|'-joined in MovieLens) or, failing that, its tags (', '-joined in Last.fm)."""
    if meta.get("genres"):
        return [g for g in meta["genres"].split("|") if g and g.lower() != "unknown"]
    return [t for t in meta.get("tags", "").split(", ") if t]


def catalogue_genres(items: Sequence[Mapping[str, str]]) -> Counter[str]:
    """How many items carry each genre."""
    return Counter(g for meta in items for g in genres_of(meta))


def local_profile(
    history: Sequence[Mapping[str, str]],
    demographics: Mapping[str, str],
    catalogue: Counter[str],
    noun: str,
) -> dict[str, Any]:
    """A profile from history statistics: top genres and directors, under-represented genres, the era.

    `history` holds the metadata of the user's items, augmented attributes included; demographics
    (age, gender, country, language) are taken as the dataset gives them.
    """
    counts = Counter(g for meta in history for g in genres_of(meta))
    liked = [g for g, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:LIKED_GENRES]]
    disliked = _under_represented(counts, catalogue, len(history), set(liked))
    directors = Counter(d for meta in history for d in meta.get("director", "").split(", ") if d)
    liked_directors = [d for d, c in sorted(directors.items(), key=lambda kv: (-kv[1], kv[0])) if c >= 2][
        :LIKED_DIRECTORS
    ]
    profile: dict[str, Any] = {
        **stated_age_gender(demographics),
        "liked_genres": liked,
        "disliked_genres": disliked,
        "liked_directors": liked_directors,
        "country": demographics.get("country") or _most_common(history, "country"),
        "language": demographics.get("language") or _most_common(history, "language"),
    }
    profile["summary"] = _summary(profile, history, demographics, noun)
    return profile


def _under_represented(
    counts: Counter[str], catalogue: Counter[str], n_history: int, exclude: set[str]
) -> list[str]:
    """Common catalogue genres the history shows least, relative to how common they are."""
    total = sum(catalogue.values())
    if not total or not n_history:
        return []
    lift = {
        g: (counts.get(g, 0) / n_history) / (c / total)
        for g, c in catalogue.items()
        if c / total >= MIN_GENRE_SHARE and g not in exclude
    }
    ranked = sorted(lift.items(), key=lambda kv: (kv[1], kv[0]))
    return [g for g, value in ranked[:DISLIKED_GENRES] if value < 1.0]


def stated_age_gender(demographics: Mapping[str, str]) -> dict[str, Any]:
    """Age (an integer) and gender ('male' / 'female' from M/F codes) as stated by the dataset, or None."""
    age = demographics.get("age", "").strip()
    gender = demographics.get("gender", "").strip().lower()
    return {
        "age": int(age) if age.isdigit() else None,
        "gender": None if gender in MISSING else GENDERS.get(gender, gender),
    }


def _most_common(history: Sequence[Mapping[str, str]], field: str) -> str | None:
    """The most frequent value of `field` over the history ("a, b" counts both), or None."""
    values = Counter(v for meta in history for v in meta.get(field, "").split(", ") if v)
    return min(values.items(), key=lambda kv: (-kv[1], kv[0]))[0] if values else None


def _summary(
    profile: Mapping[str, Any],
    history: Sequence[Mapping[str, str]],
    demographics: Mapping[str, str],
    noun: str,
) -> str:
    """A templated description of the profile, in the words an LLM summary would use."""
    who = [
        f"aged {profile['age']}" if profile["age"] else "",
        profile["gender"] or "",
        demographics.get("occupation", ""),
    ]
    parts = [f"A user ({', '.join(w for w in who if w)})." if any(who) else "A user."]
    parts.append(f"Liked {len(history)} {noun}s")
    if profile["liked_genres"]:
        parts[-1] += f", mostly {', '.join(profile['liked_genres'])}"
    years = sorted(int(m["year"]) for m in history if m.get("year", "").isdigit())
    if years:
        parts[-1] += f", typically from the {years[len(years) // 2] // 10 * 10}s"
    parts[-1] += "."
    if profile["disliked_genres"]:
        parts.append(f"Rarely chooses {', '.join(profile['disliked_genres'])}.")
    if profile["liked_directors"]:
        parts.append(f"Returns to {noun}s by {', '.join(profile['liked_directors'])}.")
    return " ".join(parts)
