"""ER2ALM's hard prompts (Table 1 of the paper): task description, instructions, detail requirements,
output format and emphasis, filled with an item's basic attributes and retrieved passage (Eq. 1,
P_I), a user's training history enriched with the generated aspects (Eq. 2, P_U), or a user's
aspect profile (Prompt_W). Pure functions; each template carries a version that is part of every
cache key, so changing the wording asks afresh.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from llmrec.augment.prompts import cut_history, cut_words

ASPECTS_TEMPLATE = "er2alm-aspects/v1"
PROFILE_TEMPLATE = "er2alm-profile/v1"
WEIGHTS_TEMPLATE = "er2alm-weights/v1"

# The aspects asked for by default; `[er2alm] aspects` chooses others. Each has a one-line meaning
# shown in the output-format section, so the model knows what to write.
ASPECT_MEANING = {
    "genre": "the genres, as a list of strings",
    "director": "the director or directors, as a list of names",
    "cast": "up to five leading actors, as a list of names",
    "country": "the country or countries of production",
    "language": "the original spoken language or languages",
    "era": 'the period the film was made in, as a decade such as "1990s"',
    "plot_keywords": "three to eight keywords of the plot and themes, as a list of strings",
    "theme": "the central theme in a few words",
    "mood": "the mood or tone in a few words",
}
DEFAULT_ASPECTS = ("genre", "director", "cast", "country", "language", "era", "plot_keywords")


def _sections(description: str, instructions: str, details: str, output: str, emphasis: str) -> str:
    """The five sections of Table 1, in its order and under its names."""
    return (
        f"## Task description\n{description}\n\n"
        f"## Task instructions\n{instructions}\n\n"
        f"## Specific detail requirements\n{details}\n\n"
        f"## Output format specifications\n{output}\n\n"
        f"## Emphasis on details\n{emphasis}"
    )


def cut_passage(text: str, n: int) -> str:
    """The first `n` words of a passage, its lines kept, with '...' where it was cut."""
    lines: list[str] = []
    left = n
    for line in text.splitlines():
        if left <= 0:
            lines[-1] += "..."
            break
        words = line.split()
        lines.append(cut_words(line, left) if len(words) > left else " ".join(words))
        left -= len(words)
    return "\n".join(lines)


def _keys(aspects: Sequence[str]) -> str:
    """The aspect keys with their meanings, one per line."""
    return "\n".join(f'- "{a}": {ASPECT_MEANING.get(a, "a short text")}' for a in aspects)


def aspects_prompt(
    item: str, passage: str | None, aspects: Sequence[str], noun: str, passage_words: int
) -> str:
    """P_I of Eq. 1: one item's basic attributes and its retrieved passage (A[R(i)]) -> JSON aspects."""
    found = (
        f"Retrieved reference document (checked to describe this {noun}):\n"
        f"<<<\n{cut_passage(passage, passage_words)}\n>>>"
        if passage
        else f"No reference document was found for this {noun}: rely on what you know."
    )
    listed = ", ".join(f'"{a}"' for a in aspects)
    return _sections(
        f"Complete the auxiliary information of a {noun} in a recommender system's catalogue.",
        f"You get the {noun}'s basic attributes (title, year, genres) and a retrieved reference document. "
        "Read the document, keep what is essential, ignore what is redundant or about something else, "
        "and summarise what is fragmented.",
        f"Fill every one of these aspects:\n{_keys(aspects)}",
        f"One JSON object with exactly the keys {listed}. Each value is a string, a list of strings, or "
        '"unknown". Output only the JSON object.',
        f"Prefer the reference document over memory where they disagree. Never invent names: write "
        f'"unknown" rather than guess. Write in English.\n\n{noun.capitalize()}: {item}\n{found}',
    )


def aspects_expected(aspects: Sequence[str]) -> str:
    """The format of an aspects answer, restated in the repair re-ask."""
    listed = ", ".join(f'"{a}"' for a in aspects)
    return f'one JSON object with exactly the keys {listed}, each a string, a list of strings or "unknown"'


def profile_prompt(history: Sequence[str], aspects: Sequence[str], noun: str, budget: int) -> str:
    """P_U of Eq. 2 (Temp of Eq. 3): a user's training history, each item with its generated aspects,
    -> the user's preference on every aspect."""
    lines = cut_history(history, budget)
    listed = ", ".join(f'"{a}"' for a in aspects)
    block = "\n".join(f"- {line}" for line in lines)
    return _sections(
        f"Analyse a user of a {noun} recommender and write their preference profile, one entry per aspect.",
        f"You get the {noun}s the user liked ({len(lines)} shown), each with its aspects. Find what the "
        "choices have in common on each aspect: the key decision points behind them.",
        f"Describe the user's preference on each aspect:\n{_keys(aspects)}",
        f"One JSON object with exactly the keys {listed}; each value is a short phrase or a list of "
        'strings saying what the user prefers, or "unknown". Output only the JSON object.',
        f"Base every entry on the history below only. Write in English.\n\nLiked {noun}s:\n{block}",
    )


def profile_expected(aspects: Sequence[str]) -> str:
    """The format of a profile answer, restated in the repair re-ask."""
    listed = ", ".join(f'"{a}"' for a in aspects)
    return f'one JSON object with exactly the keys {listed}, each a phrase, a list of strings or "unknown"'


def weights_prompt(profile: Mapping[str, str | None], n_history: int, noun: str) -> str:
    """Prompt_W: a user's aspect profile -> how much each aspect weighs in their choices, in (0, 1)."""
    aspects = list(profile)
    shown = "\n".join(f"- {a}: {v or 'unknown'}" for a, v in profile.items())
    listed = ", ".join(f'"{a}"' for a in aspects)
    return _sections(
        f"Weigh how much each aspect decides which {noun}s a user chooses.",
        f"You get the user's preference profile, written from the {n_history} {noun}s they liked.",
        "Give each aspect a weight: near 1 when the user's choices clearly follow it, near 0 when "
        "they ignore it. The weights need not sum to 1.",
        f"One JSON object with exactly the keys {listed}; each value a number strictly between 0 and 1. "
        "Output only the JSON object.",
        f"Numbers only, no words; every key listed, no other key.\n\nProfile:\n{shown}",
    )


def weights_expected(aspects: Sequence[str]) -> str:
    """The format of a weights answer, restated in the repair re-ask."""
    listed = ", ".join(f'"{a}"' for a in aspects)
    return f"one JSON object with exactly the keys {listed}, each a number strictly between 0 and 1"


__all__ = [
    "ASPECTS_TEMPLATE",
    "ASPECT_MEANING",
    "DEFAULT_ASPECTS",
    "PROFILE_TEMPLATE",
    "WEIGHTS_TEMPLATE",
    "aspects_expected",
    "aspects_prompt",
    "profile_expected",
    "profile_prompt",
    "weights_expected",
    "weights_prompt",
]
