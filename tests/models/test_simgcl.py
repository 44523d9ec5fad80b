"""SimGCL's noise and encodings, checked against the definitions."""

import numpy as np
import torch

from llmrec.graph import build_graph
from llmrec.models.simgcl import SimGCL, sign_noise
from tests.models.test_contract import block_split


def test_sign_noise_has_norm_eps_and_the_embedding_sign() -> None:
    torch.manual_seed(0)
    x = torch.randn(50, 16)
    noise = sign_noise(x, 0.1)
    torch.testing.assert_close(noise.norm(dim=1), torch.full((50,), 0.1))
    assert torch.equal(torch.sign(noise), torch.sign(x))
    assert not torch.equal(noise, sign_noise(x, 0.1))  # a fresh draw each call


def test_clean_encoding_is_the_mean_of_layers_one_to_l() -> None:
    train, _ = block_split()
    graph = build_graph(train)
    torch.manual_seed(0)
    model = SimGCL(train.n_users, train.n_items, dim=4, n_layers=3)
    adj = torch.from_numpy(graph.adj.to_dense().numpy().astype(np.float64))
    h = torch.cat([model.user_emb.weight, model.item_emb.weight]).detach().double()
    total = torch.zeros_like(h)  # layer 0 is left out, as in the paper's code
    for _ in range(3):
        h = adj @ h
        total += h
    users, items = model.embed(graph)
    torch.testing.assert_close(torch.cat([users, items]).double(), total / 3, rtol=1e-5, atol=1e-7)


def test_views_are_perturbed_copies_of_the_clean_encoding() -> None:
    train, _ = block_split()
    graph = build_graph(train)
    torch.manual_seed(0)
    model = SimGCL(train.n_users, train.n_items, dim=4, n_layers=1, eps=0.1)
    ego = torch.cat([model.user_emb.weight, model.item_emb.weight])
    clean, view1, view2 = (model.encode(graph.adj, ego, perturbed) for perturbed in (False, True, True))
    # with one layer each view is A e + noise, so it differs from the clean one by exactly eps per row
    torch.testing.assert_close((view1 - clean).norm(dim=1), torch.full((48,), 0.1))
    assert not torch.equal(view1, view2)
