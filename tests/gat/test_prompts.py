"""Prompts, truncation and masking of the graph-aware transformer, checked by hand."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import torch

from llmrec.gat.config import GatConfig
from llmrec.gat.data import build_data, shared_groups, with_attributes
from llmrec.gat.prompts import IGNORE, TEXT_FIELDS, collate, field_text, text_fields
from llmrec.gat.tokenizer import UNK, WordTokenizer
from llmrec.gat.training import personal_batch
from llmrec.graph_relations import CHANNELS

# 3 users x 6 items: u0 {0,1,2,3}, u1 {4}, u2 {} (an empty history)
TRAIN = sp.csr_matrix((np.ones(5, np.float32), ([0, 0, 0, 0, 1], [0, 1, 2, 3, 4])), shape=(3, 6))
META = pd.DataFrame(
    {
        "title": [f"film {i}" for i in range(6)],
        "year": [2000] * 6,
        "genres": ["drama|comedy", "drama", "comedy", "", "drama", ""],
        "director": ["ann", "bob", "ann", "", "", ""],
    }
)
# context 12: personal prompts hold 12 - 2 - 3 - 3 = 4 items
CFG = GatConfig(n_layers=1, dim=8, n_heads=2, context=12, min_word_count=1, text_tokens=8)


def test_tokenizer() -> None:
    tok = WordTokenizer.build(["b a a c", "a b"], always=["zz top"], min_count=2)
    assert tok.vocab == ["<pad>", "<unk>", "<eos>", "zz", "top", "a", "b"]  # templates, then by count
    assert tok.encode("A b, c!") == [5, 6, UNK, UNK, UNK]


def test_prompt_tokens_targets_and_counts() -> None:
    data = build_data(TRAIN, META, CFG, seed=0)
    b, v = data.builder, data.builder.tok.size
    assert (
        b.max_items == 4 and data.counts["empty_histories"] == 1 and data.counts["truncated_histories"] == 0
    )
    p = b.collaborative(0, np.array([2, 0]))
    history = b.tok.encode("has interacted with")
    assert p.tokens.tolist() == [v + 0, *history, v + 3 + 2, v + 3 + 0]
    # the last template word predicts item 2, item 2 predicts item 0; nothing else is a target
    assert p.targets.tolist() == [IGNORE, IGNORE, IGNORE, 2, 0, IGNORE]
    assert p.node_at.tolist() == [0, -1, -1, -1, 1, 2]
    text = b.item_text(1, META.iloc[1], max_words=8)
    assert text is not None and text.content and text.tokens[0] == v + 3 + 1
    assert text.targets[:-1].tolist() == text.tokens[1:].tolist() and len(text.tokens) == 9
    # second order: ann directs items 0 and 2; drama holds 0, 1, 4 (groups need two items)
    groups = {(a, val): items.tolist() for a, val, items in shared_groups(META)}
    assert groups[("director", "ann")] == [0, 2] and groups[("genre", "drama")] == [0, 1, 4]
    assert ("director", "bob") not in groups


def test_collate_places_relations_on_graph_positions() -> None:
    data = build_data(TRAIN, META, CFG, seed=0)
    p = data.builder.personal(0, np.array([1, 3]), data.relations(0, np.array([1, 3])))
    batch = collate([p])
    co = CHANNELS.index("cooccurrence")
    # positions: 0 user, 1-3 words, 4 item 1, 5 item 3, 6 user again, 7-9 words
    assert batch.rel[0, 0, 0, 4] == 1.0 and batch.rel[0, 0, 6, 5] == 1.0  # the user token twice, one node
    assert batch.rel[0, co, 4, 5] == pytest.approx(1.0)  # items 1 and 3 share their one user
    assert batch.rel[0, :, 1:4].abs().sum() == 0  # words carry no relation
    assert batch.rel[0, 0, 0, 6] == 0.0  # a node with itself
    assert torch.equal(collate([p], zero_relations=[co]).rel[0, co], torch.zeros(10, 10))


def test_masking_and_targets() -> None:
    data = build_data(TRAIN, META, CFG, seed=0)
    rng = np.random.default_rng(3)
    batch, targets = personal_batch(data, [0, 1], rng, (), mask_ratio=0.25)
    v = data.builder.tok.size
    items0 = batch.tokens[0][batch.tokens[0] >= v + 3] - v - 3
    # u0: 4 items, a quarter (one) hidden and predicted; the rest in the prompt
    assert len(items0) == 3 and targets[0].sum() == 1
    assert set(items0.tolist()) | {int(targets[0].argmax())} == {0, 1, 2, 3}
    # u1 has one item: it is hidden (at least one is), the prompt's history is empty
    assert targets[1].tolist() == [0, 0, 0, 0, 1, 0]
    assert int(batch.lengths[1]) == 2 + 3 + 3
    # evaluation prompts: the fixed history, no targets; an empty history still makes a prompt
    batch, targets = personal_batch(data, [2], None, ())
    assert int(batch.lengths[0]) == 8 and targets.sum() == 0


def test_truncation_rule_is_counted() -> None:
    many = sp.csr_matrix(np.ones((2, 6), np.float32))  # 6 items > room for 4
    data = build_data(many, None, CFG, seed=0)
    assert data.counts["truncated_histories"] == 2 and len(data.eval_history[0]) == 4
    rng = np.random.default_rng(0)
    batch, targets = personal_batch(data, [0], rng, (), mask_ratio=0.25)
    # 2 of 6 hidden (round(1.5) = 2), 4 kept: the rest of the history is a target
    assert targets[0].sum() == 2 and int(batch.lengths[0]) == 8 + 4


def test_bad_checkpoints_are_config_errors(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from llmrec.errors import ConfigError
    from llmrec.gat.data import make_tokenizer

    with pytest.raises(ConfigError, match="is not a folder"):
        GatConfig(checkpoint=str(tmp_path / "missing"))
    (tmp_path / "config.json").write_text('{"model_type": "llama"}')
    with pytest.raises(ConfigError, match="checkpoint: .*'llama' is not a GPT-2-family checkpoint"):
        make_tokenizer(GatConfig(checkpoint=str(tmp_path)), None)


def test_generated_attributes_fill_only_what_the_dataset_lacks() -> None:
    attributes = pd.DataFrame(
        {
            "item_id": ["i0", "i1", "i3", "i9"],  # i9 is not in the catalogue
            "director": ["zed", "", "cy", "nobody"],
            "director_source": ["llm"] * 4,
            "country": ["France", "Unknown", "Japan", "Peru"],
            "teacher": ["local"] * 4,
        }
    )
    ids = [f"i{i}" for i in range(6)]
    meta, filled = with_attributes(META, attributes, ids)
    # item 0 keeps its own director "ann"; item 3 had none and gets "cy"; "Unknown" is no value
    assert meta["director"].tolist() == ["ann", "bob", "ann", "cy", "", ""]
    assert [field_text(v) for v in meta["country"]] == ["France", "", "", "Japan", "", ""]
    assert filled == {"director": 1, "country": 2}
    assert "director_source" not in meta and "teacher" not in meta and META["director"].iloc[3] == ""
    assert text_fields(META.columns) == TEXT_FIELDS  # nothing generated: the prompts are as before
    assert text_fields(meta.columns) == (*TEXT_FIELDS[:-1], "country", "plot")
    data = build_data(TRAIN, meta, dataclasses.replace(CFG, context=40), seed=0)
    tok = data.builder.tok
    assert "country" in tok.vocab and "france" in tok.vocab
    text = data.builder.item_text(0, meta.iloc[0], max_words=38)
    assert text is not None
    tail = tok.encode("director : ann . country : france .")  # country after director, before a plot
    assert text.tokens[1:].tolist()[-len(tail) :] == tail
