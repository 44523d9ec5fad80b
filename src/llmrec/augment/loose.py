"""Reading the non-JSON forms real models and LLMRec's own prompts produce, into raw strings by key.

Two forms, both keyed by names the caller knows (so content stays strict: unknown keys are never
invented, every expected key must be found):

- delimited: `Christopher Nolan::United Kingdom::English`, LLMRec's attribute format, one value per key
  in a known order (a part may carry its own label: `director: Nolan::country: UK::language: English`);
- labelled: `key: value` pairs, one a line (`- **Country:** USA`) or in a brace without quotes, as
  LLMRec's profile prompt gets them: `{age: 25, gender: male, liked genre: Drama, Comedy, ...}`.
  A value runs until the next known label, so values may hold commas.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

_FENCE = re.compile(r"```[A-Za-z]*\s*\n?(.*?)\n?\s*```", re.DOTALL)
_EDGE_CHARS = " \t\r\n,;{}[]\"'`*"
_PREFIX = re.compile(r"^\s*(?:answer|output|result|final answer)\s*:\s*", re.IGNORECASE)


def strip_markup(text: str) -> str:
    """`text` with a code fence's content taken out and markdown emphasis removed."""
    fenced = _FENCE.search(text)
    body = fenced.group(1) if fenced else text
    return body.replace("**", "").replace("__", "")


def delimited(text: str, keys: Sequence[str], order: Sequence[str] = ()) -> dict[str, str] | None:
    """Raw values by key from the first line holding '::', or None when no line has the form.

    The parts map onto `keys` in order when there are as many; else onto `order` (the full attribute
    order of LLMRec's prompt) when there are as many as that and it holds every key. Labelled parts
    (`country: UK`) go to their label whatever their position.
    """
    line = next((ln for ln in strip_markup(text).splitlines() if "::" in ln), None)
    if line is None:
        return None
    line = _PREFIX.sub("", line.strip().strip(_EDGE_CHARS))
    parts = [p.strip(_EDGE_CHARS) for p in line.split("::")]
    labels = _label_parts(parts, keys)
    if labels is not None:
        return labels
    names = list(keys) if len(parts) == len(keys) else list(order)
    if len(parts) != len(names) or not set(keys) <= set(names):
        return None
    return {name: part for name, part in zip(names, parts, strict=True) if name in keys}


def _label_parts(parts: Sequence[str], keys: Sequence[str]) -> dict[str, str] | None:
    """{key: value} when every part is 'key: value' with a known key and every key is there."""
    found = {}
    for part in parts:
        label, sep, value = part.partition(":")
        name = _norm(label)
        if not sep or name not in keys:
            return None
        found[name] = value.strip(_EDGE_CHARS)
    return found if set(found) == set(keys) else None


def labelled(text: str, aliases: Mapping[str, str]) -> dict[str, str]:
    """{canonical key: raw value} of every 'label: value' whose label is in `aliases` (spelling -> key).

    Labels are matched at the start of a line, after '{' or ',' or '-' bullets, with or without quotes;
    a value ends where the next known label starts. The first non-empty occurrence of a key wins.
    """
    body = strip_markup(text)
    spellings = sorted(aliases, key=len, reverse=True)  # 'liked genres' before 'liked genre'
    words = "|".join(re.escape(s).replace(r"\ ", r"[\s_-]+") for s in spellings)
    pattern = re.compile(rf"(?:^|(?<=[{{,;\n]))[\s\-*•]*[\"']?({words})[\"']?\s*[:=]", re.IGNORECASE)
    marks = list(pattern.finditer(body))
    out: dict[str, str] = {}
    for mark, after in zip(marks, [*marks[1:], None], strict=False):  # the last runs to the end
        key = aliases.get(_norm(mark.group(1)))
        end = after.start() if after is not None else len(body)
        value = body[mark.end() : end].strip(_EDGE_CHARS)
        if key is not None and key not in out and value:  # an empty value (a cut-off answer) is not found
            out[key] = value
    return out


def _norm(label: str) -> str:
    """A label lower-cased with runs of spaces, '_' and '-' as one space, quotes and stars stripped."""
    return re.sub(r"[\s_-]+", " ", label.strip(_EDGE_CHARS).lower()).strip()
