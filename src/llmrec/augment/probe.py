"""Is my LLM good enough? The teacher probe, before paying for augmentation.

For a sample of users it hides 1-`max_hidden` of their TRAINING positives among `n_candidates`
candidates (the rest drawn uniformly from items the user never touched in train, valid or test; valid
and test items are never hidden), shows the remaining history, and asks the teacher the questions
LLMRec's edge stage would ask: listwise (one liked, one disliked among the list) and pointwise (one
yes/no question per candidate, scored by P(yes)). Next to it, with no LLM: a random pick, the most
popular candidate, and optionally simulated teachers of known quality (labelled SIMULATION). Numbers
and the verdict come from `probe_stats`.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from llmrec.augment.ask import ask
from llmrec.augment.attributes import ask_attributes
from llmrec.augment.inputs import Inputs, describe_items, load_inputs
from llmrec.augment.parsers import parse_pair
from llmrec.augment.pointwise import ask_pointwise, pointwise_prompt, pointwise_request
from llmrec.augment.probe_stats import (
    bootstrap_interval,
    paired_test,
    position_counts,
    summarise,
    user_metrics,
    verdict,
)
from llmrec.augment.prompts import (
    EDGES_TEMPLATE,
    attributes_prompt,
    chat,
    edges_expected,
    edges_prompt,
    estimate_tokens,
    item_line,
)
from llmrec.data.dataset import Split
from llmrec.errors import ConfigError
from llmrec.llm import Accounting, LLMConfig, LLMError, open_llm, resolve_llm_config

log = logging.getLogger("llmrec")
MODES = ("listwise", "pointwise", "attributes")
COMPLETION_TOKENS = {"listwise": 4, "pointwise": 1}  # estimated answer lengths, for the projection


@dataclass(frozen=True)
class ProbeConfig:
    """Who is probed and how."""

    users: int = 100
    n_candidates: int = 10
    max_hidden: int = 2  # each user hides 1..max_hidden training positives among the candidates
    min_history: int = 3  # training positives left visible; users with fewer + 1 are not probed
    modes: tuple[str, ...] = MODES  # the LLM's question kinds (none without an LLM)
    simulated: tuple[float, ...] = ()  # qualities p of simulated teachers to probe alongside (labelled)
    top_logprobs: int = 5
    attribute_items: int = 20  # items with a known director asked for it (mode "attributes")
    history_token_budget: int = 1024
    max_field_words: int = 12
    history_field_words: int = 4
    bootstrap: int = 1000
    seed: int = 2024

    def __post_init__(self) -> None:
        bad = [m for m in self.modes if m not in MODES]
        if bad:
            raise ConfigError(f"probe: unknown question mode(s) {bad}; valid: {list(MODES)}")
        if self.users < 1 or self.min_history < 1 or not 1 <= self.max_hidden < self.n_candidates:
            raise ConfigError(
                "probe: need users >= 1, min_history >= 1 and 1 <= max_hidden < n_candidates, got "
                f"{self.users}, {self.min_history}, {self.max_hidden}, {self.n_candidates}"
            )
        if any(not 0 <= p <= 1 for p in self.simulated):
            raise ConfigError(f"probe: simulated qualities must be in [0, 1], got {list(self.simulated)}")


@dataclass
class ProbeSample:
    """The probed users, their candidate lists (item indices), which candidates are hidden positives,
    the history each is shown, and who was left out and why."""

    users: np.ndarray
    candidates: np.ndarray
    hidden: np.ndarray
    history: list[np.ndarray]
    skipped: dict[str, int] = field(default_factory=dict)


def draw_sample(split: Split, cfg: ProbeConfig) -> ProbeSample:
    """Pick users, hide 1..max_hidden training positives each among uniformly drawn unseen items."""
    train = split.train.user_items
    seen = (train + split.valid.user_items + split.test.user_items).tocsr()
    n_users, n_items = train.shape
    rng = np.random.default_rng([cfg.seed, 26])
    n_train = np.diff(train.indptr)
    known = np.flatnonzero(np.asarray(train.sum(axis=0)).ravel() > 0)  # items some model could know
    eligible = np.flatnonzero(n_train >= cfg.min_history + 1)
    skipped = {"too_few_positives": int(((n_train > 0) & (n_train < cfg.min_history + 1)).sum())}
    users: list[int] = []
    cands: list[np.ndarray] = []
    hidden: list[np.ndarray] = []
    history: list[np.ndarray] = []
    for u in rng.permutation(eligible):
        if len(users) == cfg.users:
            break
        items = train.indices[train.indptr[u] : train.indptr[u + 1]]
        h = min(int(rng.integers(1, cfg.max_hidden + 1)), len(items) - cfg.min_history)
        hide = rng.choice(items, size=h, replace=False)
        pool = np.setdiff1d(known, seen.indices[seen.indptr[u] : seen.indptr[u + 1]])
        if len(pool) < cfg.n_candidates - h:
            skipped["too_few_unseen_items"] = skipped.get("too_few_unseen_items", 0) + 1
            continue
        row = np.concatenate([hide, rng.choice(pool, size=cfg.n_candidates - h, replace=False)])
        order = rng.permutation(cfg.n_candidates)  # shuffled: the hidden items sit anywhere
        users.append(int(u))
        cands.append(row[order])
        hidden.append((np.arange(cfg.n_candidates) < h)[order])
        history.append(rng.permutation(np.setdiff1d(items, hide)))
    skipped["asked_for"], skipped["probed"] = cfg.users, len(users)
    shape = (len(users), cfg.n_candidates)
    return ProbeSample(
        np.array(users, dtype=np.int64),
        np.array(cands, dtype=np.int64).reshape(shape),
        np.array(hidden, dtype=bool).reshape(shape),
        history,
        skipped,
    )


def baseline_scores(split: Split, sample: ProbeSample, cfg: ProbeConfig) -> dict[str, np.ndarray]:
    """Scores of the no-LLM teachers: popularity (train counts, the hidden items not counted) and each
    simulated quality p (one-hot on a hidden item with probability p, else on a random candidate).

    The random teacher is not drawn: its expected numbers are exact (see `random_expected`)."""
    counts = np.asarray(split.train.user_items.sum(axis=0)).ravel().astype(np.float64)
    np.subtract.at(counts, sample.candidates[sample.hidden], 1.0)  # the probe hid them from everyone
    rng = np.random.default_rng([cfg.seed, 1])
    out = {"popularity": counts[sample.candidates]}
    for p in cfg.simulated:
        scores = np.zeros(sample.candidates.shape)
        for k, row in enumerate(sample.hidden):
            where = np.flatnonzero(row) if rng.random() < p else np.arange(len(row))
            scores[k, rng.choice(where)] = 1.0
        out[f"simulated p={p}"] = scores
    return out


def probe(
    run_dir: Path,
    split: Split,
    cfg: ProbeConfig,
    llm: LLMConfig | None = None,
    env: Mapping[str, str] | None = None,
    noun: str = "item",
) -> dict[str, Any]:
    """Probe the teacher `llm` (None: only the no-LLM teachers) on `run_dir`'s split; the report.

    `run_dir` holds the items' and users' metadata (items.tsv, users.tsv) for the prompts; `noun` is
    what an item is called in them (`prompts.item_noun`).
    """
    start = time.perf_counter()
    sample = draw_sample(split, cfg)
    report: dict[str, Any] = {"sample": sample.skipped, "n_candidates": cfg.n_candidates, "messages": []}
    if len(sample.users) == 0:
        report["messages"].append(
            f"no user could be probed ({sample.skipped}; a user needs at least {cfg.min_history + 1} "
            f"training positives and {cfg.n_candidates - 1} items never seen): nothing probed"
        )
        report["teachers"] = {}
        return report
    if len(sample.users) < cfg.users:
        report["messages"].append(
            f"only {len(sample.users)} of the {cfg.users} users asked for could be probed "
            f"({sample.skipped['too_few_positives']} have fewer than {cfg.min_history + 1} training "
            f"positives, {sample.skipped.get('too_few_unseen_items', 0)} too few unseen items)"
        )
    hidden_per_user = sample.hidden.sum(axis=1)
    report["hidden_per_user"] = round(float(hidden_per_user.mean()), 3)
    report["random_hit_rate_expected"] = round(float((hidden_per_user / cfg.n_candidates).mean()), 4)
    scores = baseline_scores(split, sample, cfg)
    labels = {"popularity": "no LLM: the most popular candidate"}
    labels.update({k: "SIMULATION, no LLM" for k in scores if k.startswith("simulated")})
    extra: dict[str, dict[str, Any]] = {}
    if llm is not None and cfg.modes:
        inputs = load_inputs(run_dir, split, noun)
        llm_scores, extra = _ask_teacher(inputs, sample, cfg, llm, env or {}, report)
        scores.update(llm_scores)
        labels.update({k: f"LLM {llm.backend} / {llm.model}" for k in llm_scores})
    report["teachers"] = _judge(scores, labels, extra, sample, cfg)
    report["seconds"] = round(time.perf_counter() - start, 2)
    return report


def _judge(
    scores: Mapping[str, np.ndarray],
    labels: Mapping[str, str],
    extra: Mapping[str, dict[str, Any]],
    sample: ProbeSample,
    cfg: ProbeConfig,
) -> dict[str, dict[str, Any]]:
    """Each teacher's numbers, its paired test against popularity and its verdict."""
    pop_hit, pop_auc, _ = user_metrics(scores["popularity"], sample.hidden)
    out = {"random": random_expected(sample.hidden, cfg)}
    for name, s in scores.items():
        row: dict[str, Any] = {"label": labels[name], **summarise(s, sample.hidden, cfg.bootstrap, cfg.seed)}
        if name not in ("random", "popularity"):
            # a teacher that only picks (listwise, simulated) is judged by its hits; its AUC only tells
            # the pick from the rest. One that scores every candidate (pointwise) by its AUC.
            hit, auc, _ = user_metrics(s, sample.hidden)
            if name == "pointwise":
                row["vs_popularity"] = paired_test(auc, pop_auc, "auc")
                row["verdict"] = verdict(row, 0.5)
            else:
                row["vs_popularity"] = paired_test(hit, pop_hit, "hit_rate")
                row["verdict"] = verdict(row, out["random"]["hit_rate"])
        out[name] = {**row, **extra.get(name, {})}
    return out


