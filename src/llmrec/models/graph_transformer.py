"""Graph-aware GPT-2-style transformer over words, user tokens and item tokens (arXiv 2402.09617).

One causal transformer reads prompts that mix word tokens with one token per user and per item. Token
ids share one space: ``[0, vocab)`` words, then ``n_users`` users, then ``n_items`` items. Users and
items have two embedding tables each: the *collaborative* ones (read by interaction prompts; the item
table is also the item output head, so the model scores every item) and the *content* ones (read by
text prompts); `mutual_gap` pulls the two sets together (CLLM4Rec's mutual regularisation).

Graph structure enters attention as an additive bias: for two graph tokens p, q of a prompt the
logit of head h gains ``sum_c scale[h, c] * rel[c, p, q]``, with `rel` from `graph_relations` (built on
the training graph) and a learned scale per layer, head and channel, started at zero so the model
starts as a plain transformer (and as the GPT-2 it was loaded from).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn


@dataclass(frozen=True)
class GraphTransformerConfig:
    """The transformer's shape: layers, width, heads and context are the knobs of the small CPU config."""

    n_layers: int = 2
    dim: int = 64
    n_heads: int = 4
    context: int = 64  # the longest prompt, in tokens (positions)
    dropout: float = 0.1
    n_relations: int = 3  # relation channels of the attention bias (0: no graph bias)

    def __post_init__(self) -> None:
        if min(self.n_layers, self.dim, self.n_heads, self.context) < 1 or self.dim % self.n_heads:
            raise ValueError(f"bad transformer shape {self}: positive sizes, dim divisible by n_heads")


