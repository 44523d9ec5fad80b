"""What a trained seed depends on, hashed: a changed input retrains it, an unchanged one is reused."""

from __future__ import annotations

import hashlib
from typing import Any

import scipy.sparse as sp

from llmrec import config as cfgmod
from llmrec.config import RunConfig
from llmrec.data.dataset import Split
from llmrec.factory import model_options, model_spec
from llmrec.features import AugmentedInputs

# settings that change no result (how the top K is found, how often training state is saved): never
# hashed, so a run stays reusable across them
# (`train.extra_edges` names a folder: the edges it holds are hashed instead)
UNHASHED: dict[str, set[str]] = {"eval": {"screen"}, "train": {"checkpoint_minutes", "extra_edges"}}
# settings added after runs were made, hashed only when set away from their default, so that adding a
# knob does not invalidate every saved run: {section: {key: default}}
LATER: dict[str, dict[str, Any]] = {"train": {"min_epochs": 0}}


def hashed(section: str, part: Any) -> dict[str, Any]:
    """A config section as `run_fingerprint` hashes it: without its `UNHASHED` keys, nor its `LATER`
    keys while they hold their default."""
    skip, later = UNHASHED.get(section, set()), LATER.get(section, {})
    return {
        k: v for k, v in cfgmod.to_dict(part).items() if k not in skip and (k not in later or later[k] != v)
    }


def inputs_digest(split: Split, inputs: AugmentedInputs | None, extra: sp.csr_matrix | None = None) -> str:
    """Hash of the split's exact contents, of the augmented inputs' contents (not their folder) and of
    the extra graph edges."""
    digest = hashlib.sha256()
    for part in (split.train, split.valid, split.test):
        digest.update(part.user_items.indptr.tobytes())
        digest.update(part.user_items.indices.tobytes())
    if inputs is not None:
        for side in (inputs.features.user, inputs.features.item):
            for name, x in side.items():
                digest.update(name.encode())
                digest.update(x.numpy().tobytes())
        for array in inputs.triples or ():
            digest.update(array.tobytes())
    if extra is not None and extra.nnz:
        extra = extra.tocsr()
        extra.sort_indices()
        digest.update(b"extra")
        digest.update(extra.indptr.tobytes())
        digest.update(extra.indices.tobytes())
    return digest.hexdigest()


def run_fingerprint(
    cfg: RunConfig,
    split: Split,
    inputs: AugmentedInputs | None,
    method: Any = None,
    extra: sp.csr_matrix | None = None,
) -> str:
    """Hash of what a trained seed depends on: the data, split, model (shared knobs and its own,
    defaults included), training and evaluation settings, the contents of the split, the inputs and
    the extra edges, and `method` (the method's own settings that shape its inputs, folders left out).
    The number of seeds is left out so that asking for more seeds reuses the first ones."""
    shared = model_spec(cfg.model.name).shared  # a knob the model does not take changes nothing
    model: dict[str, Any] = {k: getattr(cfg.model, k) for k in ("dim", "n_layers") if k in shared}
    model.update(name=cfg.model.name, options=cfgmod.to_dict(model_options(cfg.model, cfg.model.name)))
    train, evals = hashed("train", cfg.train), hashed("eval", cfg.eval)
    digest = inputs_digest(split, inputs, extra)
    return cfgmod.fingerprint(cfg.data, cfg.split, model, train, evals, cfg.seed, method, digest)


__all__ = ["LATER", "UNHASHED", "hashed", "inputs_digest", "run_fingerprint"]