def random_expected(hidden: np.ndarray, cfg: ProbeConfig) -> dict[str, Any]:
    """A random pick's exact expectations: hit rate h/n per user (interval over users), AUC 0.5."""
    hits = hidden.sum(axis=1) / hidden.shape[1]
    return {
        "label": "no LLM: a random candidate (expected values, not a draw)",
        "users_answered": len(hidden),
        "users_unanswered": 0,
        "hit_rate": round(float(hits.mean()), 4),
        "hit_rate_ci": bootstrap_interval(hits, cfg.bootstrap, cfg.seed),
        "auc": 0.5,
        "auc_ci": (0.5, 0.5),
    }


def _ask_teacher(
    inputs: Inputs,
    sample: ProbeSample,
    cfg: ProbeConfig,
    llm_cfg: LLMConfig,
    env: Mapping[str, str],
    report: dict[str, Any],
) -> tuple[dict[str, np.ndarray], dict[str, dict[str, Any]]]:
    """The LLM's scores in each mode, with parse failures, position bias, tokens and projected cost."""
    resolved = resolve_llm_config(llm_cfg, env)
    lines = describe_items(inputs, cfg.max_field_words, cfg.history_field_words)
    histories = [[lines.brief[i] for i in h] for h in sample.history]
    accounting = Accounting(resolved.prices)
    scores: dict[str, np.ndarray] = {}
    extra: dict[str, dict[str, Any]] = {}
    cached = open_llm(resolved, env)
    try:
        if "attributes" in cfg.modes:
            cached.stats = accounting.stage("probe-attributes")
            try:
                report["attribute_accuracy"] = attribute_accuracy(cached, inputs, cfg)
            except LLMError as exc:
                report["messages"].append(f"attributes: the teacher could not be asked: {exc}")
        for mode in [m for m in cfg.modes if m != "attributes"]:
            cached.stats = accounting.stage(f"probe-{mode}")
            ask_mode = _listwise if mode == "listwise" else _pointwise
            try:
                scores[mode], extra[mode] = ask_mode(cached, inputs, lines.full, histories, sample, cfg)
            except LLMError as exc:  # the server is gone, the key is wrong: report what there is
                report["messages"].append(f"{mode}: the teacher could not be asked: {exc}")
                scores[mode] = np.full(sample.candidates.shape, np.nan)
                extra[mode] = {"error": str(exc), "usage": cached.stats.to_dict()}
                continue
            stats = cached.stats.to_dict()
            extra[mode]["usage"] = stats
            extra[mode]["projected_full_run"] = _projection(
                extra[mode].pop("_tokens"), mode, inputs, cfg, resolved
            )
            if stats["failures"] == stats["items"] and stats["items"]:
                report["messages"].append(
                    f"{mode}: every one of the {stats['items']} requests failed (timeouts?): no answers"
                )
    finally:
        cached.close()
    return scores, extra


