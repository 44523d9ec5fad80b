"""ER2ALM's retrieval (R and A of its Eq. 1): item-knowledge corpora, BM25 + dense search, a trust gate.

    corpus = load_corpus("movielens100k_details.csv", IMDB_DETAILS)
    retriever = Retriever(corpus, SentenceEncoder())
    result = retrieve_items(dataset.item_meta, retriever, GateConfig())
    result.texts()  # item -> accepted passage, for the attribute prompt; result.audit counts outcomes

docs/er2alm.md ("Retrieval") describes the corpus format, the knobs and the measured numbers.
"""

from llmrec.retrieval.bm25 import BM25Index
from llmrec.retrieval.corpus import IMDB_DETAILS, MELU, Corpus, CorpusSpec, CorpusStats, load_corpus
from llmrec.retrieval.dense import DenseIndex, faiss_available
from llmrec.retrieval.fusion import rrf, score_sum
from llmrec.retrieval.gate import Decision, GateConfig, RetrievalResult, judge, retrieve_items
from llmrec.retrieval.retriever import Match, Query, Retriever, RetrieverConfig, build_query

__all__ = [
    "IMDB_DETAILS",
    "MELU",
    "BM25Index",
    "Corpus",
    "CorpusSpec",
    "CorpusStats",
    "Decision",
    "DenseIndex",
    "GateConfig",
    "Match",
    "Query",
    "RetrievalResult",
    "Retriever",
    "RetrieverConfig",
    "build_query",
    "faiss_available",
    "judge",
    "load_corpus",
    "retrieve_items",
    "rrf",
    "score_sum",
]
