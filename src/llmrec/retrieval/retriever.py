"""ER2ALM's R(i_n): find an item's documents in a corpus by searching with its basic attributes.

A `Query` is built from an item's title, year and genres (`build_query`). Documents are indexed by
their title: BM25 over the normalised words of every title variant plus a year token, and a dense
index over sentence-encoder vectors of "Title (Year)". The two candidate lists are fused (`rrf` or
`sum`, `RetrieverConfig.fusion`) into one ranking of `Match`es.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from llmrec.encode import Encoder, VectorStore, encode_texts
from llmrec.errors import ConfigError
from llmrec.retrieval.bm25 import BM25Index
from llmrec.retrieval.corpus import Corpus
from llmrec.retrieval.dense import Backend, DenseIndex
from llmrec.retrieval.fusion import Fusion, rrf, score_sum
from llmrec.retrieval.text import display_title, split_year, title_parts, title_variants, tokenize

Mode = Literal["hybrid", "lexical", "dense"]


@dataclass(frozen=True)
class RetrieverConfig:
    """Knobs of the retrieval; the defaults are the measured choice (docs/er2alm.md, "Retrieval").

    mode: which indexes rank (hybrid = both, fused). fusion: 'rrf' or 'sum'. rrf_k: RRF's constant.
    lexical_weight: the lexical share of 'sum'. pool: candidates taken from each index before fusion.
    k1, b: BM25's. year_token: add 'y1995' to documents and queries, so the right year ranks a
    remake lower. dense_backend: 'auto' (FAISS when installed), 'faiss' or 'numpy'.
    """

    mode: Mode = "hybrid"
    fusion: Fusion = "sum"
    rrf_k: int = 60
    lexical_weight: float = 0.5
    pool: int = 50
    k1: float = 1.5
    b: float = 0.75
    year_token: bool = True
    dense_backend: Backend = "auto"

    def __post_init__(self) -> None:
        if self.mode not in ("hybrid", "lexical", "dense"):
            raise ConfigError(f"retrieval mode must be hybrid, lexical or dense, not {self.mode!r}")
        if self.fusion not in ("rrf", "sum"):
            raise ConfigError(f"fusion must be rrf or sum, not {self.fusion!r}")
        if not 0.0 <= self.lexical_weight <= 1.0:
            raise ConfigError(f"lexical_weight must be in [0, 1], not {self.lexical_weight}")
        if self.pool < 1:
            raise ConfigError(f"pool must be at least 1, not {self.pool}")


@dataclass(frozen=True)
class Query:
    """An item's basic attributes: title as written (year may still be in it), year, genres."""

    title: str
    year: int | None = None
    genres: tuple[str, ...] = ()


PLACEHOLDER_TITLES = frozenset({"unknown", ""})  # MovieLens' item 267 is titled "unknown"


def build_query(title: str, year: int | None = None, genres: str | Sequence[str] = ()) -> Query:
    """A Query; the year is taken from a trailing '(1995)' when not given, genres split on '|' or ','.

    A placeholder title ("unknown") becomes empty: such an item is searched for nothing.
    """
    rest, title_year = split_year(str(title))
    if rest.strip().lower() in PLACEHOLDER_TITLES:
        rest = ""
    if isinstance(genres, str):
        genres = [g for g in genres.replace(",", "|").split("|")]
    names = tuple(g.strip() for g in genres if g.strip() and g.strip() != "unknown")
    return Query(rest, year if year is not None else title_year, names)


@dataclass(frozen=True)
class Match:
    """One fused candidate: document position and id, its title and year, and the scores that ranked it.

    `lexical` / `dense` are None when that index did not return the document in its pool.
    """

    doc: int
    doc_id: str
    title: str
    year: int | None
    score: float
    lexical: float | None
    dense: float | None
    rank: int


def lexical_tokens(title: str, year: int | None, year_token: bool) -> list[str]:
    """BM25 tokens of a title: the words of all its variants (with duplicates), and 'y<year>'."""
    tokens = [t for part in title_parts(title) for t in tokenize(part)]
    if year_token and year is not None:
        tokens.append(f"y{year}")
    return tokens