def attribute_accuracy(llm: Any, inputs: Inputs, cfg: ProbeConfig) -> dict[str, Any]:
    """Ask for the director of items whose director the dataset knows, shown only title, year and genres;
    the share answered right (any named director matching one of the dataset's, case and spaces aside)."""
    known = [i for i, meta in enumerate(inputs.items) if meta.get("director") and meta.get("title")]
    if not known:
        return {"asked": 0, "note": "the dataset names no directors: nothing to check against"}
    rng = np.random.default_rng([cfg.seed, 3])
    chosen = sorted(rng.choice(known, size=min(cfg.attribute_items, len(known)), replace=False).tolist())
    shown = [
        item_line(
            {k: inputs.items[i].get(k, "") for k in ("title", "year", "genres")}, str(i), cfg.max_field_words
        )
        for i in chosen
    ]
    prompts = [attributes_prompt(line, ("director",), inputs.noun) for line in shown]
    asked = ask_attributes(llm, prompts, [("director",)] * len(shown), llm.stats)
    norm = lambda text: {" ".join(n.lower().split()) for n in text.split(",") if n.strip()}  # noqa: E731
    right = [
        value is not None
        and bool(value["director"])
        and bool(norm(value["director"] or "") & norm(inputs.items[i]["director"]))
        for i, value in zip(chosen, asked.values, strict=True)
    ]
    summary = asked.summary()
    return {
        "attribute": "director",
        "asked": len(chosen),
        "right": int(sum(right)),
        "accuracy": round(sum(right) / len(chosen), 4),
        "unknown_or_unparsed": int(sum(v is None or not v["director"] for v in asked.values)),
        "rejected_first_answers": summary["rejected_first_answers"],
        "items": [str(inputs.train.item_ids[i]) for i in chosen],
    }


