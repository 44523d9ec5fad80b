"""LoRA instruction tuning of a local Hugging Face causal LM on chat-format JSONL.

Each example is rendered with the model's own chat template, the way a server such as vLLM renders
a chat request, or, for a tokenizer without one, as plain "role: content" lines ending in
"assistant: " (the answer then ends in the end-of-sequence token). The loss covers the assistant
turns only: the model learns to answer llmrec's prompts, not to predict them. Pieces are tokenised
one by one, without special tokens beyond what the template writes, so the prompt tokens are those a
server feeds and the answer tokens those it generates. What is written is a peft adapter
(adapter_config.json + adapter_model.safetensors) that vLLM (`--enable-lora`) or llama.cpp (after
its `convert_lora_to_gguf.py`) loads onto the unchanged base model; no token is added to the
vocabulary, since an adapter that resizes embeddings is refused by both.

torch, transformers and peft are imported inside the functions that use them.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from llmrec.atomic import FILE_MODE, write_json
from llmrec.errors import ConfigError, DataError, TrainingError

log = logging.getLogger("llmrec")
ROLES = ("system", "user", "assistant")
IGNORE = -100  # the label torch's cross-entropy skips: prompt tokens and padding
LOG_FILE = "training_log.json"

Messages = list[dict[str, str]]


@dataclass(frozen=True)
class TuneConfig:
    """LoRA and optimiser settings; the defaults are the usual ones for 7B-class models."""

    epochs: int = 3
    lr: float = 2e-4  # AdamW, constant
    rank: int = 16  # LoRA rank r (vLLM's --max-lora-rank must be at least this)
    alpha: int = 32  # LoRA scale alpha / r
    dropout: float = 0.05  # on the LoRA input
    max_length: int = 2048  # tokens; longer examples are skipped and counted, never cut
    batch_size: int = 4
    # "all-linear": every linear layer but the output head, written out as their short names (q_proj,
    # v_proj, ...), the form vLLM and llama.cpp's converter read; or a comma-separated list of names
    target_modules: str = "all-linear"
    seed: int = 2024  # LoRA initialisation and the order of examples in each epoch

    def __post_init__(self) -> None:
        for name in ("epochs", "rank", "max_length", "batch_size"):
            if getattr(self, name) < 1:
                raise ConfigError(f"instruct tune: --{name.replace('_', '-')} must be at least 1")
        if not self.lr > 0 or not self.alpha > 0 or not 0 <= self.dropout < 1:
            raise ConfigError("instruct tune: --lr and --alpha must be positive, dropout in [0, 1)")


@dataclass
class TuneResult:
    """Mean assistant-token loss per epoch, what was logged, and the tuned peft model (eval mode)."""

    losses: list[float]
    log: dict[str, Any]
    model: Any


def read_chats(path: Path) -> list[tuple[int, Messages]]:
    """(line number, `messages`) of every non-blank line of a JSONL file, checked; errors name the line."""
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    chats = []
    with path.open(encoding="utf-8") as f:
        for n, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError(f"{path} line {n}: not JSON ({exc.msg})") from None
            chats.append((n, _messages(row, f"{path} line {n}")))
    if not chats:
        raise DataError(f"{path} holds no examples")
    return chats


def _messages(row: Any, where: str) -> Messages:
    """`row["messages"]` if it is a list of {role, content} turns with at least one assistant turn."""
    turns = row.get("messages") if isinstance(row, dict) else None
    if not isinstance(turns, list) or not turns:
        raise DataError(f'{where}: expected {{"messages": [{{"role": ..., "content": ...}}, ...]}}')
    for turn in turns:
        ok = isinstance(turn, dict) and turn.get("role") in ROLES and isinstance(turn.get("content"), str)
        if not ok:
            raise DataError(f"{where}: each message needs a role ({', '.join(ROLES)}) and a string content")
    if not any(t["role"] == "assistant" for t in turns):
        raise DataError(f"{where}: no assistant message to learn")
    return [{"role": t["role"], "content": t["content"]} for t in turns]


def segments(messages: Messages, render: Callable[[Messages, bool], str]) -> list[tuple[str, bool]]:
    """The rendered conversation cut into (text, is_answer) pieces, one answer piece per assistant turn.

    `render(turns, generation_prompt)` renders a prefix; the answer is what the assistant's turn adds
    to the prefix rendered with the generation prompt. Turns after the last answer teach nothing.
    """
    pieces: list[tuple[str, bool]] = []
    done = ""
    for k, turn in enumerate(messages):
        if turn["role"] != "assistant":
            continue
        before, after = render(messages[:k], True), render(messages[: k + 1], False)
        if not before.startswith(done) or not after.startswith(before):
            raise DataError(
                "the chat template renders earlier turns differently later on; cannot mark answers"
            )
        pieces += [(before[len(done) :], False), (after[len(before) :], True)]
        done = after
    return pieces


def plain_render(turns: Messages, generation_prompt: bool) -> str:
    """The fallback without a chat template: 'role: content' lines, then 'assistant: ' when asked.

    A newline opens each turn rather than closing it, so an answer ends where its text ends (and the
    end-of-sequence token follows it, see `encode`)."""
    lines = [f"{t['role']}: {t['content']}" for t in turns] + (["assistant: "] if generation_prompt else [])
    return "\n".join(lines)


def encode(messages: Messages, tokenizer: Any) -> tuple[list[int], list[int]]:
    """Token ids and labels (IGNORE outside the answers) of one conversation."""
    templated = bool(getattr(tokenizer, "chat_template", None))
    if templated:

        def render(turns: Messages, generation_prompt: bool) -> str:
            return str(tokenizer.apply_chat_template(
                turns, tokenize=False, add_generation_prompt=generation_prompt))  # fmt: skip
    else:
        render = plain_render
    ids: list[int] = []
    labels: list[int] = []
    for k, (text, answer) in enumerate(segments(messages, render)):
        # plain text gets the tokenizer's own BOS, if any; a template writes its special tokens itself
        toks = list(tokenizer(text, add_special_tokens=not templated and k == 0)["input_ids"])
        if answer and not templated and tokenizer.eos_token_id is not None:
            toks.append(int(tokenizer.eos_token_id))  # so the tuned model learns where an answer stops
        ids += toks
        labels += toks if answer else [IGNORE] * len(toks)
    return ids, labels


def check_causal_lm(path: Path) -> Any:
    """The model's config if `path` is a local folder of a causal LM; a one-line error otherwise."""
    from transformers import AutoConfig
    from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING_NAMES as CAUSAL

    if not path.is_dir():
        raise ConfigError(f"--model {path}: no such folder (a local Hugging Face model folder is needed)")
    try:
        config = AutoConfig.from_pretrained(path, local_files_only=True)
    except (OSError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(f"--model {path}: not a Hugging Face model folder ({first})") from None
    heads = {n for v in CAUSAL.values() for n in ((v,) if isinstance(v, str) else v)}
    archs = list(getattr(config, "architectures", None) or [])
    if config.model_type not in CAUSAL or (archs and not any(a in heads for a in archs)):
        what = ", ".join(archs) or config.model_type
        raise ConfigError(f"--model {path}: holds {what}, which is not a causal language model")
    return config


def linear_layers(model: Any) -> list[str]:
    """Short names of the model's linear layers (torch's Linear, GPT-2's Conv1D), output head excluded."""
    import torch
    from transformers.pytorch_utils import Conv1D

    head = model.get_output_embeddings()
    return sorted({
        name.rsplit(".", 1)[-1] for name, module in model.named_modules()
        if isinstance(module, (torch.nn.Linear, Conv1D)) and module is not head
    })  # fmt: skip


def _device_dtype() -> tuple[Any, Any]:
    """CUDA when present (bf16 where the card supports it), else Apple's MPS, else the CPU in fp32."""
    import torch

    if torch.cuda.is_available():
        return torch.device("cuda"), torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float32
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps"), torch.float32
    return torch.device("cpu"), torch.float32


def _batch(rows: Sequence[tuple[list[int], list[int]]], pad: int, device: Any) -> dict[str, Any]:
    """Right-padded input ids, attention mask and labels of a batch."""
    import torch

    width = max(len(ids) for ids, _ in rows)
    ids = torch.full((len(rows), width), pad, dtype=torch.long)
    labels = torch.full((len(rows), width), IGNORE, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for r, (tok, lab) in enumerate(rows):
        ids[r, : len(tok)] = torch.tensor(tok)
        labels[r, : len(lab)] = torch.tensor(lab)
        mask[r, : len(tok)] = 1
    return {"input_ids": ids.to(device), "attention_mask": mask.to(device), "labels": labels.to(device)}


def tune(data: Path, model_path: Path, out: Path, cfg: TuneConfig) -> TuneResult:
    """Fit a LoRA adapter of the causal LM at `model_path` on the chats in `data`; save it in `out`."""
    try:
        import peft
    except ImportError:
        raise ConfigError("instruction tuning needs peft: pip install 'llmrec[tune]'") from None
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    chats = read_chats(data)
    model_path = model_path.resolve()  # the adapter names its base by this path: keep it absolute
    check_causal_lm(model_path)
    try:
        tokenizer = AutoTokenizer.from_pretrained(model_path, local_files_only=True)
    except (OSError, ValueError, TypeError) as exc:
        raise ConfigError(f"--model {model_path}: no usable tokenizer ({type(exc).__name__})") from None
    encoded = []
    for n, chat in chats:
        try:
            encoded.append(encode(chat, tokenizer))
        except DataError as exc:
            raise DataError(f"{data} line {n}: {exc}") from None
        except Exception as exc:  # a template that refuses a conversation raises its own error types
            raise DataError(f"{data} line {n}: the chat template refused it ({exc})") from None
    rows = [r for r in encoded if len(r[0]) <= cfg.max_length]
    if not rows:
        longest = max(len(ids) for ids, _ in encoded)
        raise ConfigError(
            f"every example is longer than --max-length {cfg.max_length} (up to {longest} tokens)"
        )
    if len(rows) < len(encoded):
        log.warning("skipped %d of %d examples longer than %d tokens", len(encoded) - len(rows),
                    len(encoded), cfg.max_length)  # fmt: skip
    device, dtype = _device_dtype()
    torch.manual_seed(cfg.seed)
    base = AutoModelForCausalLM.from_pretrained(model_path, dtype=dtype, local_files_only=True)
    targets = (linear_layers(base) if cfg.target_modules == "all-linear"
               else [t.strip() for t in cfg.target_modules.split(",") if t.strip()])  # fmt: skip
    lora = peft.LoraConfig(
        r=cfg.rank, lora_alpha=cfg.alpha, lora_dropout=cfg.dropout, target_modules=targets,
        task_type="CAUSAL_LM",
    )  # fmt: skip
    model = peft.get_peft_model(base, lora).to(device)
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimiser = torch.optim.AdamW(trainable, lr=cfg.lr, weight_decay=0.0)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id or 0
    rng = np.random.default_rng(cfg.seed)
    losses: list[float] = []
    started = time.perf_counter()
    model.train()
    for epoch in range(1, cfg.epochs + 1):
        total, tokens = 0.0, 0
        order = rng.permutation(len(rows))
        for start in range(0, len(rows), cfg.batch_size):
            batch = _batch([rows[k] for k in order[start : start + cfg.batch_size]], pad, device)
            n = int((batch["labels"][:, 1:] != IGNORE).sum())  # the model shifts labels by one
            loss = model(**batch).loss
            if not torch.isfinite(loss):
                raise TrainingError(f"the loss is {loss.item()} in epoch {epoch}: lower --lr")
            loss.backward()
            torch.nn.utils.clip_grad_norm_(trainable, 1.0)
            optimiser.step()
            optimiser.zero_grad(set_to_none=True)
            total, tokens = total + loss.item() * n, tokens + n
        losses.append(total / max(tokens, 1))
        log.info("epoch %d/%d: loss %.4f (%d answer tokens)", epoch, cfg.epochs, losses[-1], tokens)
    model.eval()
    model.save_pretrained(str(out))
    for path in out.iterdir():  # peft leaves the weights private; a server may run as another user
        path.chmod(FILE_MODE)
    record = {
        "model": str(model_path), "data": str(data), "device": str(device), "dtype": str(dtype),
        "template": "chat template" if getattr(tokenizer, "chat_template", None) else "plain role: content",
        "examples": len(rows), "skipped_too_long": len(encoded) - len(rows),
        "trainable_parameters": sum(p.numel() for p in trainable),
        "seconds": round(time.perf_counter() - started, 2), "config": asdict(cfg),
        "loss_by_epoch": [round(x, 6) if math.isfinite(x) else None for x in losses],
    }  # fmt: skip
    write_json(out / LOG_FILE, record)  # last: a folder without it holds no finished adapter
    return TuneResult(losses, record, model)
