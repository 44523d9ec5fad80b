"""Offline tokenizers for the graph-aware transformer's word tokens.

`WordTokenizer` is built from the run's own item text (no download, no package): lower-cased words and
punctuation marks, those seen at least `min_count` times (capped at `max_vocab`, most frequent first),
the template words always in, everything else ``<unk>``. A GPT-2 checkpoint brings its own
byte-level BPE vocabulary instead (`gpt2_tokenizer`, read from the checkpoint folder by
`transformers`, lazily), since its word embeddings are indexed by it.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Protocol

SPECIALS = ("<pad>", "<unk>", "<eos>")
PAD, UNK, EOS = 0, 1, 2
_WORD = re.compile(r"[a-z0-9]+|[^\sa-z0-9]")


class Tokenizer(Protocol):
    """Text -> word-token ids below `size`."""

    size: int

    def encode(self, text: str) -> list[int]:
        """The ids of `text`'s tokens."""
        ...


def words(text: str) -> list[str]:
    """The word-level tokens of `text`: lower-cased runs of letters/digits and single punctuation marks."""
    return _WORD.findall(text.lower())


class WordTokenizer:
    """A word-level vocabulary built from a corpus; unknown words map to ``<unk>``."""

    def __init__(self, vocab: list[str]) -> None:
        if list(vocab[: len(SPECIALS)]) != list(SPECIALS):
            raise ValueError(f"a vocabulary starts with {SPECIALS}")
        self.vocab = list(vocab)
        self.index = {w: i for i, w in enumerate(self.vocab)}
        self.size = len(self.vocab)

    @classmethod
    def build(
        cls, texts: Iterable[str], always: Iterable[str] = (), min_count: int = 2, max_vocab: int = 8000
    ) -> WordTokenizer:
        """The vocabulary of `texts`: words seen >= `min_count` times, most frequent first (ties by
        spelling), at most `max_vocab` in all; the words of `always` (templates) are kept."""
        counts = Counter(w for text in texts for w in words(text))
        fixed = list(dict.fromkeys(w for text in always for w in words(text)))
        ranked = sorted((w for w, c in counts.items() if c >= min_count), key=lambda w: (-counts[w], w))
        room = max(max_vocab - len(SPECIALS) - len(fixed), 0)
        rest = [w for w in ranked if w not in set(fixed)][:room]
        return cls([*SPECIALS, *fixed, *rest])

    def encode(self, text: str) -> list[int]:
        """Token ids of `text` (``<unk>`` for words outside the vocabulary)."""
        return [self.index.get(w, UNK) for w in words(text)]


class _HFTokenizer:
    """A Hugging Face tokenizer behind the `Tokenizer` protocol."""

    def __init__(self, inner: object, size: int) -> None:
        self.inner, self.size = inner, size

    def encode(self, text: str) -> list[int]:
        """Token ids of `text` by the checkpoint's own tokenizer."""
        ids: list[int] = self.inner.encode(text)  # type: ignore[attr-defined]
        return ids


def gpt2_tokenizer(path: Path, vocab_rows: int) -> Tokenizer:
    """The byte-level BPE tokenizer of a local GPT-2 checkpoint folder, checked against its embedding
    rows (a mismatch is an error: the ids would index the wrong embeddings)."""
    try:
        from transformers import AutoTokenizer  # lazy: only a GPT-2 checkpoint needs it
    except ImportError as exc:
        raise ValueError("a GPT-2 checkpoint needs the `transformers` package for its tokenizer") from exc
    try:
        inner = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
    except (OSError, ValueError) as exc:
        raise ValueError(f"{path}: no tokenizer files a GPT-2 checkpoint needs ({exc})") from exc
    if len(inner) > vocab_rows:
        raise ValueError(
            f"{path}: tokenizer has {len(inner)} tokens but the checkpoint {vocab_rows} embeddings"
        )
    return _HFTokenizer(inner, vocab_rows)


__all__ = ["EOS", "PAD", "SPECIALS", "UNK", "Tokenizer", "WordTokenizer", "gpt2_tokenizer", "words"]
