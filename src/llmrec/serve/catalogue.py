"""What the server knows of items and users besides vectors: raw ids, titles, genres, years, filters.

Everything is read once from the run folder (`items.tsv`, the saved split's id maps) and kept as
arrays, so a filter is a boolean mask applied in one vector operation.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from llmrec.serve.errors import RequestError


@dataclass(frozen=True)
class Filters:
    """Which items a list may hold: any of `genres` (empty: all), released in [year_min, year_max]."""

    genres: tuple[str, ...] = ()
    year_min: int | None = None
    year_max: int | None = None
    origin: str = "query"  # where the request gave them: query or body, for errors

    @property
    def empty(self) -> bool:
        """True when it keeps every item."""
        return not self.genres and self.year_min is None and self.year_max is None


class Catalogue:
    """Raw ids to internal indices and back, item titles, genres and years, and their masks."""

    def __init__(self, user_ids: np.ndarray, item_ids: np.ndarray, meta: pd.DataFrame | None) -> None:
        self.user_ids = user_ids.astype(str)
        self.item_ids = item_ids.astype(str)
        self.user_index = {u: i for i, u in enumerate(self.user_ids.tolist())}
        self.item_index = {v: i for i, v in enumerate(self.item_ids.tolist())}
        n = len(self.item_ids)
        column = (lambda name: meta[name].tolist()) if meta is not None else (lambda name: [""] * n)
        has = (lambda name: name in meta) if meta is not None else (lambda name: False)
        self.titles: list[str] = column("title") if has("title") else [""] * n
        raw_genres = column("genres") if has("genres") else [""] * n
        self.genres: list[list[str]] = [[g for g in s.split("|") if g] for s in raw_genres]
        years = pd.to_numeric(pd.Series(column("year") if has("year") else [""] * n), errors="coerce")
        self.years = years.to_numpy(dtype=np.float64)  # NaN where unknown
        self.genre_masks: dict[str, np.ndarray] = {}
        for i, names in enumerate(self.genres):
            for g in names:
                self.genre_masks.setdefault(g, np.zeros(n, dtype=bool))[i] = True
        self._lower = {g.lower(): g for g in self.genre_masks}
        self._fragments: dict[int, str] = {}  # item -> its description as JSON members, built on first use

    @property
    def n_items(self) -> int:
        """Items in the catalogue."""
        return len(self.item_ids)

    def user(self, raw: str, where: str) -> int:
        """Internal index of a raw user id; 404 naming it when unknown."""
        found = self.user_index.get(raw)
        if found is None:
            example = ", ".join(self.user_ids[:3].tolist())
            raise RequestError(
                404, f"unknown user {raw!r} ({len(self.user_ids)} users; ids look like {example})", where
            )
        return found

    def item(self, raw: str, where: str) -> int:
        """Internal index of a raw item id; 404 naming it when unknown."""
        found = self.item_index.get(raw)
        if found is None:
            example = ", ".join(self.item_ids[:3].tolist())
            raise RequestError(
                404, f"unknown item {raw!r} ({self.n_items} items; ids look like {example})", where
            )
        return found

    def items(self, raws: list[str], where: str) -> np.ndarray:
        """Internal indices of a list of raw item ids; 422 naming every unknown one and its position."""
        if not raws:
            raise RequestError(422, "the history is empty: give at least one item id", where)
        missing = [f"{where}[{k}]={r!r}" for k, r in enumerate(raws) if r not in self.item_index]
        if missing:
            shown = ", ".join(missing[:10]) + (f" and {len(missing) - 10} more" if len(missing) > 10 else "")
            raise RequestError(422, f"{len(missing)} item(s) unknown to the model: {shown}", where)
        return np.unique(np.array([self.item_index[r] for r in raws], dtype=np.int64))

    def mask(self, filters: Filters) -> np.ndarray | None:
        """Items the filters keep (None: all); 422 on a genre the catalogue lacks or an empty range."""
        if filters.empty:
            return None
        keep = np.ones(self.n_items, dtype=bool)
        if filters.genres:
            unknown = [g for g in filters.genres if g.lower() not in self._lower]
            if unknown:
                known = ", ".join(sorted(self.genre_masks)) or "none: this catalogue has no genres"
                raise RequestError(
                    422, f"unknown genre(s) {unknown}; known: {known}", f"{filters.origin}.genres"
                )
            keep = np.zeros(self.n_items, dtype=bool)
            for g in filters.genres:
                keep |= self.genre_masks[self._lower[g.lower()]]
        lo, hi = filters.year_min, filters.year_max
        if lo is not None and hi is not None and lo > hi:
            raise RequestError(422, f"year_min {lo} is after year_max {hi}", f"{filters.origin}.year_min")
        if lo is not None:
            keep &= self.years >= lo  # NaN (unknown year) compares False: a year filter drops them
        if hi is not None:
            keep &= self.years <= hi
        return keep

    def describe(self, i: int) -> dict[str, Any]:
        """An item as the API shows it: id, title, genres, year."""
        year = self.years[i]
        return {
            "item_id": str(self.item_ids[i]),
            "title": self.titles[i],
            "genres": self.genres[i],
            "year": None if np.isnan(year) else int(year),
        }

    def fragment(self, i: int) -> str:
        """`describe(i)` as JSON object members without the braces, cached: lists are joined from them."""
        text = self._fragments.get(i)
        if text is None:
            text = self._fragments[i] = json.dumps(self.describe(i), ensure_ascii=False)[1:-1]
        return text

    def search(self, query: str, limit: int) -> list[dict[str, Any]]:
        """Items whose title (or id) contains `query`, case-insensitively, in catalogue order."""
        q = query.lower().strip()
        found = []
        for i, title in enumerate(self.titles):
            if q in title.lower() or q == self.item_ids[i].lower():
                found.append(self.describe(i))
                if len(found) >= limit:
                    break
        return found

    def summary(self) -> dict[str, Any]:
        """Counts, the genres and the year range, for the web page's controls."""
        known = self.years[~np.isnan(self.years)]
        return {
            "n_users": len(self.user_ids),
            "n_items": self.n_items,
            "genres": sorted(self.genre_masks),
            "years": [int(known.min()), int(known.max())] if len(known) else None,
            "has_titles": any(self.titles),
        }


__all__ = ["Catalogue", "Filters"]
