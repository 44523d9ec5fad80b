"""SimGCL's noise and encodings, checked against the definitions."""

import numpy as np
import pytest
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
    clean, view1, view2 = model.encodings(graph.adj, ego)
    # with one layer each view is A e + noise, so it differs from the clean one by exactly eps per row
    torch.testing.assert_close((view1 - clean).norm(dim=1), torch.full((48,), 0.1))
    assert not torch.equal(view1, view2)


def test_loss_and_gradient_match_the_definition_with_three_separate_encodings() -> None:
    """The step shares the first sparse product among the clean encoding and both views; rebuilt here
    with a dense adjacency, each encoding propagated on its own, the same noise draws and textbook
    BPR, L2 and InfoNCE, the loss and the embeddings' gradient must be the same."""
    train, _ = block_split()
    graph = build_graph(train)
    n_users, eps, tau, weight, reg = train.n_users, 0.1, 0.2, 0.5, 1e-2
    torch.manual_seed(0)
    model = SimGCL(n_users, train.n_items, 4, 3, reg=reg, ssl_weight=weight, ssl_temp=tau, eps=eps)
    users, pos = torch.tensor([0, 3, 3, 9, 17]), torch.tensor([1, 2, 5, 8, 16])
    neg = torch.tensor([9, 20, 0, 1, 2])
    torch.manual_seed(1)
    model.loss((users, pos, neg), graph).backward()
    got = torch.cat([model.user_emb.weight.grad, model.item_emb.weight.grad])

    adj = graph.adj.to_dense()
    ego = torch.cat([model.user_emb.weight, model.item_emb.weight]).detach().clone().requires_grad_()
    torch.manual_seed(1)  # the views draw their noise in this order: view 1 layers 1-3, then view 2

    def encoding(perturbed: bool) -> torch.Tensor:
        h, total = ego, torch.zeros_like(ego)
        for _ in range(3):
            h = adj @ h
            if perturbed:
                r = torch.rand(h.shape)
                h = h + eps * r / r.norm(dim=1, keepdim=True) * torch.sign(h.detach())
            total = total + h
        return total / 3

    clean, view1, view2 = encoding(False), encoding(True), encoding(True)
    u, p, n = clean[users], clean[n_users + pos], clean[n_users + neg]
    bpr = -torch.nn.functional.logsigmoid((u * p).sum(1) - (u * n).sum(1)).mean()
    l2 = (ego[users].pow(2).sum() + ego[n_users + pos].pow(2).sum() + ego[n_users + neg].pow(2).sum()) / 10
    ssl = torch.zeros(())
    for nodes in (torch.unique(users), n_users + torch.unique(pos)):
        z1 = torch.nn.functional.normalize(view1[nodes], dim=1)
        z2 = torch.nn.functional.normalize(view2[nodes], dim=1)
        ssl = ssl + torch.nn.functional.cross_entropy(z1 @ z2.T / tau, torch.arange(len(nodes)))
    expected = bpr + reg * l2 + weight * ssl
    expected.backward()

    torch.manual_seed(1)
    torch.testing.assert_close(model.loss((users, pos, neg), graph), expected.detach(), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(got, ego.grad, rtol=1e-4, atol=1e-6)


def test_xavier_init_is_the_authors_scale_and_normal_is_lightgcns() -> None:
    torch.manual_seed(0)
    xavier = SimGCL(3000, 1000, dim=64, init="xavier")
    for table, rows in ((xavier.user_emb.weight, 3000), (xavier.item_emb.weight, 1000)):
        bound = (6 / (rows + 64)) ** 0.5  # Glorot & Bengio's uniform limit for a rows x 64 matrix
        assert table.abs().max() <= bound
        assert abs(table.std().item() - bound / 3**0.5) < 0.02 * bound  # U(-b, b) has std b / sqrt(3)
    torch.manual_seed(0)
    normal = SimGCL(3000, 1000, dim=64)
    assert abs(normal.user_emb.weight.std().item() - 0.1) < 0.002
    with pytest.raises(ValueError, match="'normal' or 'xavier'"):
        SimGCL(3, 4, init="uniform")