def _listwise(
    llm: Any,
    inputs: Inputs,
    full: list[str],
    histories: list[list[str]],
    sample: ProbeSample,
    cfg: ProbeConfig,
) -> tuple[np.ndarray, dict[str, Any]]:
    """LLMRec's listwise question: liked scores 1, disliked -1, the rest 0; NaN rows unanswered."""
    n = cfg.n_candidates
    prompts = [
        edges_prompt(h, [full[i] for i in row], inputs.noun, cfg.history_token_budget)
        for h, row in zip(histories, sample.candidates, strict=True)
    ]
    asked = ask(
        llm, [chat(p, EDGES_TEMPLATE) for p in prompts], [n] * len(prompts),
        lambda k: functools.partial(parse_pair, n=k), edges_expected, llm.stats,
    )  # fmt: skip
    scores = np.full(sample.candidates.shape, np.nan)
    picks = np.full(len(prompts), -1)
    for k, pair in enumerate(asked.values):
        if pair is not None:
            scores[k] = 0.0
            scores[k, pair[0] - 1], scores[k, pair[1] - 1] = 1.0, -1.0
            picks[k] = pair[0] - 1
    summary = asked.summary()
    parse = {key: summary[key] for key in ("prompts", "failed_requests", "rejected_first_answers",
                                           "repaired", "invalid_after_repair", "usable")}  # fmt: skip
    return scores, {"parse": parse, "position_bias": position_counts(picks, n), "_tokens": prompts}


def _pointwise(
    llm: Any,
    inputs: Inputs,
    full: list[str],
    histories: list[list[str]],
    sample: ProbeSample,
    cfg: ProbeConfig,
) -> tuple[np.ndarray, dict[str, Any]]:
    """One yes/no question per candidate, scored by P(yes)."""
    prompts = [
        pointwise_prompt(h, full[i], inputs.noun, cfg.history_token_budget)
        for h, row in zip(histories, sample.candidates, strict=True)
        for i in row
    ]
    scored = ask_pointwise(llm, [pointwise_request(p, cfg.top_logprobs) for p in prompts])
    return scored.scores.reshape(sample.candidates.shape), {"parse": scored.summary(), "_tokens": prompts}


def _projection(
    prompts: list[str], mode: str, inputs: Inputs, cfg: ProbeConfig, llm: LLMConfig
) -> dict[str, Any]:
    """Estimated prompts, tokens and cost of asking every user with a history, from the probe's prompts."""
    users = int((np.diff(inputs.train.user_items.indptr) > 0).sum())
    per_user = 1 if mode == "listwise" else cfg.n_candidates
    mean_in = float(np.mean([estimate_tokens(p) for p in prompts])) if prompts else 0.0
    n = users * per_user
    tokens_in, tokens_out = round(n * mean_in), n * COMPLETION_TOKENS[mode]
    price_in, price_out = {m: (a, b) for m, a, b in llm.prices}.get(llm.model, (0.0, 0.0))
    return {
        "users": users,
        "prompts": n,
        "prompt_tokens_estimated": tokens_in,
        "completion_tokens_estimated": tokens_out,
        "cost_usd_estimated": round((tokens_in * price_in + tokens_out * price_out) / 1e6, 4),
    }
