"""Llama4RecConfig refuses values that cannot work, naming the key."""

from __future__ import annotations

import pytest

from llmrec.errors import ConfigError
from llmrec.rerank import Llama4RecConfig


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"n_candidates": 1}, "n_candidates"),
        ({"history_items": 0}, "history_items"),
        ({"similar_items": -1}, "similar_items"),
        ({"utility": "softmax"}, "unknown utility"),
        ({"alpha1": 1.5}, r"\[0, 1\]"),
        ({"alpha_grid": (0.1, -0.1)}, r"\[0, 1\]"),
        ({"alpha_grid": ()}, "alpha_grid"),
        ({"select_metric": "ndcg5"}, "select_metric"),
        ({"select_metric": "auc@5"}, "select_metric"),
        ({"ks": (0, 5)}, "ks"),
        ({"activity_groups": 0}, "activity_groups"),
        ({"local_similar_weight": -1.0}, "local_similar_weight"),
        ({"alpha_cutoff": "below"}, "alpha_cutoff"),
        ({"pair_source": "popular"}, "pair_source"),
    ],
)
def test_invalid_values(changes: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Llama4RecConfig(**changes)  # type: ignore[arg-type]


def test_list_length_covers_candidates_and_cut_offs() -> None:
    assert Llama4RecConfig().list_length == 20
    assert Llama4RecConfig(n_candidates=10, ks=(3, 5), select_metric="ndcg@5").list_length == 10
    assert Llama4RecConfig(n_candidates=10, ks=(3, 50)).list_length == 50