def dense_text(title: str, year: int | None) -> str:
    """What the sentence encoder sees, on both sides: 'The Title (Alternate) (1995)'."""
    shown = display_title(title)
    return f"{shown} ({year})" if year is not None else shown


def search_key(corpus: Corpus, doc: int) -> str:
    """The text a document is found by: its title; a title-less corpus falls back to its first field."""
    if corpus.titles[doc]:
        return corpus.titles[doc]
    return next((values[doc] for values in corpus.fields.values() if values[doc]), corpus.ids[doc])


class Retriever:
    """Lexical and dense indexes over a corpus' titles; `search` returns fused matches per query."""

    def __init__(
        self,
        corpus: Corpus,
        encoder: Encoder | None = None,
        config: RetrieverConfig | None = None,
        store: VectorStore | None = None,
    ) -> None:
        self.corpus = corpus
        self.encoder = encoder
        self.config = config or RetrieverConfig()
        self.store = store
        if self.config.mode != "lexical" and encoder is None:
            raise ConfigError(f"retrieval mode {self.config.mode!r} needs a text encoder")
        keys = [search_key(corpus, d) for d in range(len(corpus))]
        self.forms = [title_variants(k) for k in keys]  # the gate compares titles with these
        cfg = self.config
        self.bm25: BM25Index | None = None
        self.dense: DenseIndex | None = None
        if cfg.mode != "dense":
            docs = [lexical_tokens(k, y, cfg.year_token) for k, y in zip(keys, corpus.years, strict=True)]
            self.bm25 = BM25Index(cfg.k1, cfg.b).fit(docs)
        if cfg.mode != "lexical":
            texts = [dense_text(k, y) for k, y in zip(keys, corpus.years, strict=True)]
            self.dense = DenseIndex(self._encode(texts), cfg.dense_backend)

    def _encode(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors of texts, through the vector store when there is one."""
        assert self.encoder is not None
        if self.store is not None:
            return encode_texts(texts, self.encoder, self.store)
        return self.encoder.encode(list(texts))

    def search(self, queries: Sequence[Query], k: int = 10) -> list[list[Match]]:
        """The k best fused matches per query, best first (fewer when the indexes find fewer)."""
        cfg = self.config
        pool = max(cfg.pool, k)
        empty = (np.full((len(queries), 0), -1, np.int64), np.zeros((len(queries), 0), np.float32))
        lex_docs, lex_scores = empty
        dense_docs, dense_scores = empty
        if self.bm25 is not None:
            tokens = [lexical_tokens(q.title, q.year, cfg.year_token) for q in queries]
            lex_scores, lex_docs = self.bm25.search(tokens, pool)
        if self.dense is not None:
            vectors = self._encode([dense_text(q.title, q.year) for q in queries])
            dense_scores, dense_docs = self.dense.search(vectors, pool)
        results = []
        for i in range(len(queries)):
            lexical = dict(zip(lex_docs[i].tolist(), lex_scores[i].tolist(), strict=True))
            dense = dict(zip(dense_docs[i].tolist(), dense_scores[i].tolist(), strict=True))
            if cfg.fusion == "rrf":
                fused = rrf([lex_docs[i], dense_docs[i]], cfg.rrf_k)
            else:
                fused = score_sum(
                    (lex_docs[i], lex_scores[i]), (dense_docs[i], dense_scores[i]), cfg.lexical_weight
                )
            if not queries[i].title.strip():
                fused = []  # an empty title matches nothing; the encoder's zero vector would tie everywhere
            results.append([self._match(d, s, lexical, dense, r + 1) for r, (d, s) in enumerate(fused[:k])])
        return results

    def _match(
        self, doc: int, score: float, lexical: dict[int, float], dense: dict[int, float], rank: int
    ) -> Match:
        """A Match for document `doc` with its fused and per-index scores."""
        c = self.corpus
        return Match(
            doc, c.ids[doc], c.titles[doc], c.years[doc], score, lexical.get(doc), dense.get(doc), rank
        )
