"""The ranking and pair parsers on answers as LLMs write them."""

from __future__ import annotations

import pytest

from llmrec.augment.parsers import ParseError
from llmrec.rerank import parse_choice, parse_ranking, salvage_ranking

IDS = ["A", "B", "C", "D"]


@pytest.mark.parametrize(
    "answer",
    [
        "B > C > A > D",
        "B>C>A>D",
        "B -> C -> A -> D",
        "B → C → A → D",
        "B, C, A, D",
        "B; C; A; D",
        "B C A D",
        "[B] > [C] > [A] > [D]",
        "[B, C, A, D]",
        '["B", "C", "A", "D"]',
        '{"ranking": ["B", "C", "A", "D"]}',
        '```json\n["B", "C", "A", "D"]\n```',
        "```\nB > C > A > D\n```",
        "Answer: B > C > A > D.",
        "Ranking: B, C, A, D",
        "1. B\n2. C\n3. A\n4. D",
        "1) [B] Heat (1995)\n2) [C] Casino (1995)\n3) [A] Toy Story (1995)\n4) [D] Fargo (1996)",
        "1. B - Heat (1995)\n2. C: Casino (1995)\n3. A\n4. D. Fargo",
        "- B\n- C\n- A\n- D",
        "**B**\n**C**\n**A**\n**D**",
        "  B > C > A > D  \n",
    ],
)
def test_accepted_formats(answer: str) -> None:
    assert parse_ranking(answer, IDS) == [1, 2, 0, 3]


@pytest.mark.parametrize(
    ("answer", "kind"),
    [
        ("B > C > A > E", "outside"),  # an id that is not a candidate
        ("B > C > A > D > E", "outside"),
        ("B > C > B > D", "repeated"),
        ("B > C > A > A > D", "repeated"),
        ("B > C", "partial"),  # ranks only some
        ("1. B\n2. C", "partial"),
        ('["B", "A"]', "partial"),
        ("", "empty"),
        ("   ", "empty"),
        ("```\n```", "empty"),
        ("I would recommend B first, then C.", "prose"),
        ("Based on the user's history, the best candidate is Heat.", "prose"),
        ("Here is the ranking:\n1. B\n2. C\n3. A\n4. D", "prose"),  # a preamble is not tolerated
        ("1. Heat (1995)\n2. Casino (1995)\n3. Toy Story\n4. Fargo", "prose"),  # titles, not ids
        ("1. A Beautiful Mind\n2. B\n3. C\n4. D", "prose"),
        ("b > c > a > d", "prose"),  # ids are upper case: 'a' is a word
        ("我会推荐 B，然后是 C、A、D。", "language"),
        ("Я бы порекомендовал фильм Б", "language"),
        ("[1, 2, 3, 4]", "format"),  # numbers are not ids
        ('{"ranking": ["B"], "reason": ["x"]}', "format"),
        ('{"ranking": "B > C"', "format"),  # broken JSON
        ('["B is best", "then C"]', "prose"),
        ("B " * 12_000, "too_long"),
    ],
)
def test_rejected_answers_by_kind(answer: str, kind: str) -> None:
    with pytest.raises(ParseError) as err:
        parse_ranking(answer, IDS)
    assert err.value.kind == kind


def test_rejections_say_what_is_wrong() -> None:
    with pytest.raises(ParseError, match=r"E is not among the candidates \(A, B, C, D\)"):
        parse_ranking("B > C > A > E", IDS)
    with pytest.raises(ParseError, match="A, D not ranked; rank all 4 candidates"):
        parse_ranking("B > C", IDS)
    with pytest.raises(ParseError, match="B ranked more than once"):
        parse_ranking("B > B > C > A > D", IDS)


def test_two_letter_ids() -> None:
    ids = [chr(65 + i) for i in range(26)] + ["AA", "AB"]
    answer = " > ".join(reversed(ids))
    assert parse_ranking(answer, ids) == list(range(27, -1, -1))


@pytest.mark.parametrize(
    ("answer", "salvaged"),
    [
        ("B > C", [1, 2]),  # partial: what it ranks
        ("B > E > A", [1, 0]),  # outside ids dropped
        ("B > C > B > A", [1, 2, 0]),  # first mention kept
        ("I would pick B then A", []),  # prose: letters of a sentence are not a ranking
        ("我推荐 B", []),
        ("", []),
    ],
)
def test_salvage_keeps_only_what_a_readable_answer_ranks(answer: str, salvaged: list[int]) -> None:
    assert salvage_ranking(answer, IDS) == salvaged


@pytest.mark.parametrize(
    ("answer", "choice"),
    [("A", 0), ("B", 1), ("[B]", 1), ("B.", 1), ("Answer: A", 0), ("**B**", 1), ("```\nA\n```", 0),
     ('{"preferred": "B"}', 1), ('{"answer": "A"}', 0), ('"B"', 1)],
)  # fmt: skip
def test_pair_choices(answer: str, choice: int) -> None:
    assert parse_choice(answer) == choice


@pytest.mark.parametrize(
    ("answer", "kind"),
    [
        ("A or B, hard to say", "ambiguous"),
        ("The user would prefer the first one.", "prose"),
        ("C", "prose"),
        ("", "empty"),
        ("用户会更喜欢第一个", "language"),
        ('{"preferred": 1}', "format"),
        ('{"liked": "A"', "format"),
    ],
)
def test_pair_rejections(answer: str, kind: str) -> None:
    with pytest.raises(ParseError) as err:
        parse_choice(answer)
    assert err.value.kind == kind
