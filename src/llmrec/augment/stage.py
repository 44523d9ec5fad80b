"""The augmentation stage: base model -> candidates -> attributes, edges, profiles -> text vectors -> audit.

It is handed the base model in memory (`BaseRun`: the model, the graph it trained on, its split and
its run folder) and writes everything into `out`. The folder is keyed by a fingerprint of the base
run's files and the config, defaults included: an unchanged rerun returns the saved audit without
scoring a model or asking an LLM, a changed one rebuilds. The LLM's cache makes a rebuild after an
interruption cost only the prompts not yet answered.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from llmrec import config as cfgmod
from llmrec.atomic import write_json, write_text
from llmrec.augment import artefacts
from llmrec.augment.attributes import AttributeResult, from_dataset, llm_attributes
from llmrec.augment.audit import attribute_coverage, edge_quality, format_audit
from llmrec.augment.candidates import top_candidates
from llmrec.augment.config import AugmentConfig
from llmrec.augment.edges import EdgeResult, llm_edges, local_edges, measured_edges, pointwise_edges
from llmrec.augment.inputs import Inputs, ItemLines, describe_items, item_lines, load_inputs
from llmrec.augment.llmrec_io import Release, export_llmrec, import_files, import_release
from llmrec.augment.measure import POPULARITY_TEACHER, simulated_record
from llmrec.augment.pointwise import POINTWISE_TEMPLATE
from llmrec.augment.probe_stats import PROBE_JSON, failed_probe
from llmrec.augment.profiles import ProfileResult, llm_profiles, local_profiles, profile_text
from llmrec.augment.prompts import ATTRIBUTES_TEMPLATE, EDGES_TEMPLATE, PROFILES_TEMPLATE, item_noun
from llmrec.augment.teacher import LOCAL_TEACHER
from llmrec.config import RunConfig
from llmrec.data.dataset import Split
from llmrec.data.download import sha256_of
from llmrec.encode import Encoder, EncodeStats, LLMEncoder, SentenceEncoder, VectorStore, encode_texts
from llmrec.errors import ConfigError
from llmrec.evaluate import model_scorer
from llmrec.graph import Graph
from llmrec.llm import Accounting, CachedLLM, LLMConfig, StageStats, open_llm, resolve_llm_config

log = logging.getLogger("llmrec")
ARTEFACT_VERSION = 1  # bump when what a file holds changes, so old folders are rebuilt
BASE_FILES = ("config.toml", "split.npz", "items.tsv", "users.tsv")
# LLM settings that change answers; concurrency, retries and the like do not
LLM_ANSWER_FIELDS = (
    "backend",
    "model",
    "embedding_model",
    "base_url",
    "replay_path",
    "temperature",
    "max_tokens",
)


@dataclass(frozen=True, eq=False)
class BaseRun:
    """The trained model whose top-N are the candidates: its first seed's selected model and the graph
    it trained on, its run folder and config, the split, and why it was chosen."""

    path: Path
    cfg: RunConfig
    selected_by: str
    split: Split
    model: Any  # a trained model: `score(users, graph)` is its contract, not an nn.Module type
    graph: Graph | None


def augment(
    base: BaseRun,
    aug: AugmentConfig,
    out: Path,
    llm: LLMConfig | None = None,
    env: Mapping[str, str] | None = None,
    show_progress: bool | None = None,
) -> dict[str, Any]:
    """Augment from a trained base model into `out` (or reuse an up-to-date folder); returns the audit,
    also saved in `out`.

    `llm` is needed when `aug.teacher` or `aug.encoder` is "llm"; `env` supplies the LLM's base URL,
    model and API key variables (see docs/llm.md). Progress bars show on a terminal unless
    `show_progress` says otherwise.
    """
    start = time.perf_counter()
    env = {} if env is None else env
    llm_cfg = _llm_config(aug, llm, env)
    if llm_cfg is not None and llm_cfg.backend == "openai_batch" and not llm_cfg.batch_dir:
        llm_cfg = replace(llm_cfg, batch_dir=str(out))  # a rerun finds its batches in the folder
    teacher = teacher_record(aug, llm_cfg)
    if llm_cfg is not None and aug.teacher == "llm":
        warn_failed_probe(base.path, aug, llm_cfg)
    fingerprint = augment_fingerprint(base, aug, llm_cfg)
    saved = artefacts.reuse(out, fingerprint)
    if saved is not None:
        log.info("augment: %s is up to date (fingerprint %s): reused", out, fingerprint)
        return {**saved, "reused": True}
    artefacts.invalidate(out)
    split = base.split
    inputs = load_inputs(base.path, split, item_noun(base.cfg.data.dataset))
    log.info(
        "augment: %s users, %s items; candidates: top-%d of %s (%s)",
        f"{inputs.n_users:,}", f"{inputs.n_items:,}", aug.n_candidates, base.cfg.model.name, base.selected_by,
    )  # fmt: skip
    if aug.teacher == "simulated" and split.pool is None:
        raise ConfigError(
            f"augment.teacher: the simulated teacher needs a teacher pool, and the split of {base.path} has "
            "none; set split.teacher_pool (e.g. 0.1) and run again"
        )
    release = (
        import_release(Path(aug.import_dir), inputs, aug.attributes) if aug.teacher == "llmrec" else None
    )
    candidates = candidates_of(base, aug.n_candidates)
    accounting = Accounting(llm_cfg.prices if llm_cfg else ())
    encode_stats = EncodeStats()
    with ExitStack() as stack:
        cached = open_llm(llm_cfg, env) if llm_cfg is not None else None
        if cached is not None:
            stack.callback(cached.close)
        store = VectorStore(aug.vector_cache)
        stack.callback(store.close)
        encoder = _encoder(aug, cached, show_progress)

        def encode(texts: list[str], dim: int | None = None) -> np.ndarray:
            """Vectors of `texts` through the vector cache, counted in `encode_stats`."""
            if cached is not None and aug.encoder == "llm":  # embedding requests: a stage of their own
                cached.stats, cached.on_progress = accounting.stage("encode"), None
            return encode_texts(texts, encoder, store, encode_stats, dim)

        def asker(stage: str) -> Any:
            """The LLM for one augmentation, counting into its own stage of `accounting`."""
            return _stage_llm(cached, accounting.stage(stage), show_progress)

        item_text = encode(item_lines(inputs, aug.max_field_words))
        attrs = _attributes(aug, inputs, asker, release) if aug.item_attributes else None
        extra = attrs.values if attrs else None
        lines = describe_items(inputs, aug.max_field_words, aug.history_field_words, extra)
        edges = (
            _edges(aug, inputs, lines, candidates, item_text, asker, release, split) if aug.edges else None
        )
        profiles = _profiles(aug, inputs, lines, attrs, asker, release) if aug.profiles else None
        vectors = {"item_text": item_text}
        if aug.encode:
            vectors.update(_encode_outputs(aug, attrs, profiles, encode, item_text.shape[1]))
        accounting.endpoints = cached.endpoint_report() if cached is not None else []
    results = {"edges": edges, "attributes": attrs, "profiles": profiles}
    audit = {
        "teacher": teacher,
        "base": {
            "run_dir": str(base.path),
            "model": base.cfg.model.name,
            "seed": base.cfg.seed,
            "selected_by": base.selected_by,
        },
        "dataset": base.cfg.data.dataset,
        "n_candidates": aug.n_candidates,
        "users": inputs.n_users,
        "items": inputs.n_items,
        "untitled_items": sum(not meta.get("title") for meta in inputs.items),
        "edges": _edge_audit(edges, candidates, inputs, aug),
        "attributes": _attribute_audit(attrs),
        "profiles": profiles.report if profiles else None,
        "encoding": {"model": encoder.id, **encode_stats.to_dict()},
        "llm_usage": accounting.to_dict()["total"],
        "llm_endpoints": accounting.endpoints,  # per-server counters when [llm] base_urls spread the load
        "samples": {name: r.samples for name, r in results.items() if r is not None and r.samples},
        "fingerprint": fingerprint,
        "config": cfgmod.to_dict(aug),
    }
    audit["seconds"] = round(time.perf_counter() - start, 2)
    _write(out, fingerprint, teacher, inputs, edges, attrs, profiles, vectors, encoder.id, accounting, audit)
    return audit


def warn_failed_probe(run_dir: Path, aug: AugmentConfig, llm: LLMConfig) -> str | None:
    """Log (and return) a warning when `llmrec teacher probe` saved, next to the base run, a verdict that
    this teacher in this question mode adds nothing beyond popularity (docs/teacher.md)."""
    for folder in (run_dir, run_dir.parent):
        path = folder / PROBE_JSON
        if not path.is_file():
            continue
        try:
            report = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue  # a damaged report says nothing either way
        found = failed_probe(report, f"LLM {llm.backend} / {llm.model}", aug.edge_mode)
        if found is not None:
            message = (
                f"augment: the teacher {llm.backend} / {llm.model} failed its probe in {aug.edge_mode} mode "
                f"({path}): {found}"
            )
            log.warning(message)
            return message
    return None


def candidates_of(base: BaseRun, n: int) -> np.ndarray:
    """Each user's top-n items by the base model, training items excluded, scored on the graph the
    model trained on (train plus any extra edges it saw), not on a rebuilt one."""
    return top_candidates(model_scorer(base.model, base.graph), base.split.train.user_items, n)


def teacher_record(aug: AugmentConfig, llm: LLMConfig | None) -> dict[str, Any]:
    """Who produced the augmentations, as recorded in every output."""
    if aug.teacher == "local":
        return dict(LOCAL_TEACHER)
    if aug.teacher == "popularity":
        return dict(POPULARITY_TEACHER)
    if aug.teacher == "simulated":
        return simulated_record(aug.simulated_quality)
    if aug.teacher == "llmrec":
        return {"kind": "llm", "backend": "llmrec-release", "model": "unknown", "source": aug.import_dir}
    assert llm is not None  # _llm_config insists on one for this teacher
    record = {"kind": "llm", "backend": llm.backend, "model": llm.model, "base_url": llm.base_url}
    return {**record, "base_urls": list(llm.base_urls)} if llm.base_urls else record


def augment_fingerprint(base: BaseRun, aug: AugmentConfig, llm: LLMConfig | None) -> str:
    """Hash of the base run's files, the import files, the config and what decides the LLM's answers."""
    files = [base.path / n for n in BASE_FILES] + [base.path / f"model-seed{base.cfg.seed}.pt"]
    if aug.teacher == "llmrec":
        files += import_files(Path(aug.import_dir))
    return cfgmod.fingerprint(
        {
            "version": ARTEFACT_VERSION,
            "templates": [EDGES_TEMPLATE, ATTRIBUTES_TEMPLATE, PROFILES_TEMPLATE]
            + ([POINTWISE_TEMPLATE] if aug.edge_mode == "pointwise" else []),
            "files": {f.name: sha256_of(f) for f in files if f.is_file()},
            "augment": cfgmod.to_dict(aug),
            "llm": {k: getattr(llm, k) for k in LLM_ANSWER_FIELDS} if llm else None,
        }
    )


def export_run(base: BaseRun, aug: AugmentConfig, folder: Path, dest: Path) -> list[str]:
    """Write the augmentation `folder` (made from `base`) in LLMRec's released layout (see `llmrec_io`);
    returns the files."""
    inputs = load_inputs(base.path, base.split, item_noun(base.cfg.data.dataset))
    return export_llmrec(folder, dest, inputs, aug.attributes)


def _llm_config(aug: AugmentConfig, llm: LLMConfig | None, env: Mapping[str, str]) -> LLMConfig | None:
    """The resolved LLM config when the teacher or the encoder needs one, else None."""
    if aug.teacher != "llm" and aug.encoder != "llm":
        return None
    if llm is None:
        raise ConfigError("augment: the llm teacher and the llm encoder need an [llm] config")
    return resolve_llm_config(llm, env)


def _encoder(aug: AugmentConfig, llm: CachedLLM | None, show_progress: bool | None) -> Encoder:
    """The configured text encoder."""
    if aug.encoder == "llm":
        assert llm is not None  # _llm_config opened one for this encoder
        return LLMEncoder(llm)
    return SentenceEncoder(aug.encoder, aug.encode_batch, bool(show_progress))


@contextmanager
def _stage_llm(llm: CachedLLM | None, stats: StageStats, show: bool | None) -> Iterator[CachedLLM]:
    """The LLM counting into `stats`, with a progress bar of the stage's prompts."""
    assert llm is not None  # only the llm teacher asks
    bar = tqdm(desc=stats.name, unit="prompt", leave=False, disable=None if show is None else not show)

    def report(s: StageStats) -> None:
        bar.total, bar.n = s.items, s.done
        bar.set_postfix_str(s.progress_text(), refresh=True)

    llm.stats, llm.on_progress = stats, report
    try:
        yield llm
    finally:
        bar.close()
        log.info("augment: %s", stats.progress_text())


