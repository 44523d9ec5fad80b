"""Pure, strict parsers of LLM answers, and the normalisation of attribute values.

Each parser returns a clean value or raises `ParseError` (a ValueError) whose message says what is
wrong: the repair re-ask quotes it back to the model. `ParseError.kind` sorts rejections for the audit:
format, language (the answer is mostly in a non-Latin script), out_of_range, same_item, type.
Formatting is tolerated (brackets, separators, code fences, markdown, JSON, LLMRec's own `a::b::c` and
unquoted `{key: value}` forms, `key: value` lines, one pair inside a sentence); content is not: ids must
be in range, every expected key present, values of the right type.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterable, Sequence
from typing import Any

from llmrec.augment.loose import delimited, labelled

PROFILE_KEYS = (
    "age",
    "gender",
    "liked_genres",
    "disliked_genres",
    "liked_directors",
    "country",
    "language",
    "summary",
)
PROFILE_LISTS = ("liked_genres", "disliked_genres", "liked_directors")
MAX_ANSWER_CHARS = 20_000  # longer answers are rejected before any literal parsing

# Words an LLM uses for "I do not know"; such a value stays missing.
MISSING = frozenset(
    {"", "unknown", "n/a", "na", "none", "null", "nil", "not available", "not known", "unspecified",
     "not specified", "unclear", "no information", "-", "?", "unknown director"}
)  # fmt: skip
COUNTRIES = {
    "usa": "United States", "us": "United States", "u.s.": "United States", "u.s.a.": "United States",
    "u.s": "United States", "u.s.a": "United States", "united states": "United States",
    "united states of america": "United States", "america": "United States",
    "the united states": "United States", "uk": "United Kingdom", "u.k.": "United Kingdom",
    "u.k": "United Kingdom", "great britain": "United Kingdom",
    "britain": "United Kingdom", "england": "United Kingdom", "the united kingdom": "United Kingdom",
    "united kingdom": "United Kingdom", "west germany": "Germany", "federal republic of germany": "Germany",
    "ussr": "Soviet Union", "u.s.s.r.": "Soviet Union", "the soviet union": "Soviet Union",
    "south korea": "South Korea", "korea": "South Korea", "republic of korea": "South Korea",
    "prc": "China", "people's republic of china": "China", "mainland china": "China",
    "holland": "Netherlands", "the netherlands": "Netherlands", "czech republic": "Czechia",
    "uae": "United Arab Emirates", "russian federation": "Russia",
}  # fmt: skip
LANGUAGES = {
    "en": "English", "eng": "English", "american english": "English", "british english": "English",
    "fr": "French", "français": "French", "francais": "French", "de": "German", "deutsch": "German",
    "es": "Spanish", "español": "Spanish", "espanol": "Spanish", "castilian": "Spanish",
    "it": "Italian", "italiano": "Italian", "ja": "Japanese", "jp": "Japanese", "zh": "Chinese",
    "mandarin chinese": "Mandarin", "standard chinese": "Mandarin", "ru": "Russian", "pt": "Portuguese",
    "hi": "Hindi", "ko": "Korean", "sv": "Swedish", "nl": "Dutch",
}  # fmt: skip
GENDERS = {"m": "male", "male": "male", "man": "male", "f": "female", "female": "female", "woman": "female"}
_POS_KEYS = frozenset({"liked", "like", "positive", "pos", "favorite", "favourite", "most_liked"})
_NEG_KEYS = frozenset({"disliked", "dislike", "negative", "neg", "least_favorite", "least_favourite"})
_KEY_ALIASES = {
    "liked_genre": "liked_genres",
    "disliked_genre": "disliked_genres",
    "liked_director": "liked_directors",
}

# the attribute order of LLMRec's prompt, whose answers read 'director::country::language'
LLMREC_ATTRIBUTES = ("director", "country", "language")
_ATTRIBUTE_ALIASES = {
    "directors": "director", "director(s)": "director", "directed by": "director",
    "countries": "country", "country of origin": "country", "production country": "country",
    "languages": "language", "original language": "language", "spoken language": "language",
}  # fmt: skip
_PROFILE_SPELLINGS = {
    **{k.replace("_", " "): k for k in PROFILE_KEYS},
    "liked genre": "liked_genres", "disliked genre": "disliked_genres", "liked director": "liked_directors",
    "favorite genres": "liked_genres", "favourite genres": "liked_genres", "preferred genres": "liked_genres",
    "disliked genres": "disliked_genres", "favorite directors": "liked_directors",
    "favourite directors": "liked_directors", "sex": "gender",
}  # fmt: skip
_NUM = r"\[?\s*(\d+)\s*\]?"
_PAIR = re.compile(rf"{_NUM}\s*(?:::|:|,|;|/|\band\b|\s)\s*{_NUM}", re.IGNORECASE)
_LABELLED = re.compile(
    rf"(?:liked|like|favou?rite|positive)\W*{_NUM}\W+(?:disliked|dislike|least\s+favou?rite|negative)\W*{_NUM}",
    re.IGNORECASE,
)
_IN_SENTENCE = re.compile(r"(?<![\d:.\-])(\d+)\s*::\s*(\d+)(?![\d:.]\d|::)")
_PREFIX = re.compile(r"^(?:answer|output|result)\s*:\s*", re.IGNORECASE)
_FENCE = re.compile(r"^```[A-Za-z]*\s*\n?(.*?)\n?\s*```$", re.DOTALL)
_SPLIT = re.compile(r"\s*[,;/|]\s*")
_AGE = re.compile(r"^\D*?(\d{1,3})(?:\s*(?:-|–|to)\s*(\d{1,3}))?\D*$")


class ParseError(ValueError):
    """An answer that does not parse; `kind` names the reason for the audit."""

    def __init__(self, message: str, kind: str = "format") -> None:
        super().__init__(message)
        self.kind = kind


def rejection_kind(exc: ValueError) -> str:
    """The audit category of a rejection (format for a plain ValueError)."""
    return exc.kind if isinstance(exc, ParseError) else "format"


def parse_pair(text: str, n: int) -> tuple[int, int]:
    """(liked, disliked) candidate numbers, 1-based, from an answer such as '3::7', '[3] and [7]' or JSON.

    Both must be in 1..n and differ. Tolerated: brackets, '::', ':', ',', ';', '/', 'and' or spaces between
    the numbers, 'liked: 3, disliked: 7', a leading 'Answer:', code fences, a trailing period, and JSON
    ({"liked": 3, "disliked": 7} or [3, 7]). Anything more (a third number, an explanation) is rejected.
    """
    body = _unwrap(text)
    pair = _json_pair(body) if body.startswith(("{", "[")) and not _PAIR.fullmatch(body) else None
    if pair is None:
        match = _PAIR.fullmatch(body) or _LABELLED.fullmatch(body)
        pair = (int(match.group(1)), int(match.group(2))) if match else _pair_in_sentence(text)
    liked, disliked = pair
    for k in pair:
        if not 1 <= k <= n:
            raise ParseError(f"candidate {k} is not in the list (numbers 1 to {n})", "out_of_range")
    if liked == disliked:
        raise ParseError(f"the liked and the disliked candidate are the same ({liked})", "same_item")
    return liked, disliked


def _pair_in_sentence(text: str) -> tuple[int, int]:
    """The one 'a::b' inside a longer answer ('The answer is 4::1.'); several different ones are rejected."""
    found = {(int(a), int(b)) for a, b in _IN_SENTENCE.findall(text)}
    if len(found) != 1:
        what = "several different pairs" if found else "no pair"
        raise _unreadable(text, f"expected two candidate numbers such as 3::7 ({what} found)")
    return found.pop()


def _unwrap(text: str) -> str:
    """`text` without surrounding whitespace, code fences, quotes, an 'Answer:' label or a final period."""
    body = text.strip()
    fenced = _FENCE.match(body)
    if fenced:
        body = fenced.group(1).strip()
    body = _PREFIX.sub("", body.replace("**", "")).strip().strip("`'\"").strip()
    return body[:-1].rstrip() if body.endswith(".") else body


def _json_pair(body: str) -> tuple[int, int]:
    """A pair from JSON: {"liked": 3, "disliked": 7} (or synonyms) or [3, 7]."""
    try:
        data = json.loads(body)
    except json.JSONDecodeError:
        raise ParseError("the answer looks like JSON but is not valid JSON") from None
    if isinstance(data, list):
        if len(data) != 2:
            raise ParseError(f"expected a list of two candidate numbers, got {len(data)} values")
        return _number(data[0]), _number(data[1])
    if not isinstance(data, dict):
        raise ParseError("expected a JSON object or a list of two numbers")
    keys = {str(k).strip().lower().replace(" ", "_"): v for k, v in data.items()}
    pos = [k for k in keys if k in _POS_KEYS]
    neg = [k for k in keys if k in _NEG_KEYS]
    if len(pos) != 1 or len(neg) != 1 or len(keys) != 2:
        raise ParseError(f'expected exactly the keys "liked" and "disliked", got {sorted(data)}')
    return _number(keys[pos[0]]), _number(keys[neg[0]])


def _number(value: Any) -> int:
    """A candidate number from JSON: an int or a string of digits (not a bool, not a float)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    raise ParseError(f"expected a candidate number, got {value!r}", "type")


