"""Strict parsers of ER2ALM's three answers: item aspects (Eq. 1), aspect profiles (Eq. 2) and
preference weights (Prompt_W).

Like every llmrec parser they return clean values or raise `ParseError` (kind `format`, `type` or
`out_of_range`), whose message the one repair re-ask quotes back. A weights answer is judged per
aspect: a value that is not a number, lies outside (0, 1) or names an unknown aspect does not reject
the whole answer (the other weights are good); it is counted in `WeightAnswer.issues` and the aspect
falls back to `fallback` (stated in the audit). An answer with no usable weight at all is rejected.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from llmrec.augment.parsers import MISSING, ParseError, load_object, normalise_value

# spellings models use for our keys
_ALIASES = {
    "genres": "genre",
    "directors": "director",
    "actors": "cast",
    "stars": "cast",
    "starring": "cast",
    "countries": "country",
    "languages": "language",
    "decade": "era",
    "period": "era",
    "plot keywords": "plot_keywords",
    "plot-keywords": "plot_keywords",
    "keywords": "plot_keywords",
    "plot_keyword": "plot_keywords",
    "themes": "theme",
    "tone": "mood",
}
MAX_VALUES = {"cast": 5, "plot_keywords": 8, "genre": 6, "director": 3}
_DECADE = re.compile(r"^(1[89]\d|20\d)\d\s*'?s?$")
_SHORT_DECADE = re.compile(r"^'?(\d)0'?s$")  # "90s", "'90s"
LOWER = frozenset({"plot_keywords", "theme", "mood"})
WEIGHT_EPS = 0.01  # weights of exactly 0 or 1 are moved this far inside (0, 1)


def _key(raw: object) -> str:
    """A key as we name it: lower case, spaces and dashes as in our names, aliases mapped."""
    key = " ".join(str(raw).strip().lower().split())
    return _ALIASES.get(key, key.replace(" ", "_"))


def _object(text: str) -> dict[str, Any]:
    """The answer's JSON object with normalised keys."""
    return {_key(k): v for k, v in load_object(text).items()}


def normalise_aspect(aspect: str, value: Any) -> str | None:
    """One aspect value as a canonical string (', '-joined lists, at most MAX_VALUES items), or None.

    A year given for `era` becomes its decade ("1995" -> "1990s"); numbers elsewhere are type errors.
    """
    if aspect == "era" and isinstance(value, int | float) and not isinstance(value, bool):
        value = str(int(value))
    text = normalise_value(aspect, value, aspect)
    if text is None:
        return None
    parts = text.split(", ")
    limit = MAX_VALUES.get(aspect)
    if limit is not None:
        parts = parts[:limit]
    if aspect == "era":
        parts = [_decade(p) for p in parts]
    elif aspect in LOWER:  # words, not names: one spelling whatever the model's capitals
        parts = [p.lower() for p in parts]
    return ", ".join(dict.fromkeys(parts))


def _decade(text: str) -> str:
    """'1995' or '1990s' or "90's" style eras as '1990s'; other text as written."""
    compact = text.replace(" ", "").lower()
    match = _DECADE.match(compact)
    if match:
        return f"{match.group(1)}0s"
    short = _SHORT_DECADE.match(compact)
    if short:  # a two-digit decade: the 1920s-1990s, else the 2000s-2010s
        digit = int(short.group(1))
        return f"{19 if digit >= 2 else 20}{digit}0s"
    return text


def parse_aspects(text: str, aspects: Sequence[str]) -> dict[str, str | None]:
    """{aspect: value or None} from a JSON answer holding every aspect of `aspects` (extra keys ignored)."""
    data = _object(text)
    missing = [a for a in aspects if a not in data]
    if missing:
        raise ParseError(f"missing key(s) {missing}; expected exactly {list(aspects)}")
    return {a: normalise_aspect(a, data[a]) for a in aspects}


def parse_profile(text: str, aspects: Sequence[str]) -> dict[str, str | None]:
    """{aspect: the user's preference as text, or None} from a JSON answer holding every aspect."""
    data = _object(text)
    missing = [a for a in aspects if a not in data]
    if missing:
        raise ParseError(f"missing key(s) {missing}; expected exactly {list(aspects)}")
    out: dict[str, str | None] = {}
    for a in aspects:
        value = data[a]
        if isinstance(value, dict):  # {"liked": [...]} and the like: its strings, in order
            value = [v for v in value.values() if isinstance(v, str)] or None
        out[a] = _phrase(value, a)
    if not any(out.values()):
        raise ParseError("every aspect is unknown: nothing was said about the user")
    return out


def _phrase(value: Any, where: str) -> str | None:
    """A profile entry as written (strings joined with ', '), None when empty or 'unknown'."""
    if value is None:
        return None
    parts = [value] if isinstance(value, str) else value
    if not isinstance(parts, list) or not all(isinstance(p, str) for p in parts):
        raise ParseError(f"{where}: expected a phrase or a list of strings, got {str(value)[:60]!r}", "type")
    kept = [" ".join(p.split()) for p in parts if p.strip().lower() not in MISSING]
    return ", ".join(dict.fromkeys(kept)) or None


@dataclass
class WeightAnswer:
    """Weights by aspect (None: missing or invalid, replaced by the fallback) and what was wrong."""

    weights: dict[str, float | None]
    issues: Counter[str] = field(
        default_factory=Counter
    )  # not_number, out_of_range, unknown_aspect, missing, boundary

    def filled(self, fallback: float) -> dict[str, float]:
        """Every weight, `fallback` where none was usable."""
        return {a: fallback if w is None else w for a, w in self.weights.items()}


def parse_weights(text: str, aspects: Sequence[str]) -> WeightAnswer:
    """Per-aspect weights in (0, 1) from a JSON answer; see the module docstring for what is tolerated.

    Numbers written as strings ("0.7") and percentages ("70%") are read; exactly 0 or 1 is moved
    WEIGHT_EPS inside the interval (counted as `boundary`); anything else outside (0, 1) is
    `out_of_range`. Raises ParseError when not a single aspect has a usable weight.
    """
    data = _object(text)
    answer = WeightAnswer({a: None for a in aspects})
    for key, value in data.items():
        if key not in answer.weights:
            answer.issues["unknown_aspect"] += 1
            continue
        number = _number(value)
        if number is None:
            answer.issues["not_number"] += 1
        elif number in (0.0, 1.0):
            answer.issues["boundary"] += 1
            answer.weights[key] = min(max(number, WEIGHT_EPS), 1 - WEIGHT_EPS)
        elif not 0.0 < number < 1.0:
            answer.issues["out_of_range"] += 1
        else:
            answer.weights[key] = number
    answer.issues["missing"] += sum(a not in data for a in aspects)
    if all(w is None for w in answer.weights.values()):
        kind = "out_of_range" if answer.issues["out_of_range"] else "type"
        raise ParseError(
            f"no usable weight: expected numbers strictly between 0 and 1 for {list(aspects)}", kind
        )
    answer.issues = +answer.issues  # drop zero counts
    return answer


def _number(value: Any) -> float | None:
    """A finite number from a JSON number or a numeric string (a trailing % divides by 100), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        text = value.strip()
        scale = 100.0 if text.endswith("%") else 1.0
        try:
            number = float(text.rstrip("%").strip()) / scale
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


__all__ = ["WeightAnswer", "normalise_aspect", "parse_aspects", "parse_profile", "parse_weights"]
