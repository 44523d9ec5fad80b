"""From a run directory to a `Served` value, or a one-line refusal.

RUN_DIR is either one model's training folder (`llmrec train`: split.npz in it) or an `llmrec run`
folder with one folder per method; there `--model NAME` picks one, and without it the model with the
best mean validation score (the run's `train.metric`) is served. A folder that is incomplete, or that
another version of llmrec wrote (a config key, a weight or an array it does not know), is refused
before the server listens, in one line naming the folder and what is wrong.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llmrec.ann import IndexParams
from llmrec.experiment import load_trained
from llmrec.rundir import load_item_meta
from llmrec.serve.catalogue import Catalogue
from llmrec.serve.errors import RunRefused
from llmrec.serve.explain import Augmentations, load_augmentations
from llmrec.serve.recommender import Recommender

log = logging.getLogger("llmrec")


@dataclass(frozen=True)
class Served:
    """Everything one loaded run answers with; swapped whole on reload, so a request sees one run."""

    run_dir: Path
    folder: Path
    recommender: Recommender
    augmentations: Augmentations
    load_seconds: float

    def info(self) -> dict[str, Any]:
        """What /meta shows of the run."""
        rec = self.recommender
        return {
            "run_dir": str(self.run_dir),
            "folder": str(self.folder),
            "model": rec.model_name,
            "chosen_because": rec.chosen_because,
            "dataset": rec.run.cfg.data.dataset,
            "fold_in": rec.has_vectors,
            "search": rec.search_kind,
            "load_seconds": round(self.load_seconds, 3),
            "augmentations": self.augmentations.label(),
            **rec.catalogue.summary(),
        }


def _one_line(err: BaseException) -> str:
    """The first line of an error, short enough for a refusal."""
    text = [line.strip() for line in str(err).strip().splitlines() if line.strip()]
    first = text[0] if text else type(err).__name__
    if first.endswith(":") and len(text) > 1:  # torch's "Error(s) in loading state_dict for X:" + the cause
        first = f"{first} {text[1]}"
    return first if len(first) <= 300 else first[:297] + "..."


def choose_folder(run_dir: Path, model: str | None) -> tuple[Path, str]:
    """The training folder to serve and why it was chosen."""
    if not run_dir.is_dir():
        raise RunRefused(f"cannot serve {run_dir}: no such directory")
    if (run_dir / "split.npz").is_file():
        return run_dir, "the folder's own model"
    found = {
        p.parent.name: p.parent for p in run_dir.glob("*/metrics.json") if (p.parent / "split.npz").is_file()
    }
    if not found:
        raise RunRefused(
            f"cannot serve {run_dir}: not a run directory "
            "(no split.npz in it and no trained model folder below it)"
        )
    if model:
        if model not in found:
            raise RunRefused(f"cannot serve {run_dir}: no trained {model!r} in it; found {sorted(found)}")
        return found[model], "named by --model"
    scores = {}
    for name, folder in found.items():
        try:
            metrics = json.loads((folder / "metrics.json").read_text(encoding="utf-8"))
            metric = metrics["config"]["train"]["metric"]
            scores[name] = (float(metrics["valid"][metric]), name, metric)
        except (OSError, ValueError, KeyError, TypeError) as err:
            raise RunRefused(f"cannot serve {folder}: metrics.json unreadable ({_one_line(err)})") from None
    best = max(scores.values())
    return found[best[1]], f"best validation {best[2]} ({best[0]:.4f}) of {sorted(found)}"


def load_served(run_dir: Path, model: str | None = None, index: IndexParams | None = None) -> Served:
    """Load a run for serving; `RunRefused` (one line) if it cannot be served. `index`: how unfiltered
    lists are searched (None: exact; `IndexParams(kind="ivf")` etc.: an approximate FAISS index)."""
    start = time.perf_counter()
    folder, why = choose_folder(run_dir, model)
    try:
        run = load_trained(folder)
        if model and (run_dir / "split.npz").is_file() and run.cfg.model.name != model:
            raise RunRefused(f"cannot serve {run_dir}: it holds a {run.cfg.model.name} model, not {model}")
        catalogue = Catalogue(run.split.train.user_ids, run.split.train.item_ids, load_item_meta(folder))
        recommender = Recommender(run, catalogue, why, index)
        augmentations = load_augmentations(run, catalogue)
    except RunRefused:
        raise
    except Exception as err:  # noqa: BLE001  (torch, numpy and our own loaders raise many kinds)
        raise RunRefused(f"cannot serve {folder}: {_one_line(err)}") from None
    seconds = time.perf_counter() - start
    log.debug("loaded %s (%s) from %s in %.2f s", recommender.model_name, why, folder, seconds)
    return Served(run_dir, folder, recommender, augmentations, seconds)


__all__ = ["Served", "choose_folder", "load_served"]