def is_foreign(text: str) -> bool:
    """Whether more than 30% of the letters of `text` are outside ASCII (another script, mostly)."""
    letters = [c for c in text if c.isalpha()]
    return bool(letters) and sum(not c.isascii() for c in letters) / len(letters) > 0.3


def _unreadable(text: str, expected: str) -> ParseError:
    """The error for an answer in no accepted format; 'language' when it is mostly non-Latin script."""
    if is_foreign(text):
        return ParseError(f"the answer is not in English: {expected}", "language")
    return ParseError(f"{expected}; got {_clip(text)!r}")


def _clip(text: str, n: int = 80) -> str:
    """At most `n` characters of `text`, for messages."""
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 3] + "..."


def load_object(text: str) -> dict[str, Any]:
    """The JSON object in an answer (code fences and text around the braces allowed).

    Python dict literals with single quotes, as LLMRec's released profiles are written, are read
    with `ast.literal_eval`, which evaluates literals only.
    """
    if len(text) > MAX_ANSWER_CHARS:
        raise ParseError(f"the answer is {len(text):,} characters long; expected one short JSON object")
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end < start:
        raise _unreadable(text, "expected one JSON object")
    body = text[start : end + 1]
    try:
        data = json.loads(body)
    except json.JSONDecodeError:
        try:
            data = ast.literal_eval(body)
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            raise ParseError(f"not a valid JSON object: {_clip(body)!r}") from None
    if not isinstance(data, dict):
        raise ParseError("expected one JSON object")
    return data


