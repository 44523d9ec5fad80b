"""The graph-aware transformer: tied heads, the relation bias, causality, and GPT-2 weights."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from llmrec.models.graph_transformer import GraphTransformer, GraphTransformerConfig, gpt2_state

CFG = GraphTransformerConfig(n_layers=2, dim=16, n_heads=2, context=12, dropout=0.0, n_relations=3)


def _model(cfg: GraphTransformerConfig = CFG) -> GraphTransformer:
    torch.manual_seed(0)
    return GraphTransformer(vocab=10, n_users=3, n_items=5, cfg=cfg).eval()


def test_tied_heads_shapes_and_values() -> None:
    model = _model()
    tokens = torch.tensor([[10, 1, 2, 13, 14, 0]])  # user 0, two words, items 0 and 1, pad
    hidden = model(tokens, torch.tensor([5]))
    assert hidden.shape == (1, 6, 16)
    items = model.item_logits(hidden)
    assert items.shape == (1, 6, 5)  # every item scored
    assert torch.allclose(items, hidden @ model.item_emb.weight.T)
    assert model.word_logits(hidden).shape == (1, 6, 10)
    items[0, -1, 2].backward()
    assert model.item_emb.weight.grad is not None and model.item_emb.weight.grad[2].abs().sum() > 0


def test_token_tables() -> None:
    model = _model()
    tokens = torch.tensor([[3, 11, 14]])  # word 3, user 1, item 1
    collab = model.embed_tokens(tokens)
    content = model.embed_tokens(tokens, content=True)
    assert torch.equal(collab[0, 0], model.wte.weight[3]) and torch.equal(content[0, 0], model.wte.weight[3])
    assert torch.equal(collab[0, 1], model.user_emb.weight[1])
    assert torch.equal(content[0, 2], model.content_item_emb.weight[1])


def test_mutual_gap_by_hand() -> None:
    model = _model()
    with torch.no_grad():
        model.user_emb.weight.zero_()
        model.content_user_emb.weight.zero_()
        model.item_emb.weight.zero_()
        model.content_item_emb.weight.zero_()
        model.user_emb.weight[0, 0] = 3.0  # gap 9
        model.content_item_emb.weight[2, :2] = 1.0  # gap 2
    gap = model.mutual_gap(torch.tensor([0]), torch.tensor([2, 3]))
    assert gap.item() == pytest.approx((9 + 2 + 0) / 3)


def test_relation_bias_causality_and_padding() -> None:
    model = _model()
    tokens = torch.tensor([[10, 13, 14, 15, 0, 0]])
    lengths = torch.tensor([4])
    rel = torch.zeros(1, 3, 6, 6)
    rel[0, 2, 1, 2] = rel[0, 2, 2, 1] = 1.0
    plain = model(tokens, lengths)
    assert torch.allclose(model(tokens, lengths, rel), plain)  # scales start at zero
    with torch.no_grad():
        model.blocks[0].attn.rel_scale[:, 2] = 5.0
    biased = model(tokens, lengths, rel)
    assert torch.allclose(biased[0, :2], plain[0, :2], atol=1e-6)  # position 1 cannot see position 2
    assert not torch.allclose(biased[0, 2], plain[0, 2])
    # later tokens and padding change nothing before them
    other = tokens.clone()
    other[0, 3], other[0, 4] = 16, 7
    assert torch.allclose(model(other, lengths, rel)[0, :3], biased[0, :3], atol=1e-6)
    off = _model(GraphTransformerConfig(2, 16, 2, 12, 0.0, n_relations=0))
    assert torch.allclose(off(tokens, lengths, rel), off(tokens, lengths))  # no graph bias
    with pytest.raises(ValueError, match="exceeds the context"):
        model(torch.zeros(1, 13, dtype=torch.long), torch.tensor([13]))


def _tiny_gpt2(path: Path, n_embd: int = 16) -> torch.nn.Module:
    transformers = pytest.importorskip("transformers")
    config = transformers.GPT2Config(vocab_size=10, n_positions=16, n_embd=n_embd, n_layer=2, n_head=2)
    torch.manual_seed(1)
    hf = transformers.GPT2LMHeadModel(config).eval()
    hf.save_pretrained(path)
    return hf


def test_gpt2_weights_match_transformers(tmp_path: Path) -> None:
    """Loaded into our transformer, a GPT-2 checkpoint gives the hidden states transformers computes."""
    hf = _tiny_gpt2(tmp_path)
    state, rows = gpt2_state(tmp_path, CFG)
    assert rows == 10
    ours = _model()
    ours.load_state_dict(state, strict=False)
    tokens = torch.tensor([[1, 5, 2, 9, 4]])
    expected = hf.transformer(tokens).last_hidden_state
    assert torch.allclose(ours(tokens, torch.tensor([5])), expected, atol=1e-5)


def test_bad_checkpoints(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no config.json"):
        gpt2_state(tmp_path, CFG)
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "bert", "hidden_size": 16}))
    with pytest.raises(ValueError, match="'bert' is not a GPT-2-family"):
        gpt2_state(tmp_path, CFG)
    wide = tmp_path / "wide"
    _tiny_gpt2(wide, n_embd=32)
    with pytest.raises(ValueError, match="dim 32 != configured 16"):
        gpt2_state(wide, CFG)
