"""Pure, strict parsers of ranking and pair answers.

Tolerated formatting: code fences, a leading 'Answer:' / 'Ranking:' label, a final period, ids in
brackets or quotes, separators '>', '->', ',', ';' or spaces, one id per line (numbered or bulleted,
optionally followed by the title), and JSON (a list of ids, or an object holding one such list).
Rejected content, each with a `ParseError.kind` for the audit: `empty`, `language` (mostly non-Latin
script), `prose` (words that are not ids: explanations, titles instead of ids), `format` (JSON of
the wrong shape), `outside` (an id that is not a candidate), `repeated`, `partial` (not every
candidate ranked), `too_long`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from llmrec.augment.parsers import ParseError

MAX_ANSWER_CHARS = 20_000
_FENCE = re.compile(r"^```[A-Za-z]*\s*\n?(.*?)\n?\s*```$", re.DOTALL)
_LABEL = re.compile(r"^(?:final\s+)?(?:answer|ranking|ranked\s+list|output|result)\s*:\s*", re.IGNORECASE)
_ID = re.compile(r"[A-Z]{1,3}")
_WRAP = "[]()\"'`*"
_SEPARATORS = re.compile(r"\s*(?:->|→|>|,|;)\s*|\s+")
# one id per line: "1. C", "2) [A] Heat (1995)", "- B: Title", "[D] Title", "E"
_LINE = re.compile(
    r"^(?:\d+\s*[.):]\s*|[-*•]\s*)?"  # optional numbering or bullet
    r"(?:\[([A-Z]{1,3})\]|\*\*([A-Z]{1,3})\*\*|([A-Z]{1,3})(?=$|\s*[-–:.)]))"  # the id
    r"(?:\s*[-–:.)]?\s*.*)?$"  # optional title after it
)
_NUMBERED = re.compile(r"^(?:\d+\s*[.):]|[-*•])")


def unwrap(text: str) -> str:
    """`text` without surrounding whitespace, code fences, an 'Answer:' label or a final period."""
    body = text.strip()
    fenced = _FENCE.match(body)
    if fenced:
        body = fenced.group(1).strip()
    body = _LABEL.sub("", body).strip()
    return body[:-1].rstrip() if body.endswith(".") else body


def not_latin(text: str) -> bool:
    """Whether most letters of `text` are outside ASCII (an answer in another script)."""
    letters = [c for c in text if c.isalpha()]
    return bool(letters) and sum(not c.isascii() for c in letters) / len(letters) > 0.3


def _unreadable(text: str, expected: str) -> ParseError:
    """The error for an answer in no accepted format: `language` or `prose`."""
    if not_latin(text):
        return ParseError(f"the answer is not in English: {expected}", "language")
    clipped = " ".join(text.split())
    clipped = clipped if len(clipped) <= 80 else clipped[:77] + "..."
    return ParseError(f"{expected}; got {clipped!r}", "prose")


def ranking_tokens(text: str) -> list[str]:
    """The ids an answer lists, in order, before any check against the candidates (raises if unreadable)."""
    if len(text) > MAX_ANSWER_CHARS:
        raise ParseError(f"the answer is {len(text):,} characters long; expected a list of ids", "too_long")
    body = unwrap(text)
    if not body:
        raise ParseError("the answer is empty; expected the candidate ids", "empty")
    if body.startswith("{"):
        return _json_tokens(_load_json(body))
    if body.startswith("["):  # a JSON list, or ids in brackets such as "[B] > [A]" or "[B, A]"
        try:
            return _json_tokens(json.loads(body))
        except json.JSONDecodeError:
            pass
    lines = [line.strip() for line in body.splitlines() if line.strip()]
    if len(lines) > 1 or _NUMBERED.match(lines[0]):
        return [_line_id(line, text) for line in lines]
    tokens = [t.strip(_WRAP) for t in _SEPARATORS.split(body) if t.strip(_WRAP)]
    if not tokens or not all(_ID.fullmatch(t) for t in tokens):
        raise _unreadable(text, "expected candidate ids separated by '>', such as B > C > A")
    return tokens


def _line_id(line: str, text: str) -> str:
    """The id of one line of a one-id-per-line answer."""
    match = _LINE.match(line)
    if match is None:
        raise _unreadable(text, "expected one candidate id per line, such as '1. B'")
    return next(g for g in match.groups() if g)


def _load_json(body: str) -> Any:
    """The JSON value of `body`, or a `format` rejection."""
    try:
        return json.loads(body)
    except json.JSONDecodeError:
        raise ParseError("the answer looks like JSON but is not valid JSON", "format") from None


def _json_tokens(data: Any) -> list[str]:
    """Ids from JSON: ["B", "C", "A"], or an object whose only value is such a list."""
    if isinstance(data, dict):
        lists = [v for v in data.values() if isinstance(v, list)]
        if len(data) != 1 or len(lists) != 1:
            raise ParseError(
                f"expected a JSON list of ids or an object with one list, got keys {sorted(data)}"
            )
        data = lists[0]
    if not isinstance(data, list) or not all(isinstance(v, str) for v in data):
        raise ParseError('expected a JSON list of candidate ids (strings such as "B")', "format")
    tokens = [v.strip().strip(_WRAP) for v in data]
    bad = [t for t in tokens if not _ID.fullmatch(t)]
    if bad:
        raise ParseError(f"expected candidate ids, got {bad[:3]}", "prose")
    return tokens


def parse_ranking(text: str, ids: Sequence[str]) -> list[int]:
    """Indices into `ids` from most to least liked; every id exactly once, nothing else."""
    tokens = ranking_tokens(text)
    index = {t: j for j, t in enumerate(ids)}
    outside = [t for t in dict.fromkeys(tokens) if t not in index]
    if outside:
        raise ParseError(f"{', '.join(outside)} {'is' if len(outside) == 1 else 'are'} not among the "
                         f"candidates ({', '.join(ids)})", "outside")  # fmt: skip
    repeated = [t for t in dict.fromkeys(tokens) if tokens.count(t) > 1]
    if repeated:
        raise ParseError(f"{', '.join(repeated)} ranked more than once; rank each candidate once", "repeated")
    missing = [t for t in ids if t not in set(tokens)]
    if missing:
        raise ParseError(f"{', '.join(missing)} not ranked; rank all {len(ids)} candidates", "partial")
    return [index[t] for t in tokens]


def salvage_ranking(text: str, ids: Sequence[str]) -> list[int]:
    """What can be used of an invalid but readable ranking: known ids, first mention kept, in order.

    An unreadable answer (prose, another language, empty) yields nothing: letters picked out of a
    sentence ("I think A ...") are not a ranking.
    """
    try:
        tokens = ranking_tokens(text)
    except ParseError:
        return []
    index = {t: j for j, t in enumerate(ids)}
    return [index[t] for t in dict.fromkeys(tokens) if t in index]


_CHOICE_KEYS = frozenset({"answer", "choice", "preferred", "preference", "winner", "prefer"})


def parse_choice(text: str) -> int:
    """0 for A, 1 for B from a pair answer such as 'A', '[B]', 'Answer: B.' or {"preferred": "A"}."""
    body = unwrap(text)
    if not body:
        raise ParseError("the answer is empty; expected A or B", "empty")
    if body.startswith("{"):
        data = _load_json(body)
        values = [v for k, v in data.items() if str(k).strip().lower() in _CHOICE_KEYS] if isinstance(
            data, dict) else []  # fmt: skip
        if len(values) != 1 or not isinstance(values[0], str):
            raise ParseError('expected {"preferred": "A"} or just the letter', "format")
        body = values[0]
    letter = body.strip(_WRAP).strip()
    if letter in ("A", "B"):
        return 0 if letter == "A" else 1
    named = set(re.findall(r"(?<![A-Za-z])([AB])(?![A-Za-z])", body))
    if named == {"A", "B"}:
        raise ParseError("the answer names both A and B; name only the preferred one", "ambiguous")
    raise _unreadable(text, "expected one letter, A or B")