def parse_attributes(
    text: str, keys: Sequence[str], order: Sequence[str] = LLMREC_ATTRIBUTES
) -> dict[str, str | None]:
    """{key: normalised value or None} from an answer holding every one of `keys`.

    Forms: a JSON object (key variants such as "Directors" or "original language" accepted), LLMRec's
    'director::country::language' (parts in the order of `keys`, or of `order` when there are as many
    as that), or 'key: value' lines. Values may be a string, a list of strings or null; "unknown" and the
    like become None. Keys other than `keys` are ignored (models like to echo the title).
    """
    data = _attribute_fields(text, keys, order)
    missing = [k for k in keys if k not in data]
    if missing:
        raise ParseError(f"missing key(s) {missing}; expected exactly {list(keys)}")
    return {k: normalise_value(k, data[k], k) for k in keys}


def _attribute_fields(text: str, keys: Sequence[str], order: Sequence[str]) -> dict[str, Any]:
    """Raw values by lower-case key from whichever form the answer is in (see `parse_attributes`)."""
    if len(text) > MAX_ANSWER_CHARS:
        raise ParseError(f"the answer is {len(text):,} characters long; expected one short answer")
    if is_foreign(text):
        raise ParseError("the answer is not in English", "language")
    if "{" in text and "::" not in text:
        try:
            raw = load_object(text)
        except ParseError as exc:
            found = labelled(text, _attribute_spellings(keys))
            if len(found) < len(keys):
                raise exc from None
            return found
        data: dict[str, Any] = {}
        for k, v in raw.items():
            name = " ".join(str(k).strip().lower().replace("_", " ").split())
            data.setdefault(_ATTRIBUTE_ALIASES.get(name, name), v)
        return data
    parts = delimited(text, keys, order)
    if parts is not None:
        return parts
    found = labelled(text, _attribute_spellings(keys))
    if found:
        return found
    listed = "::".join(keys)
    raise _unreadable(text, f"expected one JSON object or {listed}")


def _attribute_spellings(keys: Sequence[str]) -> dict[str, str]:
    """Label spellings of `keys` (the key itself and its known variants) -> key."""
    return {**{k: k for k in keys}, **{a: k for a, k in _ATTRIBUTE_ALIASES.items() if k in keys}}


def normalise_value(kind: str, value: Any, where: str) -> str | None:
    """One attribute value as a canonical string: several values ', '-joined, None when unknown.

    `kind` picks the alias table: country ("USA" -> "United States"), language ("en" -> "English");
    other kinds only get whitespace and capitalisation cleaned.
    """
    parts = [_canonical(kind, p) for p in _strings(value, where)]
    unique = list(dict.fromkeys(p for p in parts if p is not None))
    return ", ".join(unique) if unique else None


