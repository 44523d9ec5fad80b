"""Text encoding: the vector cache, identical texts encoded once, the real MiniLM model, LLM embeddings."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from llmrec import encode as encmod
from llmrec.encode import (
    EncodeError,
    EncodeStats,
    LLMEncoder,
    SentenceEncoder,
    VectorStore,
    encode_texts,
    model_path,
    vector_key,
)
from llmrec.llm import LLMConfig, open_llm
from llmrec.llm.testing import FakeOpenAIServer, http_error


class Counting:
    """A fake encoder: the vector of a text is (len, number of spaces, 1); it records every call."""

    id = "counting"

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        self.calls.append(list(texts))
        return np.array([[len(t), t.count(" "), 1.0] for t in texts], dtype=np.float32)


def test_store_round_trip(tmp_path: Path) -> None:
    store = VectorStore(tmp_path / "v.sqlite")
    store.put_many({"a": np.array([1.0, 2.0], np.float32)})
    store.put_many({"a": np.array([9.0, 9.0], np.float32), "b": np.array([3.0], np.float32)})  # first wins
    found = store.get_many(["a", "b", "c"])
    assert found["a"].tolist() == [1.0, 2.0] and found["b"].tolist() == [3.0] and "c" not in found
    assert len(store) == 2
    store.close()


def test_each_distinct_text_encoded_once_and_cached(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(encmod, "STORE_CHUNK", 2)  # several chunks, each stored as it is done
    store, encoder, stats = VectorStore(tmp_path / "v.sqlite"), Counting(), EncodeStats()
    texts = ["a b", "ccc", "a b", "", "dddd e", "f"]
    vectors = encode_texts(texts, encoder, store, stats)
    assert vectors.tolist() == [[3, 1, 1], [3, 0, 1], [3, 1, 1], [0, 0, 0], [6, 1, 1], [1, 0, 1]]
    assert sorted(t for call in encoder.calls for t in call) == ["a b", "ccc", "dddd e", "f"]
    assert all(len(call) <= 2 for call in encoder.calls)
    assert (stats.texts, stats.unique, stats.cached, stats.encoded) == (6, 4, 0, 4)

    encoder2, stats2 = Counting(), EncodeStats()
    again = encode_texts(texts, encoder2, store, stats2)
    assert again.tolist() == vectors.tolist() and (stats2.encoded, stats2.cached) == (0, 4)
    assert not encoder2.calls
    assert encode_texts(["", ""], Counting(), store, dim=3).tolist() == [[0, 0, 0], [0, 0, 0]]
    with pytest.raises(EncodeError, match="no vector size"):
        encode_texts([""], Counting(), store)


def test_cache_key_covers_model_and_text() -> None:
    assert vector_key("m", "text") != vector_key("n", "text") != vector_key("m", "text ")
    assert vector_key("m", "text") == vector_key("m", "text")


def test_minilm_spellings_share_one_id() -> None:
    assert SentenceEncoder("all-MiniLM-L6-v2").id == SentenceEncoder(encmod.MINILM).id
    assert Path(model_path("all-MiniLM-L6-v2")).joinpath("model.safetensors").is_file()  # the bundled copy


def test_real_minilm_vectors(tmp_path: Path) -> None:
    store, stats = VectorStore(tmp_path / "v.sqlite"), EncodeStats()
    texts = ["a film about space travel", "a film about space travel", "a romantic comedy in Paris", ""]
    vectors = encode_texts(texts, SentenceEncoder(), store, stats)
    assert vectors.shape == (4, 384) and vectors.dtype == np.float32
    assert np.array_equal(vectors[0], vectors[1]) and not vectors[3].any()
    assert np.linalg.norm(vectors[:3], axis=1) == pytest.approx([1.0, 1.0, 1.0], abs=1e-5)
    assert stats.encoded == 2
    second = EncodeStats()
    assert np.array_equal(encode_texts(texts, SentenceEncoder(), store, second), vectors)
    assert second.encoded == 0 and second.cached == 2


def test_llm_embeddings(tmp_path: Path) -> None:
    with FakeOpenAIServer(embed_dim=4) as server:
        cfg = LLMConfig(base_url=server.url, embedding_model="e", cache_path=str(tmp_path / "c.sqlite"))
        llm = open_llm(cfg, {})
        encoder = LLMEncoder(llm)
        vectors = encoder.encode(["x", "y"])
        assert encoder.id == "llm:openai:e" and vectors.shape == (2, 4)
        assert np.linalg.norm(vectors, axis=1) == pytest.approx([1.0, 1.0])
        server.fail_always(http_error(400))
        with pytest.raises(EncodeError, match="1 of 1 texts could not be embedded"):
            encoder.encode(["z"])
        llm.close()
