"""ER2ALM (Wei et al., "Enhanced Recommendation Systems with Retrieval-Augmented Large Language
Model") as a recipe: retrieve -> supplement -> analyse -> embed -> gate -> train (Algorithm 1).

Each stage keeps its output in OUT/er2alm_inputs (fingerprinted JSON, TSV views; `llmrec.er2alm.artefacts`)
so a rerun reads it back, and hands its values to the next in memory. The teacher is an LLM through
the cached, costed layer, or the labelled no-LLM teacher. docs/er2alm.md lists every choice the paper
leaves open and the knob that sets it.
"""

from __future__ import annotations

import math
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from llmrec import config as cfgmod
from llmrec.augment.candidates import top_candidates
from llmrec.augment.edges import llm_edges, local_edges
from llmrec.augment.inputs import Inputs, ItemLines
from llmrec.augment.prompts import EDGES_TEMPLATE, item_noun
from llmrec.config import RunConfig
from llmrec.data.download import sha256_of
from llmrec.encode import SentenceEncoder, VectorStore, encode_texts
from llmrec.er2alm import artefacts as store
from llmrec.er2alm.config import ER2ALMConfig
from llmrec.er2alm.embed import aspect_vectors, pool_items, weighted_profiles
from llmrec.er2alm.prompts import ASPECTS_TEMPLATE, PROFILE_TEMPLATE, WEIGHTS_TEMPLATE
from llmrec.er2alm.reliability import ROUTES, run_gate
from llmrec.er2alm.supplement import basic_text, documents_of, llm_supplement, local_supplement
from llmrec.er2alm.teacher import LOCAL_TEACHER
from llmrec.er2alm.users import enriched_line, llm_analysis, local_analysis
from llmrec.errors import ConfigError, DataError
from llmrec.evaluate import model_scorer
from llmrec.experiment import train_seeds
from llmrec.factory import model_options
from llmrec.features import FeatureSpec, load_augmented
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
from llmrec.stages import BASE, Method, RunContext, Stage, Variant, trained

RETRIEVAL, ASPECTS, USERS, VECTORS, GATE = (
    f"er2alm.{n}" for n in ("retrieval", "aspects", "users", "vectors", "gate")
)
FOLDER, FEATURES = "er2alm_inputs", "features"  # beside the model folder OUT/er2alm
LLM_FIELDS = ("backend", "model", "base_url", "replay_path", "temperature", "max_tokens")
FEATURE_SPECS = (
    FeatureSpec("er2alm.profiles", "user", "profile", "user_profile", "er2alm (weighted profiles)"),
    FeatureSpec("er2alm.basic_text", "item", "basic", "item_basic", "er2alm (basic attributes)"),
    FeatureSpec("er2alm.item_info", "item", "aspects", "item_aspects", "er2alm (gated aspects)"),
)


def _folder(ctx: RunContext) -> Path:
    """OUT/er2alm_inputs (an ablation variant's own folder under its root)."""
    path = ctx.root / FOLDER
    path.mkdir(parents=True, exist_ok=True)
    return path


def _items(ctx: RunContext) -> list[dict[str, str]]:
    """Each item's basic attributes (title, year, genres) as text, by internal index."""
    meta = ctx.prepared.dataset.item_meta
    n_items = ctx.prepared.split.train.n_items
    if meta is None or "title" not in meta.columns:
        raise DataError(f"er2alm needs item titles; dataset {ctx.cfg.data.dataset} has none")
    frame = meta.reindex(range(n_items))
    rows = []
    for r in frame.to_dict("records"):
        row = {"title": _text(r.get("title")), "year": _year(r.get("year")), "genres": _text(r.get("genres"))}
        rows.append({k: v for k, v in row.items() if v})
    return rows


def _text(value: Any) -> str:
    """A metadata cell as stripped text, '' when missing."""
    return "" if value is None or (isinstance(value, float) and math.isnan(value)) else str(value).strip()


def _year(value: Any) -> str:
    """A year cell as '1995', '' when missing."""
    text = _text(value)
    try:
        return str(int(float(text))) if text else ""
    except ValueError:
        return ""


def _corpus_path(name: str, dirs: tuple[Path, ...]) -> Path:
    """The corpus file: absolute, or the first data directory (then the working directory) holding it."""
    path = Path(name).expanduser()
    if path.is_absolute():
        if not path.is_file():
            raise DataError(f"er2alm.corpus: {path} not found")
        return path
    for folder in (*dirs, Path.cwd()):
        if (folder / path).is_file():
            return folder / path
    raise DataError(
        f"er2alm.corpus: {name} not found under {[str(d) for d in dirs] or ['.']} or the working directory"
    )


def _encoder(ctx: RunContext) -> SentenceEncoder:
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