def _strings(value: Any, where: str) -> list[str]:
    """The strings of a value that may be None, a string (possibly listing several) or a list of strings."""
    if value is None:
        return []
    if isinstance(value, str):
        value = [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        # "N/A" is one word for unknown, not two values: look the whole string up before splitting
        return [p for v in value if v.strip().lower() not in MISSING for p in _SPLIT.split(v.strip())]
    raise ParseError(f"{where}: expected a string or a list of strings, got {_clip(repr(value))}", "type")


def _canonical(kind: str, raw: str) -> str | None:
    """One value cleaned and mapped through the alias table of `kind`; None when it means unknown."""
    text = " ".join(raw.strip().strip("'\"").rstrip(".").split())
    key = text.lower()
    if key in MISSING or key.startswith("unknown "):
        return None
    if kind == "language" and key.endswith(" language"):  # "English language" -> "English"
        text, key = text[: -len(" language")], key[: -len(" language")]
    table = {"country": COUNTRIES, "language": LANGUAGES}.get(kind, {})
    if key in table:
        return table[key]
    # only all-lower or all-upper text is recapitalised: "McDonagh" and "DreamWorks" stay as written
    return text.title() if text.islower() or (text.isupper() and len(text) > 3) else text


def canonical_country(value: str) -> str | None:
    """A country name mapped to its canonical form ("USA" -> "United States")."""
    return normalise_value("country", value, "country")


def canonical_language(value: str) -> str | None:
    """A language name mapped to its canonical form ("en" -> "English")."""
    return normalise_value("language", value, "language")


def parse_profile(text: str, require_summary: bool = True) -> dict[str, Any]:
    """A user profile from a JSON answer: every key of PROFILE_KEYS present, values checked and cleaned.

    LLMRec's key spellings ('liked genre', 'liked directors') are accepted. Lists may be given as
    comma-separated strings. `require_summary=False` reads LLMRec's released profiles, which have none.
    """
    data = _profile_fields(text)
    needed = [k for k in PROFILE_KEYS if require_summary or k != "summary"]
    missing = [k for k in needed if k not in data]
    if missing:
        raise ParseError(f"missing key(s) {missing}; expected exactly {list(PROFILE_KEYS)}")
    profile: dict[str, Any] = {
        "age": _age(data["age"]),
        "gender": _gender(data["gender"]),
        **{k: _list(k, data[k]) for k in PROFILE_LISTS},
        "country": normalise_value("country", data["country"], "country"),
        "language": normalise_value("language", data["language"], "language"),
    }
    summary = data.get("summary")
    if summary is not None and not isinstance(summary, str):
        raise ParseError(f"summary: expected a string, got {_clip(repr(summary))}", "type")
    summary = " ".join((summary or "").split())
    if require_summary and not summary:
        raise ParseError("summary: expected a few sentences, got nothing")
    profile["summary"] = summary
    return profile


def _profile_fields(text: str) -> dict[str, Any]:
    """Raw profile values by our key: from JSON or a Python literal, else from LLMRec's unquoted
    '{age: 25, liked genre: Drama, Comedy, ...}' or 'key: value' lines."""
    try:
        return {_profile_key(k): v for k, v in load_object(text).items()}
    except ParseError as exc:
        if len(text) > MAX_ANSWER_CHARS:
            raise
        found = labelled(text, _PROFILE_SPELLINGS)
        if len(found) < 3:  # a sentence that happens to say 'age: 30' is not a profile
            raise exc from None
        return {k: None if v.strip().lower() in ("null", "none") else v for k, v in found.items()}


def _profile_key(key: object) -> str:
    """A profile key in snake case, LLMRec's singular spellings mapped to ours."""
    name = re.sub(r"[\s-]+", "_", str(key).strip().lower())
    return _KEY_ALIASES.get(name) or _PROFILE_SPELLINGS.get(name.replace("_", " "), name)


def _age(value: Any) -> int | None:
    """An age in years: an integer, a numeric string, or a range such as '25-34' (its midpoint)."""
    if value is None or (isinstance(value, str) and value.strip().lower() in MISSING):
        return None
    if isinstance(value, bool):
        raise ParseError(f"age: expected a number, got {value!r}", "type")
    if isinstance(value, int | float) and float(value).is_integer():
        age = int(value)
    elif isinstance(value, str) and (match := _AGE.match(value.strip())):
        low, high = int(match.group(1)), int(match.group(2) or match.group(1))
        age = (low + high) // 2
    else:
        raise ParseError(f"age: expected a whole number of years, got {_clip(repr(value))}", "type")
    if not 1 <= age <= 120:
        raise ParseError(f"age: {age} is not a plausible age", "type")
    return age


def _gender(value: Any) -> str | None:
    """'male', 'female', another stated gender in lower case, or None."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise ParseError(f"gender: expected a string, got {_clip(repr(value))}", "type")
    key = " ".join(value.strip().lower().rstrip(".").split())
    return None if key in MISSING else GENDERS.get(key, key)


def _list(key: str, value: Any) -> list[str]:
    """A list of distinct cleaned strings (genres, directors); unknown entries dropped."""
    return _dedupe(_canonical(key, p) for p in _strings(value, key))


def _dedupe(values: Iterable[str | None]) -> list[str]:
    """Values without None and repeats, in first-seen order."""
    return list(dict.fromkeys(v for v in values if v))
