"""The graph-aware transformer recommender (arXiv 2402.09617): tokenizer, prompts, data and training.

docs/graph_transformer.md describes the construction; `methods/graph_transformer.py` is its recipe.
"""
