"""Lower is better for the rating task's errors: the best baseline and the report's bold cell."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from llmrec.report import _metric_cell
from llmrec.significance import higher_is_better
from llmrec.stages import best_of


@dataclass
class _Run:
    name: str
    metrics: dict[str, Any] = field(default_factory=dict)

    def valid_score(self, metric: str) -> float:
        return float(self.metrics["valid"][metric])


def test_the_best_baseline_has_the_lowest_error_and_the_highest_recall() -> None:
    runs = {
        "a": _Run("a", {"valid": {"rmse": 0.95, "recall@20": 0.30}}),
        "b": _Run("b", {"valid": {"rmse": 0.91, "recall@20": 0.20}}),
    }
    assert best_of(runs, "rmse") == "b"
    assert best_of(runs, "recall@20") == "a"
    assert not higher_is_better("rmse") and not higher_is_better("mae") and higher_is_better("ndcg@10")


def test_the_report_bolds_the_lowest_rmse() -> None:
    rivals = {"a": {"test": {"rmse": 0.95}}, "b": {"test": {"rmse": 0.91}}}
    assert _metric_cell({"rmse": 0.91}, {}, rivals["b"], "rmse", rivals).bold
    assert not _metric_cell({"rmse": 0.95}, {}, rivals["a"], "rmse", rivals).bold
    rivals = {"a": {"test": {"recall@20": 0.3}}, "b": {"test": {"recall@20": 0.2}}}
    assert _metric_cell({"recall@20": 0.3}, {}, rivals["a"], "recall@20", rivals).bold
