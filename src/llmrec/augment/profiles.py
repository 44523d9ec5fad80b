"""User profiling: age, gender, liked and disliked genres, liked directors, country, language, summary.

Every user with a history gets one prompt holding the history and the demographics the dataset has.
Where the dataset states the age or gender, its value is kept over the LLM's guess.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from llmrec.augment.ask import ask
from llmrec.augment.audit import sample_positions
from llmrec.augment.config import AugmentConfig
from llmrec.augment.inputs import Inputs, ItemLines
from llmrec.augment.parsers import PROFILE_KEYS, parse_profile
from llmrec.augment.prompts import (
    PROFILES_EXPECTED,
    PROFILES_TEMPLATE,
    chat,
    estimate_tokens,
    profiles_prompt,
)
from llmrec.augment.teacher import catalogue_genres, local_profile, stated_age_gender
from llmrec.llm import Backend, StageStats


@dataclass
class ProfileResult:
    """One profile per internal user index (None: no profile), what happened, a sample of prompts."""

    profiles: list[dict[str, Any] | None]
    report: dict[str, Any] = field(default_factory=dict)
    samples: list[dict[str, Any]] = field(default_factory=list)


def profile_text(profile: Mapping[str, Any]) -> str:
    """A profile as one text for the encoder: its known fields, then the summary."""
    parts = []
    for key in PROFILE_KEYS[:-1]:
        value = profile.get(key)
        if value:
            text = ", ".join(value) if isinstance(value, list) else str(value)
            parts.append(f"{key.replace('_', ' ')}: {text}")
    if profile.get("summary"):
        parts.append(str(profile["summary"]))
    return "; ".join(parts)


def local_profiles(inputs: Inputs, items: list[dict[str, str]], aug: AugmentConfig) -> ProfileResult:
    """The local teacher's profiles from history statistics; `items` include augmented attributes."""
    catalogue = catalogue_genres(items)
    profiles: list[dict[str, Any] | None] = []
    for u in range(inputs.n_users):
        history = [items[i] for i in inputs.train.items_of(u)]
        profiles.append(local_profile(history, inputs.users[u], catalogue, inputs.noun) if history else None)
    made = sum(p is not None for p in profiles)
    report = {"users": inputs.n_users, "no_history": inputs.n_users - made, "prompts": 0, "usable": made}
    result = ProfileResult(profiles, report)
    made_for = [u for u, p in enumerate(profiles) if p is not None]
    for u in (made_for[k] for k in sample_positions(len(made_for), aug.audit_samples, aug.seed)):
        result.samples.append(
            {
                "user_id": str(inputs.train.user_ids[u]),
                "note": "built from history statistics",
                "parsed": profiles[u],
            }
        )
    return result


def llm_profiles(
    llm: Backend, stats: StageStats, inputs: Inputs, lines: ItemLines, aug: AugmentConfig
) -> ProfileResult:
    """Ask the LLM, in one batch, for every user's profile; parse and validate the JSON answers."""
    users = [u for u in range(inputs.n_users) if inputs.train.items_of(u).size]
    prompts = {
        u: profiles_prompt(
            [lines.brief[i] for i in inputs.history(u, aug.seed)],
            inputs.users[u],
            inputs.noun,
            aug.history_token_budget,
        )
        for u in users
    }
    sent = [u for u in users if estimate_tokens(prompts[u]) <= aug.prompt_token_budget]
    asked = ask(
        llm,
        [chat(prompts[u], PROFILES_TEMPLATE) for u in sent],
        [0] * len(sent),  # one parser for every prompt
        # LLMRec's own profile format has no summary: a profile without one keeps its other fields
        lambda _: functools.partial(parse_profile, require_summary=False),
        lambda _: PROFILES_EXPECTED,
        stats,
    )
    profiles: list[dict[str, Any] | None] = [None] * inputs.n_users
    for u, parsed in zip(sent, asked.values, strict=True):
        if parsed is not None:
            profiles[u] = with_demographics(parsed, inputs.users[u])
    result = ProfileResult(
        profiles,
        {
            "users": inputs.n_users,
            "no_history": inputs.n_users - len(users),
            "over_budget": len(users) - len(sent),
            **asked.summary(),
        },
    )
    for k in sample_positions(len(sent), aug.audit_samples, aug.seed):
        u = sent[k]
        result.samples.append(
            {
                "user_id": str(inputs.train.user_ids[u]),
                "prompt": prompts[u],
                "answer": asked.answers[k],
                "parsed": profiles[u],
            }
        )
    return result


def with_demographics(profile: dict[str, Any], demographics: Mapping[str, str]) -> dict[str, Any]:
    """`profile` with the dataset's own age and gender where it has them (facts beat guesses)."""
    stated = stated_age_gender(demographics)
    return {**profile, **{k: v for k, v in stated.items() if v is not None}}