def _teacher(ctx: RunContext, section: ER2ALMConfig) -> dict[str, Any]:
    """Who wrote the aspects, profiles, weights and picks: recorded in every output."""
    if section.teacher == "local":
        return dict(LOCAL_TEACHER)
    cfg = resolve_llm_config(ctx.cfg.llm, ctx.env)
    return {"kind": "llm", "backend": cfg.backend, "model": cfg.model, "base_url": cfg.base_url}


def _open(ctx: RunContext) -> CachedLLM:
    """The cached LLM of the run's [llm] config."""
    return open_llm(resolve_llm_config(ctx.cfg.llm, ctx.env), ctx.env)


def retrieve_stage(ctx: RunContext, method: Method) -> None:
    """R and A of Eq. 1: search the corpus with each item's basic attributes; keep trusted passages."""
    section: ER2ALMConfig = method.config(ctx.cfg)
    items = _items(ctx)
    n = len(items)
    if not section.retrieval:
        ctx.values[RETRIEVAL] = {
            "key": "off",
            "passages": [None] * n,
            "documents": [None] * n,
            "audit": {"retrieval": "off"},
        }
        return
    path = _corpus_path(section.corpus, ctx.data_dirs)
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
            retriever = Retriever(corpus, _encoder(ctx), RetrieverConfig(mode=mode), vectors)
            frame = pd.DataFrame(items).reindex(columns=["title", "year", "genres"])
            frame["year"] = pd.to_numeric(frame["year"], errors="coerce")
            result = retrieve_items(frame, retriever, GateConfig())
        finally:
            vectors.close()
        table = result.to_frame().reset_index(drop=True)
        table.insert(0, "item_id", ctx.prepared.split.train.item_ids.astype(str))
        store.write_table(_folder(ctx) / "retrieval.tsv", table.drop(columns=["passage"]))
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

    ctx.values[RETRIEVAL] = store.load_or_build(_folder(ctx) / "retrieval.json", key, build)


def supplement_stage(ctx: RunContext, method: Method) -> None:
    """Eq. 1: each item's aspects from its basic attributes and passage (LLM or no-LLM teacher)."""
    section: ER2ALMConfig = method.config(ctx.cfg)
    retrieved = ctx.values[RETRIEVAL]
    items = _items(ctx)
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
        store.write_table(_folder(ctx) / "aspects.tsv", frame)
        return {
            "values": result.values,
            "source": result.source,
            "report": result.report,
            "coverage": result.coverage(),
            "samples": result.samples,
            "llm_usage": usage,
        }

    ctx.values[ASPECTS] = store.load_or_build(_folder(ctx) / "aspects.json", key, build)


def _base_key(ctx: RunContext) -> dict[str, str]:
    """Hashes of the base run's split and first model: what the candidates depend on."""
    base = ctx.base()
    files = [base.out / "split.npz", base.out / f"model-seed{base.cfg.seed}.pt"]
    return {f.name: sha256_of(f) for f in files if f.is_file()} | {"name": base.name}


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
        _folder(ctx) / "users.json", key, lambda: _analyse(ctx, section, aspects_out)
    )


def _analyse(ctx: RunContext, section: ER2ALMConfig, aspects_out: dict[str, Any]) -> dict[str, Any]:
    """Profiles, weights and picked triples of every user."""
    split, aug = ctx.prepared.split, ctx.cfg.augment
    train = split.train.user_items
    items = _items(ctx)
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
        encoder, vectors = _encoder(ctx), VectorStore(aug.vector_cache)
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
    keep = _eta_subset(len(edges.users), split.train.n_users, section.eta, aug.seed)
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


def _eta_subset(n_picked: int, n_users: int, eta: float, seed: int) -> np.ndarray:
    """Table 2: ceil(2 |U| eta) augmented edges, i.e. ceil(|U| eta) triples (one liked, one disliked
    edge each), drawn at random from the picks (all when fewer were picked)."""
    wanted = min(n_picked, math.ceil(2 * n_users * eta / 2))
    return np.sort(np.random.default_rng(seed).choice(n_picked, size=wanted, replace=False))


