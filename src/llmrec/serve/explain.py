"""Why an item is recommended: evidence from the graph, augmented aspects that match, one LLM sentence.

- Graph: the paths user -> history item -> neighbour users -> item. For each of the user's items, how
  many other users interacted with it and with the recommended item (a few named), and, for an
  embedding model, the cosine of the two item vectors.
- Aspects: the item's attributes (dataset genres, and what the augmentation wrote in attributes.tsv),
  the ones the user's history shares, and the user's augmented profile (profiles.jsonl: liked and
  disliked genres, liked directors) where it matches. Every aspect carries its teacher: a local
  (no-LLM) teacher is named as such.
- Sentence: with an LLM configured, one sentence from it through llmrec's cached LLM layer (a repeated
  question is answered from the cache and costs nothing).
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from llmrec.augment import artefacts
from llmrec.experiment import TrainedRun
from llmrec.llm import CachedLLM, ChatRequest, LLMError, Sampling
from llmrec.serve.catalogue import Catalogue
from llmrec.serve.recommender import Recommender

PATHS, NEIGHBOURS, SHARED = 5, 3, 5  # graph paths shown, neighbour users named per path, shared aspects
TEMPLATE = "serve.explain/v1"
SKIP_COLUMNS = {"item_id", "teacher", "title"}


@dataclass(frozen=True)
class Augmentations:
    """What an augmentation wrote for the run's users and items, and which teacher wrote it."""

    folder: Path | None = None
    teacher: dict[str, Any] = field(default_factory=dict)
    attributes: dict[int, dict[str, str]] = field(default_factory=dict)  # by internal item index
    profiles: dict[str, dict[str, Any]] = field(default_factory=dict)  # by raw user id

    def label(self) -> dict[str, Any]:
        """Where the aspects come from; a local teacher is labelled as no LLM."""
        if self.folder is None:
            return {"folder": None, "teacher": None, "note": "the run has no augmentation: no LLM aspects"}
        kind = self.teacher.get("kind", "unknown")
        note = (
            "local teacher, no LLM: " + str(self.teacher.get("note", "aspects from metadata and statistics"))
            if kind == "local"
            else f"LLM teacher {self.teacher.get('backend', '?')} / {self.teacher.get('model', '?')}"
        )
        return {"folder": str(self.folder), "teacher": kind, "note": note}


def _augment_folder(run: TrainedRun) -> Path | None:
    """The finished augmentation the run trained on, or the one beside it in an `llmrec run` folder."""
    named = run.inputs.sources.get("augment_dir") if run.inputs is not None else None
    for folder in (Path(named) if named else None, run.out.parent / "augment"):
        if folder is not None and (folder / artefacts.MANIFEST).is_file():
            return folder
    return None


def load_augmentations(run: TrainedRun, catalogue: Catalogue) -> Augmentations:
    """Read the run's augmented attributes and profiles, if it has an augmentation."""
    folder = _augment_folder(run)
    if folder is None:
        return Augmentations()
    teacher = json.loads((folder / artefacts.MANIFEST).read_text(encoding="utf-8")).get("teacher", {})
    attributes: dict[int, dict[str, str]] = {}
    if (folder / artefacts.ATTRIBUTES_TSV).is_file():
        table = artefacts.read_attributes(folder)
        names = [c for c in table.columns if c not in SKIP_COLUMNS and not c.endswith("_source")]
        for row in table.itertuples(index=False):
            i = catalogue.item_index.get(str(row.item_id))
            values = {n: str(getattr(row, n)) for n in names if str(getattr(row, n))}
            if i is not None and values:
                attributes[i] = values
    profiles = {}
    if (folder / artefacts.PROFILES_JSONL).is_file():
        profiles = {str(p["user_id"]): p for p in artefacts.read_profiles(folder)}
    return Augmentations(folder, teacher, attributes, profiles)


def _values(text: str) -> list[str]:
    """An attribute's values: '|'- or ', '-separated."""
    parts = text.replace("|", ", ").split(", ")
    return [p.strip() for p in parts if p.strip()]


def item_aspects(catalogue: Catalogue, augs: Augmentations, item: int) -> dict[str, list[str]]:
    """An item's aspects: dataset genres, then every augmented attribute, each a list of values."""
    aspects: dict[str, list[str]] = {}
    if catalogue.genres[item]:
        aspects["genres"] = list(catalogue.genres[item])
    for name, text in augs.attributes.get(item, {}).items():
        if name != "genres":
            aspects[name] = _values(text)
    return aspects


