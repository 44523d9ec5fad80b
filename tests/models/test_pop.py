"""MostPop: item counts of the training edges, the same ranking for everyone, refitted from edges."""

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from llmrec.models import MostPop


def test_scores_are_training_counts_for_every_user() -> None:
    # items 0..3; item 2 has three users, item 0 two, item 3 one, item 1 none; a repeated edge counts once
    edges = sp.csr_matrix(
        (np.ones(7), ([0, 0, 1, 1, 2, 2, 2], [0, 2, 0, 2, 2, 3, 3])), shape=(3, 4), dtype=np.float32
    )
    model = MostPop(3, 4).fit(edges)
    scores = model.score(torch.tensor([2, 0]))
    torch.testing.assert_close(scores, torch.tensor([[2.0, 0.0, 3.0, 1.0]] * 2))
    assert scores.data_ptr() != model.counts_.data_ptr()  # callers mask seen items in place
    assert dict(model.state_dict()) == {}  # nothing learned: a saved run refits it from its edges


def test_refuses_to_score_before_fit_and_a_wrong_shape() -> None:
    model = MostPop(3, 4)
    with pytest.raises(RuntimeError, match="before fit"):
        model.score(torch.tensor([0]))
    with pytest.raises(ValueError, match=r"expected a \(3, 4\) matrix"):
        model.fit(sp.csr_matrix((2, 4)))
