"""What the rating task's recipes share: the run's rating split, made once, and the setting checks.

The split is made from the run's loaded dataset (`ctx.prepared.dataset`), which must keep every
rating: `data.rating_threshold` at or below the bottom of the scale (rating configs set it to 0).
"""

from __future__ import annotations

from llmrec.config import RunConfig
from llmrec.errors import ConfigError
from llmrec.stages import RunContext
from llmrec.tasks.rating_data import SCALES, RatingSplit, rating_split

RATING_SPLIT = "rating.split"  # ctx.values key: the RatingSplit every rating method of a run shares
RATING_BASE = "rating.base"  # the artefact every rating baseline's training feeds


def split_of(ctx: RunContext) -> RatingSplit:
    """The run's rating split, made on first use (per-user random, `[split] ratios` and `seed`)."""
    if RATING_SPLIT not in ctx.values:
        ctx.values[RATING_SPLIT] = rating_split(
            ctx.prepared.dataset, ctx.cfg.split.ratios, ctx.cfg.split.seed
        )
    split: RatingSplit = ctx.values[RATING_SPLIT]
    return split


def check_rating_data(cfg: RunConfig) -> None:
    """Refuse, before data loads, a config that would drop ratings before the rating task sees them."""
    bottom = SCALES.get(cfg.data.dataset, (0.0, 0.0))[0]
    threshold = cfg.data.rating_threshold
    if threshold is not None and threshold > bottom:
        raise ConfigError(
            f"data.rating_threshold = {threshold:g} drops ratings below it; the rating task predicts every "
            "rating: set data.rating_threshold = 0"
        )
    if cfg.split.method not in ("auto", "ratio"):
        raise ConfigError(
            f"split.method {cfg.split.method!r}: the rating task splits each user's ratings at random by "
            "split.ratios; use 'ratio' (or 'auto')"
        )


__all__ = ["RATING_BASE", "RATING_SPLIT", "check_rating_data", "split_of"]