def _attributes(
    aug: AugmentConfig, inputs: Inputs, asker: Callable[[str], Any], release: Release | None
) -> AttributeResult:
    """Item attributes from the configured teacher (an import without them: the dataset's own)."""
    if aug.teacher == "llm":
        with asker("attributes") as llm:
            return llm_attributes(llm, llm.stats, inputs, aug)
    if release is not None and release.attributes is not None:
        return release.attributes
    return from_dataset(inputs, aug.attributes)


def _edges(
    aug: AugmentConfig,
    inputs: Inputs,
    lines: ItemLines,
    candidates: np.ndarray,
    item_text: np.ndarray,
    asker: Callable[[str], Any],
    release: Release | None,
    split: Split,
) -> EdgeResult | None:
    """Augmented (user, pos, neg) triples from the configured teacher (None: the import has none)."""
    if aug.teacher in ("popularity", "simulated"):
        pool = split.pool.user_items if split.pool is not None else None
        return measured_edges(inputs, lines, candidates, aug, pool)
    if aug.teacher == "llm" and aug.edge_mode == "pointwise":
        with asker("edges") as llm:
            return pointwise_edges(llm, inputs, lines, candidates, aug)
    if aug.teacher == "llm":
        with asker("edges") as llm:
            return llm_edges(llm, llm.stats, inputs, lines, candidates, aug)
    if release is not None:
        return release.edges
    return local_edges(item_text, inputs, lines, candidates, aug)


