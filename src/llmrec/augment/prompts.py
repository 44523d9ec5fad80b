"""Versioned prompt templates and the pure functions that fill them.

A template's version is part of every cache key (`ChatRequest.template`): change the wording below and
bump its version, and every prompt is asked afresh. Token counts are estimates (see `estimate_tokens`):
good enough to keep a prompt inside a context window, no tokenizer needed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from llmrec.llm import ChatRequest

EDGES_TEMPLATE = "edges/v1"
ATTRIBUTES_TEMPLATE = "attributes/v1"
PROFILES_TEMPLATE = "profiles/v1"
SYSTEM = "You are the assistant of a recommender system. Answer in exactly the format asked for."

HEAD_FIELDS = ("title", "year", "genres")  # written first, without a label: "Heat (1995), Action|Crime"
# Identifiers and links tell an LLM nothing about taste; they would only spend the budget.
SKIP_FIELDS = frozenset({"item_id", "user_id", "release_date", "video_release_date", "imdb_url", "url"})
NOUNS = {"lastfm": "artist", "gowalla": "place", "yelp2018": "business", "llmrec-netflix": "movie"}

PROFILE_KEYS_TEXT = (
    '"age" (integer or null), "gender" ("male", "female" or null), "liked_genres" (list of strings), '
    '"disliked_genres" (list of strings), "liked_directors" (list of strings), "country" (string or null), '
    '"language" (string or null), "summary" (two or three sentences on the user\'s taste)'
)
PROFILES_EXPECTED = f"one JSON object with exactly these keys: {PROFILE_KEYS_TEXT}; nothing else"


def item_noun(dataset: str) -> str:
    """What the dataset's items are called in prompts: 'movie' for MovieLens, 'artist' for Last.fm..."""
    return "movie" if dataset.startswith("ml-") else NOUNS.get(dataset, "item")


def estimate_tokens(text: str) -> int:
    """Tokens of `text`, estimated: the larger of characters / 4 and words * 4 / 3.

    Both are the usual rules of thumb for English BPE vocabularies; taking the larger errs on the
    side of a shorter prompt for texts with long words, numbers or non-Latin scripts.
    """
    return max(math.ceil(len(text) / 4), math.ceil(len(text.split()) * 4 / 3))


def cut_words(text: str, n: int) -> str:
    """The first `n` words of `text`, with '...' when something was cut."""
    words = text.split()
    return " ".join(words) if len(words) <= n else " ".join(words[:n]) + "..."


def item_line(meta: Mapping[str, str], item_id: str, max_field_words: int) -> str:
    """One item as text: 'Title (year), genres; field: value; ...', every field cut to a word budget.

    An item without a title is named by its id, so it can still be listed (and is counted by the stage).
    """
    title = " ".join(meta.get("title", "").split()) or f"untitled item {item_id}"
    year = meta.get("year", "").strip()
    head = f"{title} ({year})" if year and f"({year})" not in title else title
    genres = meta.get("genres", "").strip()
    if genres:
        head += f", {genres}"
    extras = [
        f"{key}: {cut_words(value, max_field_words)}"
        for key, value in meta.items()
        if key not in HEAD_FIELDS and key not in SKIP_FIELDS and value and value.strip()
    ]
    return "; ".join([head, *extras])


def cut_history(lines: Sequence[str], budget: int) -> list[str]:
    """The leading lines of a history that fit in `budget` estimated tokens (at least one, cut if need be)."""
    kept: list[str] = []
    used = 0
    for line in lines:
        cost = estimate_tokens(f"- {line}\n")
        if used + cost > budget:
            break
        kept.append(line)
        used += cost
    if not kept and lines:  # one huge item still says more than none: keep its first words
        kept.append(cut_words(lines[0], max(1, budget * 3 // 4)))
    return kept


def history_block(lines: Sequence[str], budget: int, noun: str) -> str:
    """The history section of a prompt: a header saying how many items are shown, one item per line."""
    kept = cut_history(lines, budget)
    shown = f"all {len(lines)}" if len(kept) == len(lines) else f"{len(kept)} of {len(lines)}"
    return f"User history ({shown} {noun}s the user liked):\n" + "".join(f"- {line}\n" for line in kept)


def edges_prompt(history: Sequence[str], candidates: Sequence[str], noun: str, budget: int) -> str:
    """LLMRec's implicit-feedback prompt: history, numbered candidates, pick one liked and one disliked."""
    numbered = "".join(f"[{i}] {line}\n" for i, line in enumerate(candidates, start=1))
    return (
        f"Recommend {noun}s to a user from their history. Each {noun} is described by its title, year, "
        "genres and what else is known about it.\n\n"
        f"{history_block(history, budget, noun)}\n"
        f"Candidates:\n{numbered}\n"
        f"Which candidate would the user like most, and which would they dislike most? Answer with the "
        f"two candidate numbers (1 to {len(candidates)}), the liked one first, separated by '::', "
        "for example 3::7. Output only the two numbers."
    )


def edges_expected(n: int) -> str:
    """The format of an edges answer, restated in a repair re-ask."""
    return (
        f"two different candidate numbers from 1 to {n}, the liked one first, separated by '::' "
        "(for example 3::7), and nothing else"
    )


def chat(prompt: str, template: str) -> ChatRequest:
    """A request of the system instruction and one user prompt, under a versioned template."""
    return ChatRequest.of(
        [{"role": "system", "content": SYSTEM}, {"role": "user", "content": prompt}], template
    )


def attributes_prompt(item: str, keys: Sequence[str], noun: str) -> str:
    """Ask for the missing attributes of one item as a JSON object with exactly `keys`."""
    listed = ", ".join(f'"{k}"' for k in keys)
    return (
        f"Give facts about this {noun}.\n\n{noun.capitalize()}: {item}\n\n"
        f"Answer with one JSON object with exactly these keys: {listed}. Each value is a string, or a "
        'list of strings when there are several; write "unknown" when you do not know. '
        "Output only the JSON object."
    )


def attributes_expected(keys: Sequence[str]) -> str:
    """The format of an attributes answer, restated in a repair re-ask."""
    listed = ", ".join(f'"{k}"' for k in keys)
    return f'one JSON object with exactly the keys {listed}, each a string, a list of strings or "unknown"'


def profiles_prompt(history: Sequence[str], known: Mapping[str, str], noun: str, budget: int) -> str:
    """Ask for a user's profile as JSON from their history and whatever demographics the dataset has."""
    facts = "; ".join(f"{k}: {v}" for k, v in known.items() if v) or "nothing beyond the history"
    return (
        f"Describe a user of a {noun} recommender from their history.\n\n"
        f"Known about the user: {facts}\n"
        f"{history_block(history, budget, noun)}\n"
        f"Answer with one JSON object with exactly these keys: {PROFILE_KEYS_TEXT}. Make an educated "
        "guess where the history allows one and use null where it does not. Output only the JSON object."
    )