def embed_stage(ctx: RunContext, method: Method) -> None:
    """Eqs. 4-5: basic-attribute, passage, aspect and profile vectors (through the vector cache)."""
    section: ER2ALMConfig = method.config(ctx.cfg)
    items = _items(ctx)
    item_ids = ctx.prepared.split.train.item_ids.astype(str)
    users = ctx.values[USERS]
    encoder, vectors = _encoder(ctx), VectorStore(ctx.cfg.augment.vector_cache)
    try:

        def encode(texts: list[str]) -> np.ndarray:
            return encode_texts(texts, encoder, vectors, dim=basic.shape[1] if basic is not None else None)

        basic = None
        basic = encode([basic_text(m, item_ids[i]) for i, m in enumerate(items)])
        passages = [p or "" for p in ctx.values[RETRIEVAL]["passages"]]
        marker = encode(passages) if any(passages) else np.zeros_like(basic)
        aspect = aspect_vectors(ctx.values[ASPECTS]["values"], section.aspects, encode)
        profile = aspect_vectors(users["profiles"], section.aspects, encode)
    finally:
        vectors.close()
    ctx.values[VECTORS] = {
        "basic": basic,
        "marker": marker,
        "aspect": aspect,
        "profile": profile,
        "encoder": encoder.id,
    }


def gate_stage(ctx: RunContext, method: Method) -> None:
    """Sec. 3.4: score every generated aspect against the trusted markers; keep the reliable ones."""
    section: ER2ALMConfig = method.config(ctx.cfg)
    vec, values = ctx.values[VECTORS], ctx.values[ASPECTS]["values"]
    table = [[row.get(a) for a in section.aspects] for row in values]
    present = np.array([[bool(v) for v in row] for row in table], dtype=bool).reshape(
        len(table), len(section.aspects)
    )
    knobs = {k: v for k, v in asdict(section).items() if k.startswith("gate")}
    key = cfgmod.fingerprint(
        {
            "aspects": ctx.values[ASPECTS]["key"],
            "retrieval": ctx.values[RETRIEVAL]["key"],
            "encoder": vec["encoder"],
            "gate": knobs,
        }
    )

    def build() -> dict[str, Any]:
        if not section.gate:
            n = int(present.sum())
            return {
                "kept": present.tolist(),
                "scores": None,
                "routes": None,
                "report": {"gate": "off", "aspects_present": n, "kept": n},
            }
        marker = vec["marker"] if section.gate_markers == "basic+passage" else np.zeros_like(vec["marker"])
        result = run_gate(section.reliability(), vec["basic"], marker, vec["aspect"], present)
        routes = [[ROUTES[r] for r in row] for row in result.routes]
        frame = store.gate_frame(
            ctx.prepared.split.train.item_ids.astype(str).tolist(),
            section.aspects,
            table,
            result.scores,
            routes,
            result.kept,
        )
        store.write_table(_folder(ctx) / "gate.tsv", frame)
        per_aspect = {
            a: {"present": int(present[:, k].sum()), "kept": int(result.kept[:, k].sum())}
            for k, a in enumerate(section.aspects)
        }
        return {
            "kept": result.kept.tolist(),
            "scores": np.nan_to_num(result.scores, nan=-1).round(4).tolist(),
            "routes": routes,
            "report": {**result.report, "per_aspect": per_aspect},
        }

    ctx.values[GATE] = store.load_or_build(_folder(ctx) / "gate.json", key, build)


def train_stage(ctx: RunContext, method: Method) -> None:
    """Sec. 3.5: the graph model on weighted profiles, gated aspects and picked triples, over the seeds."""
    section: ER2ALMConfig = method.config(ctx.cfg)
    split = ctx.prepared.split
    folder = _folder(ctx) / FEATURES
    key = _write_features(ctx, section, folder)
    wanted = [s for s in FEATURE_SPECS if getattr(section, s.switch.split(".")[1])]
    inputs = load_augmented(folder, split, wanted, section.edges, 0, "er2alm.edges")
    run = train_seeds(
        ctx.method_cfg(method.name),
        ctx.prepared,
        ctx.model_dir(method.name),
        name=method.name,
        inputs=inputs,
        method_key={"er2alm": asdict(section), "features": key},
        show_progress=ctx.show_progress,
    )
    ctx.trained[method.name] = ctx.values[trained(method.name)] = run
    ctx.notes["teacher"] = _teacher(ctx, section)
    ctx.notes["er2alm"] = _audit(ctx, section)