def _profiles(
    aug: AugmentConfig,
    inputs: Inputs,
    lines: ItemLines,
    attrs: AttributeResult | None,
    asker: Callable[[str], Any],
    release: Release | None,
) -> ProfileResult | None:
    """User profiles from the configured teacher (None: the import has none)."""
    if aug.teacher == "llm":
        with asker("profiles") as llm:
            return llm_profiles(llm, llm.stats, inputs, lines, aug)
    if release is not None:
        return release.profiles
    values = attrs.values if attrs is not None else {}
    items = [
        {**meta, **{n: v for n, column in values.items() if (v := column[i]) is not None}}
        for i, meta in enumerate(inputs.items)
    ]
    return local_profiles(inputs, items, aug)


def _encode_outputs(
    aug: AugmentConfig,
    attrs: AttributeResult | None,
    profiles: ProfileResult | None,
    encode: Callable[[list[str], int | None], np.ndarray],
    dim: int,
) -> dict[str, np.ndarray]:
    """Vectors of each attribute, of all attributes together, and of each profile, in one encoder pass."""
    texts: dict[str, list[str]] = {}
    if attrs is not None:
        for name in aug.attributes:
            texts[f"item_attr_{name}"] = [v or "" for v in attrs.values[name]]
        n_items = len(next(iter(attrs.values.values()))) if attrs.values else 0
        texts["item_attr_all"] = [
            "; ".join(f"{n}: {attrs.values[n][i]}" for n in aug.attributes if attrs.values[n][i])
            for i in range(n_items)
        ]
    if profiles is not None:
        texts["user_profile"] = [profile_text(p) if p else "" for p in profiles.profiles]
    flat = [t for column in texts.values() for t in column]
    vectors = encode(flat, dim)
    out, offset = {}, 0
    for name, column in texts.items():
        out[name] = vectors[offset : offset + len(column)]
        offset += len(column)
    return out


