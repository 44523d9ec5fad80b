"""LLMRec (Wei et al., WSDM 2024) as a recipe: augment from the best baseline, then train LLMRec on it.

Stage "augment" asks the teacher (an LLM, or the labelled local teacher) for liked / disliked picks
among the base model's candidates, item attributes and user profiles, and encodes them
(`llmrec.augment`, docs/augment.md). Stage "train" trains the LLMRec model (docs/llmrec_model.md) on
the side features and pruned augmented BPR triples. `[llmrec] augment_dir` names a finished
augmentation folder instead of making one.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

from llmrec import config as cfgmod
from llmrec.augment.stage import BaseRun, augment
from llmrec.config import RunConfig
from llmrec.data.dataset import Split
from llmrec.errors import ConfigError
from llmrec.experiment import train_seeds
from llmrec.factory import model_options
from llmrec.features import AugmentedInputs, FeatureSpec, load_augmented, load_extra_edges, triples_as_edges
from llmrec.stages import AUGMENT_DIR, AUGMENTATION, BASE, Method, RunContext, Stage, Variant, trained


@dataclass(frozen=True)
class LLMRecConfig:
    """[llmrec]: which augmentation artefacts the LLMRec model trains on, and from which folder.

    Each switch turns one augmentation on or off (the ablations of `llmrec ablate`); the denoisers are
    model knobs (`model.llmrec.prune_ratio = 0` switches pruning off, `model.llmrec.mae_weight = 0` MAE).
    A switch that is on needs its artefact: a missing one is an error, never a silently smaller model.
    """

    augment_dir: str = ""  # a finished augmentation folder (`llmrec augment`); empty: the run makes one
    edges: bool = True  # BPR on the augmented (user, liked, disliked) triples (edges.npz)
    item_text: bool = True  # item text vectors of the dataset's own metadata (item_text.npy)
    item_attributes: bool = True  # the augmented item attributes, all in one text (item_attr_all.npy)
    user_profiles: bool = True  # the augmented user profiles (user_profile.npy)
    # also add the augmented (user, liked item) pairs to LLMRec's propagation graph (any baseline can
    # train on an augmented graph with `train.extra_edges`)
    graph_edges: bool = False
    # keep this many principal components of each feature matrix (0: all): a fixed, label-free rotation
    # that cuts the per-step projection cost on large catalogues (MiniLM vectors have 384 columns)
    feature_dim: int = 0

    def __post_init__(self) -> None:
        if self.feature_dim < 0:
            raise ConfigError(f"llmrec.feature_dim must not be negative, got {self.feature_dim}")


# the side features LLMRec reads, in the model's projection order
FEATURES = (
    FeatureSpec("llmrec.user_profiles", "user", "profile", "user_profile", "augment.profiles"),
    FeatureSpec("llmrec.item_text", "item", "text", "item_text", "augment (always written)"),
    FeatureSpec("llmrec.item_attributes", "item", "attributes", "item_attr_all", "augment.item_attributes"),
)


def load_llmrec_inputs(folder: Path, split: Split, section: LLMRecConfig) -> AugmentedInputs:
    """The side features and triples `section` switches on, read from an augmentation folder and
    checked against `split`."""
    wanted = [f for f in FEATURES if getattr(section, f.switch.split(".")[1])]
    return load_augmented(folder, split, wanted, section.edges, section.feature_dim)


def augment_stage(ctx: RunContext, method: Method) -> None:
    """LLMRec's augmentations of the run's base model into OUT/augment (reused when up to date)."""
    base = ctx.base()
    base_run = BaseRun(base.out, base.cfg, ctx.base_reason(), base.split, base.model(), base.graph)
    out = ctx.root / AUGMENT_DIR
    audit = augment(base_run, ctx.cfg.augment, out, ctx.cfg.llm, ctx.env, ctx.show_progress)
    ctx.values[AUGMENTATION] = out
    ctx.notes["augmentation"] = audit
    ctx.notes["teacher"] = audit.get("teacher")


def train_stage(ctx: RunContext, method: Method) -> None:
    """The LLMRec model over the run's seeds, on the augmentation's side features and triples."""
    section: LLMRecConfig = method.config(ctx.cfg)
    folder = Path(section.augment_dir) if section.augment_dir else ctx.values.get(AUGMENTATION)
    if folder is None:  # the planner refuses such a run before any data loads
        raise ConfigError("method llmrec: no augmentation to train on; set llmrec.augment_dir")
    split = ctx.prepared.split
    inputs = load_llmrec_inputs(Path(folder), split, section)
    cfg = ctx.method_cfg(method.name)
    extra = None
    if section.graph_edges and inputs.triples is not None:
        extra = triples_as_edges(inputs.triples, split)
    if cfg.train.extra_edges:
        more = load_extra_edges(cfg.train.extra_edges, split)
        extra = more if extra is None else (extra + more).tocsr()
    key = asdict(section) | {"augment_dir": ""}  # the inputs' contents are hashed, not their folder
    run = train_seeds(
        cfg,
        ctx.prepared,
        ctx.model_dir(method.name),
        name=method.name,
        inputs=inputs,
        extra_edges=extra,
        method_key=key,
        show_progress=ctx.show_progress,
    )
    ctx.trained[method.name] = ctx.values[trained(method.name)] = run
    ctx.notes.setdefault("teacher", inputs.sources.get("teacher"))


def switches(cfg: RunConfig) -> dict[str, bool]:
    """Which augmentations and denoisers a config has on, for ablation rows."""
    section = cfgmod.from_dict(LLMRecConfig, cfg.sections.get("llmrec", {}), "llmrec")
    model = model_options(cfg.model, "llmrec")
    return {
        "edges": section.edges,
        "attributes": section.item_attributes,
        "profiles": section.user_profiles,
        "pruning": model.prune_ratio > 0,
        "mae": model.mae_weight > 0,
    }


def _given(cfg: RunConfig) -> str | None:
    """Why the augment stage is not needed: `[llmrec] augment_dir` names a finished one."""
    folder = cfg.sections.get("llmrec", {}).get("augment_dir")
    return f"llmrec.augment_dir names the augmentation ({folder})" if folder else None


LLMREC = Method(
    name="llmrec",
    summary="LLM-augmented graph: LLM-picked edges, item attributes and user profiles; pruning and MAE",
    paper="Wei et al., WSDM 2024 (arXiv 2311.00423)",
    model="llmrec",
    section=LLMRecConfig,
    stages=(
        Stage(
            "augment",
            "candidates of the best baseline -> LLM-picked edges, item attributes, user profiles -> vectors",
            augment_stage,
            consumes=(BASE,),
            produces=(AUGMENTATION,),
            skip=_given,
            given_by="llmrec.augment_dir",
        ),
        Stage(
            "train",
            "LLMRec over the seeds on the augmentation: fused side features, pruned augmented BPR, MAE",
            train_stage,
            consumes=(AUGMENTATION,),
            produces=(trained("llmrec"),),
        ),
    ),
    variants=(
        Variant("no-edges", "without augmented edges", {"llmrec.edges": False}),
        Variant("no-attributes", "without item attributes", {"llmrec.item_attributes": False}),
        Variant("no-profiles", "without user profiles", {"llmrec.user_profiles": False}),
        Variant("no-pruning", "without noisy-edge pruning", {"model.llmrec.prune_ratio": 0.0}),
        Variant("no-mae", "without MAE feature refinement", {"model.llmrec.mae_weight": 0.0}),
    ),
    switches=switches,
)

__all__ = ["AUGMENTATION", "FEATURES", "LLMREC", "LLMRecConfig", "load_llmrec_inputs"]