def _write_features(ctx: RunContext, section: ER2ALMConfig, folder: Path) -> str:
    """The feature folder the model reads (reused when its inputs are unchanged); returns its key."""
    vec, users, gate = ctx.values[VECTORS], ctx.values[USERS], ctx.values[GATE]
    switches = {
        k: getattr(section, k)
        for k in ("item_info", "basic_text", "profiles", "weights", "edges", "item_pooling")
    }
    key = cfgmod.fingerprint({"users": users["key"], "gate": gate["key"], "switches": switches, "version": 1})
    if store.features_ready(folder, key):
        return key
    kept = np.array(gate["kept"], dtype=bool).reshape(vec["aspect"].shape[:2])
    items, pooling = pool_items(vec["aspect"], kept, vec["basic"], section.item_pooling)
    weights = (
        np.array(users["weights"])
        if section.weights
        else np.ones((len(users["weights"]), len(section.aspects)))
    )
    has = np.array([[bool(p and p.get(a)) for a in section.aspects] for p in users["profiles"]], dtype=bool)
    matrices = {
        "item_basic": vec["basic"],
        "item_aspects": items,
        "user_profile": weighted_profiles(vec["profile"], weights, has),
    }
    edges = users["edges"]
    triples = None
    if section.edges:
        triples = (np.array(edges["user"]), np.array(edges["pos"]), np.array(edges["neg"]))
    base = ctx.base()
    audit = {
        "base": {"run_dir": str(base.out), "model": base.name},
        "encoder": vec["encoder"],
        "teacher": _teacher(ctx, section),
        "pooling": pooling,
        "switches": switches,
    }
    split = ctx.prepared.split
    store.write_features(
        folder,
        key,
        matrices,
        triples,
        split.train.user_ids,
        split.train.item_ids,
        _teacher(ctx, section),
        audit,
    )
    return key


def _audit(ctx: RunContext, section: ER2ALMConfig) -> dict[str, Any]:
    """What summary.json records of the run: retrieval, supplement, analysis, gate and LLM use."""
    aspects, users, gate = ctx.values[ASPECTS], ctx.values[USERS], ctx.values[GATE]
    return {
        "teacher": _teacher(ctx, section),
        "retrieval": ctx.values[RETRIEVAL]["audit"],
        "supplement": {**aspects["report"], "coverage": aspects["coverage"]},
        "analysis": users["report"],
        "edges": users["edges"]["report"],
        "gate": gate["report"],
        "llm_usage": {"aspects": aspects.get("llm_usage"), "users": users.get("llm_usage")},
    }


def switches(cfg: RunConfig) -> dict[str, bool]:
    """Which parts a config has on, for ablation rows."""
    section = cfgmod.from_dict(ER2ALMConfig, cfg.sections.get("er2alm", {}), "er2alm")
    model = model_options(cfg.model, "er2alm")
    names = ("retrieval", "item_info", "profiles", "weights", "edges", "gate", "gate_cosine")
    return {n: bool(getattr(section, n)) for n in names} | {"pruning": model.prune_ratio > 0}


ALL = ("retrieve", "supplement", "analyse", "embed", "gate", "train")
ER2ALM = Method(
    name="er2alm",
    summary="retrieved item aspects, weighted per-aspect user profiles, a reliability gate, LLM-picked edges",
    paper="Wei et al., ER2ALM (Enhanced Recommendation Systems with Retrieval-Augmented LLM)",
    model="er2alm",
    section=ER2ALMConfig,
    stages=(
        Stage(
            "retrieve",
            "search the item-knowledge corpus by title and year; keep trusted passages",
            retrieve_stage,
            consumes=(BASE,),
            produces=(RETRIEVAL,),
        ),
        Stage(
            "supplement",
            "Eq. 1: aspects of every item from its basic attributes and passage",
            supplement_stage,
            consumes=(RETRIEVAL,),
            produces=(ASPECTS,),
        ),
        Stage(
            "analyse",
            "Eqs. 2-3: per-aspect profiles and weights from training histories; picked edges",
            analyse_stage,
            consumes=(ASPECTS, BASE),
            produces=(USERS,),
        ),
        Stage(
            "embed",
            "Eqs. 4-5: vectors of basic attributes, passages, aspects and profiles",
            embed_stage,
            consumes=(USERS,),
            produces=(VECTORS,),
        ),
        Stage(
            "gate",
            "Sec. 3.4: relation scorer, binary concrete, retain/abandon sets; reliable aspects kept",
            gate_stage,
            consumes=(VECTORS,),
            produces=(GATE,),
        ),
        Stage(
            "train",
            "the graph model over the seeds on weighted profiles, gated aspects and picked edges",
            train_stage,
            consumes=(GATE,),
            produces=(trained("er2alm"),),
        ),
    ),
    variants=(
        Variant("no-retrieval", "without retrieval (no passage)", {"er2alm.retrieval": False}, ALL),
        Variant("no-item-info", "without item information", {"er2alm.item_info": False}),
        Variant("no-profiles", "without user profiles", {"er2alm.profiles": False}),
        Variant("no-weights", "without personalised weights", {"er2alm.weights": False}),
        Variant("no-gate", "without denoising (gate off)", {"er2alm.gate": False}, ("gate", "train")),
        Variant("no-cosine", "without the cosine step", {"er2alm.gate_cosine": False}, ("gate", "train")),
        Variant("no-edges", "without LLM-picked edges", {"er2alm.edges": False}),
    ),
    switches=switches,
)

__all__ = ["ER2ALM", "FEATURE_SPECS"]
