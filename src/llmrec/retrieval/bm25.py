"""Okapi BM25 over pre-tokenised documents as one sparse matrix product.

score(q, d) = sum over distinct terms t of q of  idf(t) * tf(t, d) * (k1 + 1) / (tf(t, d) + k1 * norm(d)),
norm(d) = 1 - b + b * |d| / avgdl,  idf(t) = ln(1 + (N - df(t) + 0.5) / (df(t) + 0.5))  (Lucene's
non-negative idf). The per-(term, document) weights are computed once at `fit`, so a batch of queries
is a binary query matrix times the weight matrix. A query term counts once however often it occurs:
a query lists a title's variants, which repeat words.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp

QUERY_BATCH = 1024  # queries scored densely at a time: 1024 x n_docs float32


class BM25Index:
    """BM25 with parameters k1 (term-frequency saturation) and b (length normalisation)."""

    def __init__(self, k1: float = 1.5, b: float = 0.75) -> None:
        self.k1 = k1
        self.b = b

    def fit(self, docs: Sequence[Sequence[str]]) -> BM25Index:
        """Index tokenised documents; returns self."""
        vocab: dict[str, int] = {}
        rows: list[int] = []
        cols: list[int] = []
        for d, tokens in enumerate(docs):
            for t in tokens:
                rows.append(d)
                cols.append(vocab.setdefault(t, len(vocab)))
        n_docs = len(docs)
        ones = np.ones(len(rows), dtype=np.float64)
        tf = sp.csr_matrix((ones, (rows, cols)), shape=(n_docs, len(vocab)))  # duplicates are summed
        lengths = np.asarray(tf.sum(axis=1)).ravel()
        avgdl = lengths.mean() if n_docs and lengths.mean() > 0 else 1.0
        df = np.bincount(tf.indices, minlength=len(vocab))
        self.idf_ = np.log1p((n_docs - df + 0.5) / (df + 0.5))
        norm = 1.0 - self.b + self.b * lengths / avgdl
        tf = tf.tocoo()
        weight = self.idf_[tf.col] * tf.data * (self.k1 + 1) / (tf.data + self.k1 * norm[tf.row])
        self.weights_ = sp.csr_matrix((weight, (tf.row, tf.col)), shape=tf.shape).T.tocsr().astype(np.float32)
        self.vocab_ = vocab
        self.n_docs_ = n_docs
        return self

    def scores(self, queries: Sequence[Sequence[str]]) -> np.ndarray:
        """[len(queries), n_docs] BM25 scores (dense; meant for batches of up to QUERY_BATCH)."""
        rows: list[int] = []
        cols: list[int] = []
        for q, tokens in enumerate(queries):
            for t in set(tokens):
                if t in self.vocab_:
                    rows.append(q)
                    cols.append(self.vocab_[t])
        query = sp.csr_matrix(
            (np.ones(len(rows), dtype=np.float32), (rows, cols)), shape=(len(queries), len(self.vocab_))
        )
        return np.asarray((query @ self.weights_).todense(), dtype=np.float32)

    def search(self, queries: Sequence[Sequence[str]], k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-k (scores, doc indices) per query, best first; documents scoring 0 are left out (-1)."""
        k = min(k, self.n_docs_)
        all_scores = np.zeros((len(queries), k), dtype=np.float32)
        all_docs = np.full((len(queries), k), -1, dtype=np.int64)
        for start in range(0, len(queries), QUERY_BATCH):
            block = self.scores(queries[start : start + QUERY_BATCH])
            scores, docs = top_k(block, k)
            docs[scores <= 0] = -1  # no shared term: not a candidate at all
            all_scores[start : start + len(block)] = scores
            all_docs[start : start + len(block)] = docs
        return all_scores, all_docs


def top_k(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The k best columns of each row, best first; ties go to the lower column index."""
    n_rows, n_cols = scores.shape
    k = min(k, n_cols)
    if k <= 0:
        return np.zeros((n_rows, 0), scores.dtype), np.zeros((n_rows, 0), np.int64)
    if k < n_cols:  # a partition keeps the cost linear in the number of documents
        cand = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    else:
        cand = np.tile(np.arange(n_cols), (n_rows, 1))
    cand_scores = np.take_along_axis(scores, cand, axis=1)
    order = np.lexsort((cand, -cand_scores), axis=-1)
    docs = np.take_along_axis(cand, order, axis=1).astype(np.int64)
    if k < n_cols:
        # the partition breaks ties at the k-th place arbitrarily: redo those rows with a stable sort
        kth = np.take_along_axis(scores, docs[:, -1:], axis=1)
        for row in np.flatnonzero((scores >= kth).sum(axis=1) > k):
            docs[row] = np.argsort(-scores[row], kind="stable")[:k]
    return np.take_along_axis(scores, docs, axis=1), docs
