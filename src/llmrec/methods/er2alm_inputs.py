"""ER2ALM's first three stages (retrieve, supplement, analyse) and the helpers every stage shares.

Each stage keeps its output in OUT/er2alm_inputs (fingerprinted JSON, TSV views;
`llmrec.er2alm.artefacts`) so a rerun reads it back, and hands its values on in memory. The recipe is
`llmrec.methods.er2alm`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from llmrec import config as cfgmod
from llmrec.augment.candidates import top_candidates
from llmrec.augment.edges import llm_edges, local_edges
from llmrec.augment.inputs import Inputs, ItemLines
from llmrec.augment.prompts import EDGES_TEMPLATE, item_noun
from llmrec.data.download import sha256_of
from llmrec.encode import SentenceEncoder, VectorStore, encode_texts
from llmrec.er2alm import artefacts as store
from llmrec.er2alm.config import ER2ALMConfig
from llmrec.er2alm.prompts import ASPECTS_TEMPLATE, PROFILE_TEMPLATE, WEIGHTS_TEMPLATE
from llmrec.er2alm.supplement import basic_attributes, documents_of, llm_supplement, local_supplement
from llmrec.er2alm.teacher import LOCAL_TEACHER
from llmrec.er2alm.users import enriched_line, eta_subset, llm_analysis, local_analysis
from llmrec.errors import ConfigError
from llmrec.evaluate import model_scorer
from llmrec.llm import Accounting, CachedLLM, open_llm, resolve_llm_config
from llmrec.retrieval import (
    IMDB_DETAILS,
    MELU,
    GateConfig,
    Retriever,
    RetrieverConfig,
    load_corpus,
    retrieve_items,
)
from llmrec.stages import Method, RunContext

RETRIEVAL, ASPECTS, USERS, VECTORS, GATE = (
    f"er2alm.{n}" for n in ("retrieval", "aspects", "users", "vectors", "gate")
)
FOLDER = "er2alm_inputs"  # beside the model folder OUT/er2alm
LLM_FIELDS = ("backend", "model", "base_url", "replay_path", "temperature", "max_tokens")


def stage_folder(ctx: RunContext) -> Path:
    """OUT/er2alm_inputs (an ablation variant's own folder under its root)."""
    path = ctx.root / FOLDER
    path.mkdir(parents=True, exist_ok=True)
    return path


def items_of(ctx: RunContext) -> list[dict[str, str]]:
    """Each item's basic attributes (title, year, genres) as text, by internal index."""
    meta, n_items = ctx.prepared.dataset.item_meta, ctx.prepared.split.train.n_items
    return basic_attributes(meta, n_items, ctx.cfg.data.dataset)


def encoder_of(ctx: RunContext) -> SentenceEncoder:
    """The run's text encoder ([augment] encoder; an LLM encoder is not offered here)."""
    aug = ctx.cfg.augment
    if aug.encoder == "llm":
        raise ConfigError("er2alm embeds with a sentence encoder: set augment.encoder to a model name")
    return SentenceEncoder(aug.encoder, aug.encode_batch, bool(ctx.show_progress))


def _llm_key(ctx: RunContext, section: ER2ALMConfig) -> dict[str, Any] | None:
    """What decides the teacher's answers, for fingerprints (None: the no-LLM teacher)."""
    if section.teacher == "local":
        return None
    cfg = resolve_llm_config(ctx.cfg.llm, ctx.env)
    return {k: getattr(cfg, k) for k in LLM_FIELDS}


def teacher_of(ctx: RunContext, section: ER2ALMConfig) -> dict[str, Any]:
    """Who wrote the aspects, profiles, weights and picks: recorded in every output."""
    if section.teacher == "local":
        return dict(LOCAL_TEACHER)
    cfg = resolve_llm_config(ctx.cfg.llm, ctx.env)
    return {"kind": "llm", "backend": cfg.backend, "model": cfg.model, "base_url": cfg.base_url}


def _open(ctx: RunContext) -> CachedLLM:
    """The cached LLM of the run's [llm] config."""
    return open_llm(resolve_llm_config(ctx.cfg.llm, ctx.env), ctx.env)


def _base_key(ctx: RunContext) -> dict[str, str]:
    """Hashes of the base run's split and first model: what the candidates depend on."""
    base = ctx.base()
    files = [base.out / "split.npz", base.out / f"model-seed{base.cfg.seed}.pt"]
    return {f.name: sha256_of(f) for f in files if f.is_file()} | {"name": base.name}


def retrieve_stage(ctx: RunContext, method: Method) -> None:
    """R and A of Eq. 1: search the corpus with each item's basic attributes; keep trusted passages."""
    section: ER2ALMConfig = method.config(ctx.cfg)
    items = items_of(ctx)
    n = len(items)
    if not section.retrieval:
        ctx.values[RETRIEVAL] = {
            "key": "off",
            "passages": [None] * n,
            "documents": [None] * n,
            "audit": {"retrieval": "off"},
        }
        return
    path = store.find_file(section.corpus, ctx.data_dirs)
    key = cfgmod.fingerprint(
        {
            "items": items,
            "corpus": sha256_of(path),
            "format": section.corpus_format,
            "mode": section.retrieval_mode,
            "encoder": ctx.cfg.augment.encoder,
        }
    )

    def build() -> dict[str, Any]:
        corpus = load_corpus(path, IMDB_DETAILS if section.corpus_format == "imdb" else MELU)
        vectors = VectorStore(ctx.cfg.augment.vector_cache)
        try:
            mode: Any = section.retrieval_mode  # checked by ER2ALMConfig
            retriever = Retriever(corpus, encoder_of(ctx), RetrieverConfig(mode=mode), vectors)
            frame = pd.DataFrame(items).reindex(columns=["title", "year", "genres"])
            frame["year"] = pd.to_numeric(frame["year"], errors="coerce")
            result = retrieve_items(frame, retriever, GateConfig())
        finally:
            vectors.close()
        table = result.to_frame().reset_index(drop=True)
        table.insert(0, "item_id", ctx.prepared.split.train.item_ids.astype(str))
        store.write_table(stage_folder(ctx) / "retrieval.tsv", table.drop(columns=["passage"]))
        audit = {
            "corpus": str(path),
            "documents": len(corpus),
            "corpus_stats": corpus.stats.__dict__,
            **result.audit,
        }
        return {
            "passages": result.passages,
            "documents": documents_of(result.decisions, corpus.fields),
            "audit": audit,
        }

    ctx.values[RETRIEVAL] = store.load_or_build(stage_folder(ctx) / "retrieval.json", key, build)


def supplement_stage(ctx: RunContext, method: Method) -> None:
    """Eq. 1: each item's aspects from its basic attributes and passage (LLM or no-LLM teacher)."""
    section: ER2ALMConfig = method.config(ctx.cfg)
    retrieved = ctx.values[RETRIEVAL]
    items = items_of(ctx)
    item_ids = ctx.prepared.split.train.item_ids.astype(str).tolist()
    key = cfgmod.fingerprint(
        {
            "retrieval": retrieved["key"],
            "aspects": section.aspects,
            "teacher": section.teacher,
            "llm": _llm_key(ctx, section),
            "template": ASPECTS_TEMPLATE,
            "passage_words": section.passage_words,
        }
    )

    def build() -> dict[str, Any]:
        if section.teacher == "local":
            result = local_supplement(items, retrieved["documents"], section.aspects)
            usage: dict[str, Any] = {}
        else:
            accounting = Accounting(resolve_llm_config(ctx.cfg.llm, ctx.env).prices)
            llm = _open(ctx)
            try:
                llm.stats = accounting.stage("er2alm-aspects")
                aug = ctx.cfg.augment
                result = llm_supplement(
                    llm,
                    llm.stats,
                    items,
                    item_ids,
                    retrieved["passages"],
                    section.aspects,
                    item_noun(ctx.cfg.data.dataset),
                    section.passage_words,
                    aug.prompt_token_budget,
                    aug.audit_samples,
                    aug.seed,
                )
            finally:
                llm.close()
            usage = accounting.to_dict()
        frame = pd.DataFrame(result.values).reindex(columns=list(section.aspects))
        frame.insert(0, "item_id", item_ids)
        frame["source"] = result.source
        store.write_table(stage_folder(ctx) / "aspects.tsv", frame)
        return {
            "values": result.values,
            "source": result.source,
            "report": result.report,
            "coverage": result.coverage(),
            "samples": result.samples,
            "llm_usage": usage,
        }

    ctx.values[ASPECTS] = store.load_or_build(stage_folder(ctx) / "aspects.json", key, build)


def analyse_stage(ctx: RunContext, method: Method) -> None:
    """Eqs. 2-3 and Prompt_W from the training histories; LLM-picked liked / disliked candidates."""
    section: ER2ALMConfig = method.config(ctx.cfg)
    aspects_out = ctx.values[ASPECTS]
    aug = ctx.cfg.augment
    key = cfgmod.fingerprint(
        {
            "aspects": aspects_out["key"],
            "base": _base_key(ctx),
            "teacher": section.teacher,
            "llm": _llm_key(ctx, section),
            "templates": [PROFILE_TEMPLATE, WEIGHTS_TEMPLATE, EDGES_TEMPLATE],
            "fallback": section.fallback_weight,
            "eta": section.eta,
            "augment": cfgmod.to_dict(aug),
        }
    )
    ctx.values[USERS] = store.load_or_build(
        stage_folder(ctx) / "users.json", key, lambda: _analyse(ctx, section, aspects_out)
    )


def _analyse(ctx: RunContext, section: ER2ALMConfig, aspects_out: dict[str, Any]) -> dict[str, Any]:
    """Profiles, weights and picked triples of every user."""
    split, aug = ctx.prepared.split, ctx.cfg.augment
    train = split.train.user_items
    items = items_of(ctx)
    item_ids = split.train.item_ids.astype(str)
    values = aspects_out["values"]
    noun = item_noun(ctx.cfg.data.dataset)
    lines = [
        enriched_line(m, a, item_ids[i], aug.max_field_words)
        for i, (m, a) in enumerate(zip(items, values, strict=True))
    ]
    brief = [
        enriched_line(m, a, item_ids[i], aug.history_field_words)
        for i, (m, a) in enumerate(zip(items, values, strict=True))
    ]
    base = ctx.base()
    candidates = top_candidates(model_scorer(base.model(), base.graph), train, aug.n_candidates)
    inputs = Inputs(split.train, split.valid, items, [{} for _ in range(split.train.n_users)], noun)
    usage: dict[str, Any] = {}
    if section.teacher == "local":
        users = local_analysis(train, values, section.aspects, aug.seed)
        encoder, vectors = encoder_of(ctx), VectorStore(aug.vector_cache)
        try:
            item_vecs = encode_texts(lines, encoder, vectors)
        finally:
            vectors.close()
        edges = local_edges(item_vecs, inputs, ItemLines(lines, brief), candidates, aug)
    else:
        accounting = Accounting(resolve_llm_config(ctx.cfg.llm, ctx.env).prices)
        llm = _open(ctx)
        try:
            stats = (accounting.stage("er2alm-profiles"), accounting.stage("er2alm-weights"))
            llm.stats = stats[0]
            users = llm_analysis(
                llm,
                stats,
                train,
                items,
                item_ids.tolist(),
                values,
                section.aspects,
                noun,
                aug.history_token_budget,
                aug.prompt_token_budget,
                aug.history_field_words,
                section.fallback_weight,
                aug.audit_samples,
                aug.seed,
            )
            llm.stats = accounting.stage("er2alm-edges")
            edges = llm_edges(llm, llm.stats, inputs, ItemLines(lines, brief), candidates, aug)
        finally:
            llm.close()
        usage = accounting.to_dict()
    keep = eta_subset(len(edges.users), split.train.n_users, section.eta, aug.seed)
    return {
        "profiles": users.profiles,
        "weights": users.weights.round(4).tolist(),
        "report": users.report,
        "samples": users.samples,
        "llm_usage": usage,
        "edges": {
            "user": edges.users[keep].tolist(),
            "pos": edges.pos[keep].tolist(),
            "neg": edges.neg[keep].tolist(),
            "report": {**edges.report, "picked": len(edges.users), "kept_by_eta": int(len(keep))},
        },
    }
