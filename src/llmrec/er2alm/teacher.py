"""ER2ALM's no-LLM teacher, labelled as such in every output (`LOCAL_TEACHER`).

Item aspects come from the item's basic attributes (genres, year -> era) and from the fields of the
document the retrieval accepted for it (director, cast, plot -> keywords, genre, country, language
when the corpus has them); an aspect neither holds stays missing, never guessed. A user's profile on
an aspect is the values that recur most in their training history; their weight on it is how
concentrated the history is on its top value (the share of the aspect-bearing items that carry it,
times the share of items that bear the aspect at all), kept inside (0, 1).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence

from llmrec.augment.teacher import genres_of
from llmrec.er2alm.parsers import normalise_aspect

LOCAL_TEACHER = {
    "kind": "local",
    "note": (
        "no LLM was used (ER2ALM no-LLM teacher): item aspects are the fields of the retrieved document "
        "and the basic attributes, user profiles the most frequent aspect values of the training "
        "history, weights the concentration of the history on each aspect"
    ),
}
# which corpus fields feed which aspect (IMDb scrape and MeLU names; the first non-empty wins)
FIELD_ASPECTS: dict[str, tuple[str, ...]] = {
    "genre": ("genre", "genres"),
    "director": ("director",),
    "cast": ("cast", "actors", "stars"),
    "country": ("country",),
    "language": ("language",),
    "plot_keywords": ("description", "plot", "overview"),
    "theme": ("description", "plot", "overview"),
}
PROFILE_VALUES = 3  # values named per aspect in a local profile
KEYWORDS = 6  # plot keywords taken from a document
WEIGHT_RANGE = (0.05, 0.95)
_STOP_WORDS = (
    "a an the and or but of to in on at by for with from as is are was were be been being his her their "
    "its this that these those who whom which what when where while after before into onto over under "
    "about against between through during without within he she they them him it we you i us our your has "
    "have had do does did not no nor so than then there here also only own same too very can will just "
    "one two three find finds found gets get takes take make makes made becomes become help helps tries "
    "try story film movie life lives world young man woman men women new old s t up out off down all any "
    "both each few more most other some such "
)
_STOP = frozenset(_STOP_WORDS.split())
_WORD = re.compile(r"[A-Za-z][A-Za-z'-]+")


def plot_keywords(text: str, n: int = KEYWORDS) -> str | None:
    """The first `n` distinct content words of a plot (stop words and short words dropped), lower case."""
    words = [w.lower().strip("'-") for w in _WORD.findall(text)]
    kept = [w for w in dict.fromkeys(words) if len(w) >= 4 and w not in _STOP]
    return ", ".join(kept[:n]) or None


def local_aspects(
    meta: Mapping[str, str], document: Mapping[str, str] | None, aspects: Sequence[str]
) -> dict[str, str | None]:
    """One item's aspects from its basic attributes and its accepted document's fields (None: neither)."""
    out: dict[str, str | None] = {}
    doc = document or {}
    for aspect in aspects:
        value: str | None = None
        if aspect == "era":
            value = normalise_aspect("era", meta.get("year", "")) if meta.get("year") else None
        else:
            raw = next((doc[f] for f in FIELD_ASPECTS.get(aspect, (aspect,)) if doc.get(f)), "")
            if aspect in ("plot_keywords", "theme") and raw:
                raw = plot_keywords(raw, KEYWORDS if aspect == "plot_keywords" else 3) or ""
            if not raw and aspect == "genre":
                raw = ", ".join(genres_of(meta))
            value = normalise_aspect(aspect, raw) if raw else None
        out[aspect] = value
    return out


def values_of(value: str | None) -> list[str]:
    """The several values of one aspect text ('a, b' -> ['a', 'b'])."""
    return [v for v in (value or "").split(", ") if v]


def local_profile(
    history: Sequence[Mapping[str, str | None]], aspects: Sequence[str]
) -> dict[str, str | None]:
    """Per aspect, the values most frequent over the history's items (ties: first seen), or None."""
    profile: dict[str, str | None] = {}
    for aspect in aspects:
        counts = Counter(v for item in history for v in dict.fromkeys(values_of(item.get(aspect))))
        top = [v for v, _ in counts.most_common(PROFILE_VALUES)]
        profile[aspect] = ", ".join(top) if top else None
    return profile


def concentration_weights(
    history: Sequence[Mapping[str, str | None]], aspects: Sequence[str]
) -> dict[str, float]:
    """Per aspect: (share of aspect-bearing items that carry the top value) x (share bearing the aspect),
    clipped into WEIGHT_RANGE. A user who watched only Spielberg films weighs director near 1."""
    low, high = WEIGHT_RANGE
    weights = {}
    for aspect in aspects:
        bearing = [dict.fromkeys(values_of(item.get(aspect))) for item in history]
        bearing = [b for b in bearing if b]
        if not bearing or not history:
            weights[aspect] = low
            continue
        counts = Counter(v for b in bearing for v in b)
        top_share = counts.most_common(1)[0][1] / len(bearing)
        weights[aspect] = round(min(max(top_share * len(bearing) / len(history), low), high), 4)
    return weights


__all__ = [
    "FIELD_ASPECTS",
    "LOCAL_TEACHER",
    "concentration_weights",
    "local_aspects",
    "local_profile",
    "plot_keywords",
    "values_of",
]
