"""Reading OpenAI-shaped reply JSON, shared by the HTTP backend and llama-cpp-python (same shape)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from llmrec.llm.base import ChatResponse, Usage


def usage_from_json(data: Mapping[str, Any]) -> Usage:
    """Token usage of a reply; a server that does not report it counts as zero."""
    usage = data.get("usage") or {}
    return Usage(int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0))


def chat_from_json(data: Any, model: str) -> ChatResponse:
    """The first choice of a chat-completion reply; ValueError if the reply lacks one."""
    try:
        choice = data["choices"][0]
        text = choice["message"].get("content") or ""  # null content (a refusal) reads as empty
        finish = choice.get("finish_reason") or "stop"
        return ChatResponse(
            text, finish, usage_from_json(data), str(data.get("model") or model), first_token_logprobs(choice)
        )
    except (KeyError, IndexError, TypeError, AttributeError) as exc:
        raise ValueError(f"reply without choices[0].message ({type(exc).__name__})") from None


def first_token_logprobs(choice: Mapping[str, Any]) -> tuple[tuple[str, float], ...]:
    """(token, logprob) alternatives of a choice's first answer token, most likely first; () if absent.

    OpenAI, vLLM and llama.cpp's server put them at `logprobs.content[0].top_logprobs`; a server that
    returns only the chosen token's logprob gives that one pair.
    """
    try:
        first = ((choice.get("logprobs") or {}).get("content") or [])[0]
    except (TypeError, IndexError, AttributeError):
        return ()
    if not isinstance(first, Mapping):
        return ()
    alternatives = first.get("top_logprobs") or [first]
    pairs = []
    for alt in alternatives:
        try:
            pairs.append((str(alt["token"]), float(alt["logprob"])))
        except (KeyError, TypeError, ValueError):
            continue  # a malformed alternative says nothing; the others still count
    return tuple(sorted(pairs, key=lambda p: -p[1]))


def vectors_from_json(data: Any, n: int) -> list[tuple[float, ...]]:
    """The `n` embeddings of an embeddings reply, in input order; ValueError if any is missing."""
    try:
        by_index = {int(d["index"]): tuple(float(x) for x in d["embedding"]) for d in data["data"]}
        return [by_index[i] for i in range(n)]
    except (KeyError, IndexError, TypeError, ValueError) as exc:
        raise ValueError(f"reply without one embedding per input ({type(exc).__name__})") from None