def graph_evidence(rec: Recommender, history: np.ndarray, item: int, user: int | None) -> dict[str, Any]:
    """Paths from the user's items to `item` through users who interacted with both."""
    counts, users = rec.co_users(item, history, user)
    cosine = rec.item_similarity(history, item)
    order = sorted(range(len(history)), key=lambda k: (-counts[k], -(cosine[k] if cosine else 0.0)))
    ids = rec.catalogue.user_ids
    paths = []
    for k in order[:PATHS]:
        if counts[k] == 0 and not cosine:
            break
        path = {
            "via_item": rec.catalogue.describe(int(history[k])),
            "co_users": int(counts[k]),
            "neighbours": [str(ids[u]) for u in rec.shared_users(int(history[k]), users, NEIGHBOURS)],
        }
        if cosine is not None:
            path["similarity"] = cosine[k]
        paths.append(path)
    return {
        "item_users": int(len(users)),
        "history_items": int(len(history)),
        "history_items_linked": int((counts > 0).sum()),
        "paths": paths,
    }


def aspect_matches(
    rec: Recommender,
    augs: Augmentations,
    history: np.ndarray,
    item: int,
    profile: dict[str, Any] | None,
    profile_text: str,
) -> dict[str, Any]:
    """The item's aspects, those its history shares, and those the user's profile names."""
    aspects = item_aspects(rec.catalogue, augs, item)
    shared = []
    for name, values in aspects.items():
        seen: Counter[str] = Counter()
        for h in history:
            seen.update(v for v in item_aspects(rec.catalogue, augs, int(h)).get(name, []) if v in values)
        shared += [{"aspect": name, "value": v, "history_items": c} for v, c in seen.items()]
    shared.sort(key=lambda s: -int(str(s["history_items"])))
    matches = []
    if profile:
        wanted = {"liked_genres": ("genres", True), "disliked_genres": ("genres", False),
                  "liked_directors": ("director", True)}  # fmt: skip
        for key, (aspect, liked) in wanted.items():
            have = {v.lower() for v in aspects.get(aspect, [])}
            for value in profile.get(key) or []:
                if str(value).lower() in have:
                    matches.append({"profile": key, "aspect": aspect, "value": value, "for": liked})
    text = profile_text.lower()
    if text:
        for name, values in aspects.items():
            matches += [{"profile": "text", "aspect": name, "value": v, "for": True} for v in values
                        if len(v) > 2 and v.lower() in text]  # fmt: skip
    return {
        "item": aspects,
        "shared_with_history": shared[:SHARED],
        "profile_matches": matches,
        "profile": {k: v for k, v in (profile or {}).items() if k != "user_id"} or None,
        "source": augs.label(),
    }


def explain_prompt(title: str, liked: list[str], aspects: dict[str, Any]) -> str:
    """The one-sentence explanation prompt (versioned by TEMPLATE)."""
    shared = "; ".join(f"{s['aspect']} {s['value']}" for s in aspects["shared_with_history"]) or "none"
    return (
        f"A recommender suggests {title!r} to a viewer who liked: {', '.join(liked) or 'nothing yet'}.\n"
        f"Aspects the suggestion shares with that history: {shared}.\n"
        "In one sentence of at most 30 words, tell the viewer why they may like it. "
        "Answer with the sentence only."
    )


class Sentences:
    """One-sentence explanations from an LLM behind llmrec's cache; one request at a time."""

    def __init__(self, llm: CachedLLM | None) -> None:
        self.llm = llm
        self._lock = threading.Lock()

    def write(self, prompt: str) -> dict[str, Any]:
        """The LLM's sentence, whether it came from the cache, and which model wrote it."""
        if self.llm is None:
            return {"text": None, "note": "no LLM configured (llmrec serve --llm): no sentence"}
        request = ChatRequest.of(prompt, TEMPLATE, Sampling(temperature=0.0, max_tokens=80))
        with self._lock:
            cached = self.llm.chat_key(request) in self.llm.cache
            try:
                answer = self.llm.complete(request)
            except LLMError as err:
                return {"text": None, "note": f"the LLM failed: {str(err).splitlines()[0][:200]}"}
        text = " ".join(answer.text.split())
        return {"text": text, "model": f"{self.llm.kind} / {self.llm.model}", "cached": cached}

    def close(self) -> None:
        """Close the LLM's cache."""
        if self.llm is not None:
            self.llm.close()


__all__ = [
    "Augmentations",
    "Sentences",
    "aspect_matches",
    "explain_prompt",
    "graph_evidence",
    "load_augmentations",
]
