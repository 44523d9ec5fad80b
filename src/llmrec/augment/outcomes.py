"""What llmrec's parsers make of one saved answer, by question kind: for measuring parse rates on real
models' answers (benchmarks/real_answers.py, tests/augment/test_real_answers.py).

Kinds are the probe's questions: `listwise` (LLMRec's "liked::disliked" pick among 10 candidates,
`parse_pair`), `attributes` (the director, `parse_attributes`) and `pointwise` (yes or no, scored by
`yes_score` from the first token's log-probabilities or the first word).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from llmrec.augment.parsers import parse_attributes, parse_pair, rejection_kind
from llmrec.augment.pointwise import yes_score
from llmrec.llm import ChatResponse

KINDS = ("listwise", "pointwise", "attributes")
N_CANDIDATES = 10  # the probe's list length


def answer_outcome(kind: str, text: str, logprobs: Sequence[Sequence[Any]] = ()) -> str:
    """'parsed' (pointwise: 'parsed (logprobs)' or 'parsed (text)'), else the parsers' reason."""
    if kind not in KINDS:
        raise ValueError(f"unknown question kind {kind!r}; valid: {list(KINDS)}")
    if kind == "pointwise":
        pairs = tuple((str(t), float(p)) for t, p in logprobs)
        answer = ChatResponse(text, first_token_logprobs=pairs)
        score, how = yes_score(answer)
        return f"parsed ({how})" if score == score else how
    try:
        if kind == "listwise":
            parse_pair(text, N_CANDIDATES)
        else:
            parse_attributes(text, ("director",))
    except ValueError as exc:
        return rejection_kind(exc)
    return "parsed"


__all__ = ["KINDS", "N_CANDIDATES", "answer_outcome"]
