"""Training-loop policies that are not covered by the model contract tests."""

from llmrec.train import SINGLE_THREAD_EDGES, choose_threads


def test_thread_choice() -> None:
    assert choose_threads(3, 10) == 3  # an explicit request wins
    assert choose_threads(0, SINGLE_THREAD_EDGES - 1) == 1  # small data: no OpenMP team to wait on
    assert choose_threads(0, SINGLE_THREAD_EDGES) >= 1
