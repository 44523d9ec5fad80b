"""Versioned prompt templates of the reranker (listwise, Llama4Rec's Figure 2) and of pair augmentation.

Each builder is a pure function of texts. A template's version is part of every cache key: change the
wording below and bump it, and every prompt is asked afresh. Candidates carry short letter ids (A, B,
..., Z, AA, AB, ...) given in display order; display order is a seeded shuffle of the conventional
ranking by default, so that the listing itself does not tell the model the conventional order (the
prompt states that order separately, as the paper's prompt augmentation does).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

LISTWISE_TEMPLATE = "rerank.listwise/v1"
PAIR_TEMPLATE = "rerank.pair/v1"
SEPARATOR = " > "


def short_ids(n: int) -> list[str]:
    """`n` distinct ids A, B, ..., Z, AA, AB, ... (bijective base 26): short, one or two tokens each."""
    ids = []
    for k in range(1, n + 1):
        letters = ""
        while k:
            k, rest = divmod(k - 1, 26)
            letters = chr(ord("A") + rest) + letters
        ids.append(letters)
    return ids


def display_order(n: int, seed: int, user: int, shuffle: bool) -> np.ndarray:
    """Conventional positions in the order candidates are listed: a fixed shuffle per user, or 0..n-1."""
    if not shuffle:
        return np.arange(n)
    return np.random.default_rng([seed, user, 1]).permutation(n)


def pick(items: np.ndarray, k: int, seed: int, key: Sequence[int]) -> np.ndarray:
    """At most `k` of `items` in a fixed random order (seeded by `key`): an unbiased sample when cut."""
    return np.random.default_rng([seed, *key]).permutation(items)[:k]


def _bullets(lines: Sequence[str]) -> str:
    return "".join(f"- {line}\n" for line in lines)


def _shown(shown: int, total: int) -> str:
    return f"all {total}" if shown == total else f"{shown} of the {total}"


def listwise_prompt(
    history: Sequence[str],
    n_history: int,
    similar: Sequence[str],
    n_similar: int,
    candidates: Sequence[str],
    ids: Sequence[str],
    conventional: Sequence[str],
    noun: str,
) -> str:
    """The listwise ranking prompt in the order of the paper's Figure 2: instruction, history, candidates
    with ids, the most similar user's history, the conventional model's ranking of those ids, and the
    answer format.

    `history` / `similar` are the item lines shown of `n_history` / `n_similar` in all; `similar` empty
    leaves its section out (no similar user). `candidates[j]` is listed as `[ids[j]]`; `conventional`
    is the ids in the conventional model's order (empty: that line is left out).
    """
    listed = "".join(f"[{i}] {line}\n" for i, line in zip(ids, candidates, strict=True))
    parts = [
        f"Rank the candidate {noun}s below for a user, from the one they would most like to choose next "
        "to the one they would least like.\n",
        f"The user's history ({_shown(len(history), n_history)} {noun}s they liked):\n{_bullets(history)}",
        f"Candidates:\n{listed}",
    ]
    if similar:
        parts.append(
            f"The history of the most similar user ({_shown(len(similar), n_similar)} {noun}s that user "
            f"liked and this user has not seen):\n{_bullets(similar)}"
        )
    if conventional:  # empty: the ablation without the conventional model's ranking in the prompt
        parts.append(f"A conventional recommender ranks the candidates: {SEPARATOR.join(conventional)}\n")
    parts += [
        f"Answer with the ids of all {len(ids)} candidates, each exactly once, from most to least "
        f"likely, separated by '{SEPARATOR.strip()}' (for example B > C > A for three candidates). "
        "Output only the ids.",
    ]
    return "\n".join(parts)


def listwise_expected(ids: Sequence[str]) -> str:
    """The format of a ranking answer, restated in a repair re-ask."""
    return (
        f"all {len(ids)} candidate ids ({', '.join(ids)}), each exactly once, from most to least likely, "
        f"separated by '{SEPARATOR.strip()}', and nothing else"
    )


def pair_prompt(history: Sequence[str], n_history: int, first: str, second: str, noun: str) -> str:
    """The pair prompt of data augmentation: which of two items the user would prefer, A or B."""
    return (
        f"Which of two {noun}s would this user prefer?\n\n"
        f"The user's history ({_shown(len(history), n_history)} {noun}s they liked):\n{_bullets(history)}\n"
        f"[A] {first}\n[B] {second}\n\n"
        "Answer with the letter of the preferred one, A or B. Output only the letter."
    )


PAIR_EXPECTED = "one letter, A or B, naming the preferred item, and nothing else"
