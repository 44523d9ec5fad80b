"""Title normalisation and tokenisation shared by queries, documents, the BM25 index and the trust gate.

MovieLens writes "Shawshank Redemption, The (1994)", "Seven (Se7en) (1995)" and "Postino, Il (1994)";
OMDb/IMDb write "The Shawshank Redemption", "Se7en" and "Il Postino: The Postman". Both sides go
through the same functions, so they meet in the middle: the trailing year is split off, a trailing
article moves to the front, each parenthesised alternate title becomes a variant of its own, accents
and punctuation go, and number words become digits ("Twelve Monkeys" vs "12 Monkeys").
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from difflib import SequenceMatcher

# Articles MovieLens moves to the end ("Ice Storm, The", "Promesse, La", "Boot, Das").
ARTICLES = frozenset(
    ["the", "a", "an", "la", "le", "les", "l'", "il", "lo", "gli", "el", "los", "las", "un", "une", "una",
     "uno", "das", "der", "die", "den", "det"]
)  # fmt: skip
_TRAILING_ARTICLE = re.compile(r"^(?P<rest>.+),\s*(?P<article>[^\s,]+'?)\s*$")
_TRAILING_YEAR = re.compile(r"^(?P<title>.*?)\s*\((?P<year>\d{4})(?:/[IVX]+)?\)\s*$")
_TRAILING_PAREN = re.compile(r"^(?P<title>.*\S)\s*\((?P<alt>[^()]*)\)\s*$")
_AKA = re.compile(r"^\s*a\.?k\.?a\.?\s+", re.IGNORECASE)
_YEAR_IN_TEXT = re.compile(r"(?<!\d)(1[89]\d\d|20\d\d)(?!\d)")
_NON_WORD = re.compile(r"[^0-9a-z]+")
_NUMBERS = {
    "one": "1", "two": "2", "three": "3", "four": "4", "five": "5", "six": "6", "seven": "7",
    "eight": "8", "nine": "9", "ten": "10", "eleven": "11", "twelve": "12", "thirteen": "13",
    "ii": "2", "iii": "3", "iv": "4", "v": "5", "vi": "6", "vii": "7", "viii": "8", "ix": "9",
}  # fmt: skip


def split_year(title: str) -> tuple[str, int | None]:
    """'Toy Story (1995)' -> ('Toy Story', 1995); a title without a trailing year keeps None."""
    found = _TRAILING_YEAR.match(title)
    if found is None:
        return title.strip(), None
    return found["title"].strip(), int(found["year"])


def parse_year(value: object) -> int | None:
    """The first plausible year (1800-2099) in a cell: 1962.0, '1995-1998', 'Episode aired Apr 3, 2014'.

    A scraped "Episode aired ..." row thus keeps the episode's year, which lets the gate reject it.
    """
    if value is None:
        return None
    if isinstance(value, float):
        return int(value) if value == value and 1800 <= value < 2100 else None  # NaN != NaN
    if isinstance(value, int):
        return value if 1800 <= value < 2100 else None
    found = _YEAR_IN_TEXT.search(str(value))
    return int(found.group(1)) if found else None


def front_article(title: str) -> str:
    """'Shawshank Redemption, The' -> 'The Shawshank Redemption'; other titles unchanged."""
    found = _TRAILING_ARTICLE.match(title.strip())
    if found is None or found["article"].lower() not in ARTICLES:
        return title.strip()
    article = found["article"]
    joiner = "" if article.endswith("'") else " "  # "Homme, L'" -> "L'Homme"
    return f"{article}{joiner}{found['rest'].strip()}"


def title_parts(title: str) -> list[str]:
    """Main title, then each parenthesised alternate, each with its article in front; no year.

    'Flower of My Secret, The (Flor de mi secreto, La) (1995)' ->
    ['The Flower of My Secret', 'La Flor de mi secreto'].
    """
    rest, _ = split_year(title)
    alternates: list[str] = []
    while (found := _TRAILING_PAREN.match(rest)) is not None:
        alt = _AKA.sub("", found["alt"]).strip()
        if alt:
            alternates.insert(0, alt)
        rest = found["title"]
    parts = [front_article(p) for p in [rest, *alternates] if p.strip()]
    return parts or [rest.strip()]


def display_title(title: str) -> str:
    """A readable title for prompts and dense encoding: article in front, alternates in parentheses."""
    parts = title_parts(title)
    return parts[0] + "".join(f" ({p})" for p in parts[1:])


def normalize(text: str) -> str:
    """Lower-case ASCII words separated by single spaces; '&' -> 'and', number words -> digits."""
    decomposed = unicodedata.normalize("NFKD", text)
    ascii_text = "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()
    ascii_text = ascii_text.replace("&", " and ").replace("'", "").replace("\u2019", "")
    words = _NON_WORD.sub(" ", ascii_text).split()
    return " ".join(_NUMBERS.get(w, w) for w in words)


def tokenize(text: str) -> list[str]:
    """BM25 tokens of a text: its normalised words."""
    return normalize(text).split()


def strip_article(normalized: str) -> str:
    """A normalised title without its leading article: 'the ice storm' -> 'ice storm'."""
    words = normalized.split()
    if len(words) > 1 and (words[0] in ARTICLES or words[0] == "l"):
        words = words[1:]
    return " ".join(words)


@dataclass(frozen=True)
class TitleForms:
    """Normalised, article-free forms of a title: `full` (each part) and `short` (each part before ':')."""

    full: frozenset[str]
    short: frozenset[str]


def title_variants(title: str) -> TitleForms:
    """The forms a title may be matched by.

    'Star Wars: Episode IV - A New Hope' has the full form 'star wars episode 4 a new hope' and the
    short form 'star wars'; 'Seven (Se7en)' has the full forms '7' and 'se7en'.
    """
    full: set[str] = set()
    short: set[str] = set()
    for part in title_parts(title):
        full.add(strip_article(normalize(part)))
        if ":" in part:
            short.add(strip_article(normalize(part.split(":")[0])))
    return TitleForms(frozenset(full - {""}), frozenset(short - {""} - full))


SHORT_FORM_WEIGHT = 0.92  # a match through the part before ':' is weaker evidence than a full title's
NUMBER_MISMATCH_WEIGHT = 0.5  # 'rocky 2' vs 'rocky 3': one digit apart in characters, another film


def title_similarity(a: TitleForms, b: TitleForms) -> float:
    """How alike two titles are, 0..1: the best difflib ratio between a form of `a` and a form of `b`.

    A short form is only compared with the other side's full forms, and scores at most
    SHORT_FORM_WEIGHT: 'Star Wars' matches 'Star Wars: Episode IV', but 'Air Bud' matches its sequel
    'Air Bud: Golden Receiver' less well than the film 'Air Bud' itself, and 'Star Trek: Generations'
    does not match 'Star Trek: Deep Space Nine' through their shared 'star trek'. Forms whose numbers
    differ ('nightmare on elm street' vs '... street 2') score half: sequels are other films.
    """
    pairs = [(x, y, 1.0) for x in a.full for y in b.full]
    pairs += [(x, y, SHORT_FORM_WEIGHT) for x in a.full for y in b.short]
    pairs += [(x, y, SHORT_FORM_WEIGHT) for x in a.short for y in b.full]
    return max((_pair_similarity(x, y) * w for x, y, w in pairs), default=0.0)


def _pair_similarity(x: str, y: str) -> float:
    """difflib ratio of two normalised forms, halved when their numbers differ."""
    if x == y:
        return 1.0
    ratio = SequenceMatcher(None, x, y, autojunk=False).ratio()
    numbers_x = sorted(w for w in x.split() if w.isdigit())
    numbers_y = sorted(w for w in y.split() if w.isdigit())
    return ratio * NUMBER_MISMATCH_WEIGHT if numbers_x != numbers_y else ratio