def _edge_audit(
    edges: EdgeResult | None, candidates: np.ndarray, inputs: Inputs, aug: AugmentConfig
) -> dict[str, Any] | None:
    """The edges report plus the validation-hit shares against the baselines."""
    if edges is None:
        return None
    quality = edge_quality(edges.users, edges.pos, edges.neg, candidates, inputs.valid.user_items, aug.seed)
    return {**edges.report, "quality": quality}


def _attribute_audit(attrs: AttributeResult | None) -> dict[str, Any] | None:
    """The attributes report plus coverage by source."""
    if attrs is None:
        return None
    return {**attrs.report, "coverage": attribute_coverage(attrs.sources, attrs.values)}


def _write(
    out: Path,
    fingerprint: str,
    teacher: dict[str, Any],
    inputs: Inputs,
    edges: EdgeResult | None,
    attrs: AttributeResult | None,
    profiles: ProfileResult | None,
    vectors: dict[str, np.ndarray],
    encoder_id: str,
    accounting: Accounting,
    audit: dict[str, Any],
) -> None:
    """Every artefact, then the manifest that vouches for them."""
    user_ids, item_ids = inputs.train.user_ids, inputs.train.item_ids
    files: list[str] = []
    if edges is not None:
        files += artefacts.write_edges(out, edges.users, edges.pos, edges.neg, user_ids, item_ids, teacher)
    if attrs is not None:
        files += artefacts.write_attributes(out, item_ids, attrs.values, attrs.sources, teacher)
    if profiles is not None:
        files += artefacts.write_profiles(out, user_ids, profiles.profiles, teacher)
    files += artefacts.write_embeddings(out, vectors, encoder_id, teacher)
    write_json(out / artefacts.USAGE_JSON, {"teacher": teacher, **accounting.to_dict()})
    write_json(out / artefacts.AUDIT_JSON, audit)
    write_text(out / artefacts.AUDIT_TXT, format_audit(audit) + "\n")
    files += [artefacts.USAGE_JSON, artefacts.AUDIT_JSON, artefacts.AUDIT_TXT]
    created = datetime.now(UTC).isoformat(timespec="seconds")
    artefacts.write_manifest(out, fingerprint, files, {"teacher": teacher, "created": created})
