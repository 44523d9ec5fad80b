"""The backend protocol: derived single-item helpers and batch collection over a tiny in-memory backend."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import pytest

from llmrec.llm import (
    Backend,
    ChatRequest,
    ChatResponse,
    EmbedRequest,
    EmbedResponse,
    Message,
    Outcome,
    RequestFailed,
    Sampling,
    Usage,
)
from llmrec.llm.errors import KeyRejected


class Upper(Backend):
    """Answers in reverse order of the batch; fails prompts 'bad'; stops the stage at 'stop'."""

    kind, model = "upper", "u"
    sampling = Sampling(0.0, 512)

    def __init__(self) -> None:
        self.yielded: list[int] = []

    def complete_batch(self, requests: Sequence[ChatRequest]) -> Iterator[Outcome[ChatResponse]]:
        for i in reversed(range(len(requests))):
            self.yielded.append(i)
            text = requests[i].messages[-1].content
            if text == "stop":
                yield Outcome(i, KeyRejected("mem://", "KEY", 401))
            elif text == "bad":
                yield Outcome(i, RequestFailed("bad prompt"))
            else:
                yield Outcome(i, ChatResponse(text.upper(), usage=Usage(1, 1)))

    def embed_batch(self, requests: Sequence[EmbedRequest]) -> Iterator[Outcome[EmbedResponse]]:
        for i, r in enumerate(requests):
            yield Outcome(i, EmbedResponse((float(len(r.text)),)))


def test_derived_helpers() -> None:
    backend = Upper()
    assert backend.complete("hi").text == "HI"
    assert backend.embed("four").vector == (4.0,)
    results = backend.complete_all([ChatRequest.of("a"), ChatRequest.of("bad"), ChatRequest.of("c")])
    assert [r.text if isinstance(r, ChatResponse) else "failed" for r in results] == ["A", "failed", "C"]
    with pytest.raises(RequestFailed, match="bad prompt"):
        backend.complete("bad")


def test_stage_error_is_raised_after_the_batch_is_drained() -> None:
    backend = Upper()
    with pytest.raises(KeyRejected):
        backend.complete_all([ChatRequest.of("x"), ChatRequest.of("stop"), ChatRequest.of("y")])
    assert backend.yielded == [2, 1, 0]  # "x" came after the error and was still consumed


def test_request_construction_and_round_trips() -> None:
    request = ChatRequest.of([{"role": "system", "content": "s"}, {"role": "user", "content": "u"}], "t/v1")
    assert request.messages == (Message("system", "s"), Message("user", "u"))
    assert request.message_dicts()[1] == {"role": "user", "content": "u"}
    assert Upper().resolved(request).sampling == Sampling(0.0, 512)
    explicit = ChatRequest.of("x", sampling=Sampling(0.5, 10, seed=3))
    assert Upper().resolved(explicit) is explicit
    reply = ChatResponse("t", "length", Usage(3, 4), "m")
    assert ChatResponse.from_dict(reply.to_dict()) == reply
    vector = EmbedResponse((0.5, 1.0), Usage(2, 0))
    assert EmbedResponse.from_dict(vector.to_dict()) == vector


def test_plain_forms_equal_dataclasses_asdict() -> None:
    """to_dict and the sampling key are written out by hand for speed: they must stay what
    `dataclasses.asdict` gives (cache keys and stored answers unchanged), field for field."""
    import dataclasses
    import json

    from llmrec.llm.base import _sampling_key

    answer = ChatResponse("yes", "length", Usage(3, 1), "m", (("yes", -0.1), ("no", -2.5)))
    by_hand, reference = answer.to_dict(), dataclasses.asdict(answer)
    assert json.dumps(by_hand, sort_keys=True) == json.dumps(reference, sort_keys=True)
    plain = dataclasses.asdict(ChatResponse("x"))
    del plain["first_token_logprobs"]
    assert ChatResponse("x").to_dict() == plain
    assert ChatResponse.from_dict(answer.to_dict()) == answer
    sampling = Sampling(0.7, 64, 0.9, 11, 5)
    assert _sampling_key(sampling) == dataclasses.asdict(sampling)
    assert EmbedResponse((0.5,), Usage(2, 0)).to_dict() == {
        "vector": [0.5], "usage": dataclasses.asdict(Usage(2, 0))
    }  # fmt: skip