class _Attention(nn.Module):
    """Causal multi-head self-attention with an additive per-head relation bias."""

    def __init__(self, cfg: GraphTransformerConfig) -> None:
        super().__init__()
        self.n_heads, self.dropout = cfg.n_heads, cfg.dropout
        self.c_attn = nn.Linear(cfg.dim, 3 * cfg.dim)
        self.c_proj = nn.Linear(cfg.dim, cfg.dim)
        self.rel_scale = nn.Parameter(torch.zeros(cfg.n_heads, max(cfg.n_relations, 1)))

    def forward(self, x: torch.Tensor, mask: torch.Tensor, rel: torch.Tensor | None) -> torch.Tensor:
        b, t, d = x.shape
        q, k, v = self.c_attn(x).split(d, dim=2)
        q, k, v = (z.view(b, t, self.n_heads, d // self.n_heads).transpose(1, 2) for z in (q, k, v))
        bias = mask  # [1 or B, 1, T, T]: 0 where allowed, -inf above the diagonal and on padding keys
        if rel is not None:  # [B, C, T, T] -> [B, H, T, T]
            bias = bias + torch.einsum("hc,bcpq->bhpq", self.rel_scale[:, : rel.shape[1]], rel)
        p = self.dropout if self.training else 0.0
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=bias, dropout_p=p)
        return self.c_proj(y.transpose(1, 2).reshape(b, t, d))


class _Block(nn.Module):
    """Pre-norm transformer block, GPT-2's layout (ln_1, attn, ln_2, mlp)."""

    def __init__(self, cfg: GraphTransformerConfig) -> None:
        super().__init__()
        self.ln_1, self.ln_2 = nn.LayerNorm(cfg.dim), nn.LayerNorm(cfg.dim)
        self.attn = _Attention(cfg)
        self.c_fc, self.c_proj = nn.Linear(cfg.dim, 4 * cfg.dim), nn.Linear(4 * cfg.dim, cfg.dim)
        self.drop = nn.Dropout(cfg.dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor, rel: torch.Tensor | None) -> torch.Tensor:
        x = x + self.drop(self.attn(self.ln_1(x), mask, rel))
        return x + self.drop(self.c_proj(F.gelu(self.c_fc(self.ln_2(x)), approximate="tanh")))


class GraphTransformer(nn.Module):
    """GPT-2-style causal transformer with user/item tokens, graph-biased attention and an item head."""

    def __init__(self, vocab: int, n_users: int, n_items: int, cfg: GraphTransformerConfig) -> None:
        super().__init__()
        self.vocab, self.n_users, self.n_items, self.cfg = vocab, n_users, n_items, cfg
        self.wte = nn.Embedding(vocab, cfg.dim)  # words; also the word output head (tied)
        self.wpe = nn.Embedding(cfg.context, cfg.dim)
        self.user_emb, self.item_emb = nn.Embedding(n_users, cfg.dim), nn.Embedding(n_items, cfg.dim)
        self.content_user_emb = nn.Embedding(n_users, cfg.dim)
        self.content_item_emb = nn.Embedding(n_items, cfg.dim)
        self.blocks = nn.ModuleList(_Block(cfg) for _ in range(cfg.n_layers))
        self.ln_f = nn.LayerNorm(cfg.dim)
        self.drop = nn.Dropout(cfg.dropout)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """GPT-2's initialisation: N(0, 0.02) weights, zero biases, unit layer norms, zero graph scales."""
        for m in self.modules():
            if isinstance(m, (nn.Linear, nn.Embedding)):
                nn.init.normal_(m.weight, std=0.02)
            if isinstance(m, nn.Linear) and m.bias is not None:
                nn.init.zeros_(m.bias)
            if isinstance(m, nn.LayerNorm):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            if isinstance(m, _Attention):
                nn.init.zeros_(m.rel_scale)

    def embed_tokens(self, tokens: torch.Tensor, content: bool = False) -> torch.Tensor:
        """[B, T, dim] input embeddings: words, users and items from their own tables (`content`: the
        content user/item tables, else the collaborative ones)."""
        users_at, items_at = tokens >= self.vocab, tokens >= self.vocab + self.n_users
        users_at = users_at & ~items_at
        words = self.wte(tokens.clamp(max=self.vocab - 1))
        user_table = self.content_user_emb if content else self.user_emb
        item_table = self.content_item_emb if content else self.item_emb
        users = user_table((tokens - self.vocab).clamp(0, self.n_users - 1))
        items = item_table((tokens - self.vocab - self.n_users).clamp(0, self.n_items - 1))
        return torch.where(items_at[..., None], items, torch.where(users_at[..., None], users, words))

    def forward(
        self,
        tokens: torch.Tensor,
        lengths: torch.Tensor,
        rel: torch.Tensor | None = None,
        content: bool = False,
    ) -> torch.Tensor:
        """[B, T, dim] final hidden states of right-padded prompts (`lengths` real tokens each);
        `rel` [B, C, T, T] relation channels between positions (zero off graph tokens)."""
        b, t = tokens.shape
        if t > self.cfg.context:
            raise ValueError(f"prompt of {t} tokens exceeds the context of {self.cfg.context}")
        pos = torch.arange(t, device=tokens.device)
        keep = (pos[None, :] <= pos[:, None])[None] & (pos[None, :] < lengths[:, None])[:, None]
        mask = torch.zeros(b, 1, t, t, device=tokens.device).masked_fill(~keep[:, None], float("-inf"))
        # a padding query sees no key past its prompt: let it see position 0 so softmax stays finite
        mask[:, :, :, 0] = 0.0
        if self.cfg.n_relations == 0:
            rel = None
        x = self.drop(self.embed_tokens(tokens, content) + self.wpe(pos))
        for block in self.blocks:
            x = block(x, mask, rel)
        return self.ln_f(x)

    def item_logits(self, hidden: torch.Tensor) -> torch.Tensor:
        """Scores of every item from hidden states: the head tied to the collaborative item table."""
        return hidden @ self.item_emb.weight.T

    def word_logits(self, hidden: torch.Tensor) -> torch.Tensor:
        """Scores of every word from hidden states: the head tied to the word embeddings."""
        return hidden @ self.wte.weight.T

    def mutual_gap(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        """Mutual regularisation: summed squared distance between the collaborative and content
        embeddings of `users` and `items`, per node (mean over the nodes given)."""
        gap = (self.user_emb(users) - self.content_user_emb(users)).pow(2).sum(-1)
        gap_i = (self.item_emb(items) - self.content_item_emb(items)).pow(2).sum(-1)
        return torch.cat([gap, gap_i]).mean() if gap.numel() + gap_i.numel() else gap.sum()


def gpt2_state(path: Path, cfg: GraphTransformerConfig) -> tuple[dict[str, torch.Tensor], int]:
    """The backbone weights of a local GPT-2-family checkpoint folder, renamed for `GraphTransformer`,
    and its vocabulary size. A folder that is not GPT-2 or whose shape differs from `cfg` is an error."""
    meta_path = path / "config.json"
    if not meta_path.is_file():
        raise ValueError(f"{path}: no config.json, not a Hugging Face checkpoint folder")
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    if meta.get("model_type") != "gpt2":
        raise ValueError(f"{path}: model_type {meta.get('model_type')!r} is not a GPT-2-family checkpoint")
    shape = {"dim": meta.get("n_embd"), "n_layers": meta.get("n_layer"), "n_heads": meta.get("n_head")}
    for key, value in shape.items():
        if value != getattr(cfg, key):
            raise ValueError(f"{path}: checkpoint {key} {value} != configured {getattr(cfg, key)}; set it")
    if meta.get("n_positions", 0) < cfg.context:
        raise ValueError(
            f"{path}: checkpoint has {meta.get('n_positions')} positions < context {cfg.context}"
        )
    raw = _read_weights(path)
    raw = {k.removeprefix("transformer."): v for k, v in raw.items()}
    state: dict[str, torch.Tensor] = {
        "wte.weight": raw["wte.weight"],
        "wpe.weight": raw["wpe.weight"][: cfg.context],
        "ln_f.weight": raw["ln_f.weight"],
        "ln_f.bias": raw["ln_f.bias"],
    }
    conv = ("attn.c_attn", "attn.c_proj", "mlp.c_fc", "mlp.c_proj")  # GPT-2's Conv1D: [in, out]
    for i in range(cfg.n_layers):
        for ln in ("ln_1", "ln_2"):
            for p in ("weight", "bias"):
                state[f"blocks.{i}.{ln}.{p}"] = raw[f"h.{i}.{ln}.{p}"]
        for name in conv:
            ours = f"blocks.{i}.{name.replace('mlp.', '')}"
            state[f"{ours}.weight"] = raw[f"h.{i}.{name}.weight"].T.contiguous()
            state[f"{ours}.bias"] = raw[f"h.{i}.{name}.bias"]
    return state, int(raw["wte.weight"].shape[0])


def _read_weights(path: Path) -> dict[str, torch.Tensor]:
    """A checkpoint folder's tensors from model.safetensors or pytorch_model.bin."""
    if (path / "model.safetensors").is_file():
        from safetensors.torch import load_file  # lazy: only a checkpoint load needs it

        return load_file(str(path / "model.safetensors"))
    if (path / "pytorch_model.bin").is_file():
        return torch.load(path / "pytorch_model.bin", map_location="cpu", weights_only=True)  # type: ignore[no-any-return]
    raise ValueError(f"{path}: neither model.safetensors nor pytorch_model.bin")


__all__ = ["GraphTransformer", "GraphTransformerConfig", "gpt2_state"]
