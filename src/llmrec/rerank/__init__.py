"""Llama4Rec's direct recommendation (Luo et al., arXiv 2401.13870): LLM listwise reranking of a
conventional model's candidates with prompt augmentation, adaptive aggregation of both rankings,
and LLM pair choices as augmented BPR triples. docs/llama4rec.md describes every part and choice.

Plain functions over values, in the order a recipe calls them:

    base_top = conventional_top(score, exclude, cfg.list_length)        # the conventional lists
    result = rerank_users(train, base_top, user_emb, cfg, texts, llm)  # llm=None: local reranker
    choice = choose_alpha(result.candidates, result.order, result.base_top, valid, n_train, cfg)
    lists = result.lists(n_train, choice.alpha1, choice.alpha2, cfg)   # -> evaluate_lists / report
    pairs = pair_augmentation(train, result.candidates, cfg, texts, llm)  # (u, i+, i-) triples
"""

from llmrec.rerank.aggregate import adaptive_alpha, aggregate, long_tail, merge_lists, utility
from llmrec.rerank.candidates import (
    NO_ITEM,
    NO_USER,
    candidate_lists,
    conventional_top,
    most_similar_users,
)
from llmrec.rerank.config import Llama4RecConfig
from llmrec.rerank.evaluation import AlphaChoice, choose_alpha, evaluate_lists, merged_lists, report
from llmrec.rerank.local import LOCAL_PAIRS, LOCAL_RERANKER, local_orders
from llmrec.rerank.pairs import PairResult, draw_pairs, pair_augmentation
from llmrec.rerank.parsers import parse_choice, parse_ranking, salvage_ranking
from llmrec.rerank.rerank import RerankResult, rerank_users
from llmrec.rerank.texts import ItemTexts, item_texts

__all__ = [
    "LOCAL_PAIRS",
    "LOCAL_RERANKER",
    "NO_ITEM",
    "NO_USER",
    "AlphaChoice",
    "ItemTexts",
    "Llama4RecConfig",
    "PairResult",
    "RerankResult",
    "adaptive_alpha",
    "aggregate",
    "candidate_lists",
    "choose_alpha",
    "conventional_top",
    "draw_pairs",
    "evaluate_lists",
    "item_texts",
    "local_orders",
    "long_tail",
    "merge_lists",
    "merged_lists",
    "most_similar_users",
    "pair_augmentation",
    "parse_choice",
    "parse_ranking",
    "rerank_users",
    "report",
    "salvage_ranking",
    "utility",
]
