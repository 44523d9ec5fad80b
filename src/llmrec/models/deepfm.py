"""DeepFM (Guo et al., IJCAI 2017) for explicit ratings: an FM and an MLP over the same field vectors.

    r_hat = mu + sum_f w_f + FM(v_1..v_F) + MLP([v_1; ...; v_F])

Fields are the user, the item and any attribute fields (genres, year, director, star, age, gender,
occupation...). Each field takes one or more slots of a [B, S] index tensor (genres: several slots);
a field's vector v_f (and first-order weight w_f) is the mean over its filled slots. A slot holding
its field's size is empty; for the user and item fields that index is the unknown user / item, so
a rating of someone absent from training is predicted from the global mean and the other fields.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from llmrec.models.base import Capabilities


@dataclass(frozen=True)
class DeepFMConfig:
    """[deepfm]: field-vector width, L2 on the batch's vectors, the MLP's hidden widths and dropout."""

    dim: int = 16
    reg: float = 0.01
    hidden: tuple[int, ...] = (64, 32)
    dropout: float = 0.2


class DeepFM(nn.Module):
    """First-order weights + factorisation machine + MLP over user, item and attribute fields."""

    capabilities = Capabilities(rating=True)
    slot_offset: torch.Tensor  # [S] buffers: each slot's first row in the shared table,
    slot_size: torch.Tensor  # its field's category count (the empty value),
    pool: torch.Tensor  # [S, F] and which field it belongs to
    global_mean: torch.Tensor

    def __init__(
        self,
        n_users: int,
        n_items: int,
        dim: int = 16,
        reg: float = 0.01,
        hidden: tuple[int, ...] = (64, 32),
        dropout: float = 0.2,
        global_mean: float = 0.0,
        *,
        attribute_sizes: tuple[int, ...] = (),
        attribute_slots: tuple[int, ...] = (),
    ) -> None:
        super().__init__()
        if len(attribute_sizes) != len(attribute_slots) or any(s < 1 for s in attribute_slots):
            raise ValueError(
                f"one slot count >= 1 per attribute field, got {attribute_slots} for {attribute_sizes}"
            )
        if dim < 1 or reg < 0 or not 0 <= dropout < 1 or any(h < 1 for h in hidden):
            raise ValueError(f"bad DeepFM knobs: dim={dim}, reg={reg}, dropout={dropout}, hidden={hidden}")
        self.n_users, self.n_items, self.dim, self.reg = n_users, n_items, dim, reg
        sizes = (n_users, n_items, *attribute_sizes)
        slots = (1, 1, *attribute_slots)
        self.n_fields = len(sizes)
        offsets = torch.tensor([0, *sizes[:-1]]).cumsum(0)
        self.pad = int(sum(sizes))  # the one empty row every field's empty slot maps to
        self.register_buffer("slot_offset", torch.repeat_interleave(offsets, torch.tensor(slots)))
        self.register_buffer("slot_size", torch.repeat_interleave(torch.tensor(sizes), torch.tensor(slots)))
        field_of_slot = torch.repeat_interleave(torch.arange(self.n_fields), torch.tensor(slots))
        self.register_buffer("pool", nn.functional.one_hot(field_of_slot, self.n_fields).float())  # [S, F]
        self.emb = nn.Embedding(self.pad + 1, dim, padding_idx=self.pad)
        self.weight = nn.Embedding(self.pad + 1, 1, padding_idx=self.pad)
        layers: list[nn.Module] = []
        width = self.n_fields * dim
        for h in hidden:
            layers += [nn.Linear(width, h), nn.ReLU(), nn.Dropout(dropout)]
            width = h
        layers.append(nn.Linear(width, 1))
        self.mlp = nn.Sequential(*layers)
        self.register_buffer("global_mean", torch.tensor(float(global_mean)))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Small normal field vectors, zero first-order weights, default (Kaiming-uniform) MLP layers."""
        nn.init.normal_(self.emb.weight, std=0.01)
        nn.init.zeros_(self.weight.weight)
        with torch.no_grad():
            self.emb.weight[self.pad].zero_()
        for layer in self.mlp:
            if isinstance(layer, nn.Linear):
                layer.reset_parameters()

    def _rows(
        self, users: torch.Tensor, items: torch.Tensor, attributes: torch.Tensor | None
    ) -> torch.Tensor:
        """[B, S] global embedding rows of every slot (the empty row where a slot is empty)."""
        local = torch.stack([users, items], dim=1)
        if attributes is not None and attributes.numel():
            local = torch.cat([local, attributes], dim=1)
        if local.shape[1] != self.slot_size.numel():
            raise ValueError(
                f"expected {self.slot_size.numel()} slots (user, item, attributes), got {local.shape[1]}"
            )
        empty = local >= self.slot_size
        return torch.where(empty, torch.full_like(local, self.pad), local + self.slot_offset)

    def _fields(self, rows: torch.Tensor, table: nn.Embedding) -> torch.Tensor:
        """[B, F, d] per-field means of the slots' vectors (zero for a field with no filled slot)."""
        filled = (rows != self.pad).float()  # [B, S]
        count = (filled @ self.pool).clamp(min=1.0)  # [B, F]
        summed = torch.einsum("bsd,sf->bfd", table(rows), self.pool)  # empty rows are zero vectors
        return summed / count.unsqueeze(-1)

    def predict(
        self, users: torch.Tensor, items: torch.Tensor, attributes: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Predicted ratings, unclipped: [B]. `attributes` is [B, S_attr] slot indices."""
        rows = self._rows(users, items, attributes)
        v = self._fields(rows, self.emb)  # [B, F, d]
        first = self._fields(rows, self.weight).sum(dim=(1, 2))
        fm = 0.5 * (v.sum(1).pow(2) - v.pow(2).sum(1)).sum(-1)
        deep = self.mlp(v.flatten(1)).squeeze(-1)
        return self.global_mean + first + fm + deep

    def loss(self, batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
        """MSE of (users, items, ratings[, attributes]) plus reg times the mean squared norms of its rows."""
        users, items, ratings = batch[0], batch[1], batch[2]
        attributes = batch[3] if len(batch) > 3 else None
        error = self.predict(users, items, attributes) - ratings
        rows = self._rows(users, items, attributes)
        penalty = self.emb(rows).pow(2).sum(dim=(1, 2)) + self.weight(rows).pow(2).sum(dim=(1, 2))
        return error.pow(2).mean() + self.reg * penalty.mean()
