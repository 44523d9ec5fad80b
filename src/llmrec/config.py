"""Typed, frozen run configuration: one dataclass per stage, nested in `RunConfig`.

A TOML file only serialises these classes. Unknown keys raise with the list of valid keys,
and every default lives here, once.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from llmrec.augment.config import AugmentConfig
from llmrec.errors import ConfigError
from llmrec.llm.config import LLMConfig

T = TypeVar("T")


@dataclass(frozen=True)
class DataConfig:
    """Which interactions to load and how to turn them into implicit feedback."""

    dataset: str = "ml-100k"
    data_dir: str | None = None  # None: --data-dir / LLMREC_DATA_DIR / ./data, resolved by the CLI
    path: str | None = None  # dataset "custom": the interactions file (CSV or Parquet)
    items_path: str | None = None  # dataset "custom": optional item metadata file
    user_col: str = "user_id"
    item_col: str = "item_id"
    rating_col: str | None = None
    time_col: str | None = None
    item_title_col: str = "title"
    sep: str = ","
    rating_threshold: float | None = 4.0  # explicit ratings >= threshold become positives
    kcore: int = 0  # keep users and items with at least this many interactions (0: off)


@dataclass(frozen=True)
class SplitConfig:
    """How interactions are divided into train / valid / test."""

    method: str = "auto"  # auto | ratio | loo | temporal | given
    ratios: tuple[float, float, float] = (0.8, 0.1, 0.1)
    valid_from_train: float = 0.1  # given splits without a usable valid part: share carved from train
    seed: int = 2024


@dataclass(frozen=True)
class ModelConfig:
    """Which model to build and its architecture hyperparameters."""

    name: str = "lightgcn"  # lightgcn | bpr-mf | sgl | simgcl | gf-cf | llmrec
    dim: int = 64
    n_layers: int = 3
    # Model-specific knobs, published defaults (each model reads only its own; see models.KNOBS).
    ssl_temp: float = 0.2  # InfoNCE temperature tau of SGL and SimGCL (both papers)
    ssl_max_rows: int = 4096  # InfoNCE over at most this many unique users / items: cost grows as its square
    sgl_weight: float = 0.1  # SGL-ED's InfoNCE weight lambda (Wu et al. 2021, Yelp2018 / SELFRec)
    sgl_drop: float = 0.1  # SGL-ED's edge-dropout ratio rho of each view
    simgcl_weight: float = 0.5  # SimGCL's InfoNCE weight lambda (Yu et al. 2022, Yelp2018)
    simgcl_eps: float = 0.1  # SimGCL's noise norm epsilon
    # SimGCL's initial embeddings: "normal" is LightGCN's N(0, 0.1); "xavier" the SimGCL authors' code's
    # Xavier-uniform, rows ~12x smaller on Gowalla, so the same eps is a larger perturbation early on
    simgcl_init: str = "normal"
    gfcf_alpha: float = 0.3  # GF-CF's weight of the ideal low-pass filter (Shen et al. 2021)
    gfcf_k: int = 256  # GF-CF's singular vectors in the ideal low-pass filter
    # LLMRec (Wei et al. 2024); numbers from the official code's Netflix settings (utility/parser.py)
    llmrec_fusion: str = "fixed"  # fixed: ID + feature_weight * features | learned: softmax-weighted mix
    llmrec_feature_weight: float = 0.02  # model_cat_rate: weight of each normalised feature embedding
    llmrec_aug_weight: float = 0.012  # aug_mf_rate: weight of the BPR loss on augmented triples
    llmrec_prune: str = "paper"  # paper: drop the worst augmented pairs | official: keep the hardest pairs
    llmrec_prune_ratio: float = 0.71  # prune_loss_drop_rate: share of pairs dropped
    llmrec_mask_ratio: float = 0.1  # mask_rate: share of feature nodes masked for MAE
    llmrec_mae_weight: float = 1e-5  # att_re_rate: weight of the MAE reconstruction loss
    llmrec_mae_gamma: float = 2.0  # alpha_l: power of the scaled cosine error


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation and early-stopping settings for `train.fit`."""

    epochs: int = 200
    batch_size: int = 4096
    lr: float = 0.001
    lr_schedule: str = "constant"  # constant | cosine (decays to lr * lr_final over `epochs`)
    lr_final: float = 0.01
    reg: float = 1e-4  # L2 on the batch's layer-0 embeddings, as in LightGCN's reference code
    # negatives drawn per training edge: 1 is uniform sampling (the published baselines'); K > 1 is
    # dynamic negative sampling, training on the one of K uniform draws the model scores highest
    negatives: int = 1
    eval_every: int = 1
    patience: int = 10  # evaluations without improvement before stopping
    metric: str = "recall@20"  # validation metric for early stopping and model selection
    threads: int = 0  # torch intra-op threads; 0: 1 for small training sets, else torch's default
    max_minutes: float = 0.0  # wall-clock budget for training (0: none)
    # augmented (user, pos, neg) triples drawn per original edge of a batch, when `fit` is given any
    # (LLMRec's aug_sample_rate, official Netflix setting); only models that train on them accept them
    aug_rate: float = 0.1
    # test a model fitted on train + valid (every non-test edge, as the published protocols do):
    # a closed-form model (GF-CF) is solved again on them after validation; a trained one is retrained
    # from its seed on them for the epoch count selected on validation, with the same schedule.
    refit: bool = False
    # a run directory of the same split: each seed starts from that run's selected weights of the same
    # seed (e.g. to continue a run with a decaying learning rate) instead of a fresh initialisation
    init_from: str = ""
    # minutes between checkpoints of a training seed (its resumable state, in the run folder); one is
    # also saved when training stops early. 0 saves after every epoch. Not part of a run's fingerprint.
    checkpoint_minutes: float = 2.0


SCREENS: dict[str, bool | None] = {"auto": None, "on": True, "off": False}  # eval.screen's values


@dataclass(frozen=True)
class EvalConfig:
    """All-ranking evaluation settings."""

    ks: tuple[int, ...] = (10, 20, 50)
    batch_size: int = 2048  # users scored per matrix product
    significance: str = "ttest"  # paired test over seeds against the best baseline: ttest | wilcoxon
    activity_groups: int = 4  # users split by training-interaction count into this many equal groups
    # exact top-K through a bf16 screen with fp32 rescoring (llmrec.topk): auto | on | off. The same
    # results either way (up to fp32 ties); auto uses it on AVX512-BF16/AMX CPUs with large catalogues.
    screen: str = "auto"

    def screen_flag(self) -> bool | None:
        """`screen` as EmbeddingScorer takes it: None (auto), True (on) or False (off)."""
        return SCREENS[self.screen]


@dataclass(frozen=True)
class LLMRecConfig:
    """What the LLMRec model trains on: which augmentation artefacts, and from which folder.

    Each switch turns one augmentation on or off (the ablations of `llmrec ablate`); the denoisers are
    model knobs (`model.llmrec_prune_ratio = 0` switches pruning off, `model.llmrec_mae_weight = 0` MAE).
    A switch that is on needs its artefact: a missing one is an error, never a silently smaller model.
    """

    augment_dir: str = ""  # an augmentation folder (`llmrec augment`); `llmrec run` uses OUT/augment
    edges: bool = True  # BPR on the augmented (user, liked, disliked) triples (edges.npz)
    item_text: bool = True  # item text vectors of the dataset's own metadata (item_text.npy)
    item_attributes: bool = True  # the augmented item attributes, all in one text (item_attr_all.npy)
    user_profiles: bool = True  # the augmented user profiles (user_profile.npy)
    # any graph model (LightGCN, SGL, SimGCL, GF-CF, LLMRec): add the augmented (user, liked item) pairs
    # to the propagation graph, so every backbone can train on the augmented graph
    graph_edges: bool = False
    # keep this many principal components of each feature matrix (0: all): a fixed, label-free rotation
    # that cuts the per-step projection cost on large catalogues (MiniLM vectors have 384 columns)
    feature_dim: int = 0

    def __post_init__(self) -> None:
        if self.feature_dim < 0:
            raise ConfigError(f"llmrec.feature_dim must not be negative, got {self.feature_dim}")


@dataclass(frozen=True)
class RunConfig:
    """Everything one `llmrec train` run depends on."""

    data: DataConfig = field(default_factory=DataConfig)
    split: SplitConfig = field(default_factory=SplitConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)  # `llmrec augment`: see docs/augment.md
    llm: LLMConfig = field(default_factory=LLMConfig)  # the LLM behind augment (see docs/llm.md)
    llmrec: LLMRecConfig = field(default_factory=LLMRecConfig)  # model "llmrec": its augmented inputs
    seed: int = 2024  # first model seed; seed + i for the i-th repeat
    seeds: int = 1
    models: tuple[str, ...] = ()  # `llmrec run`: models compared on one split (empty: model.name)
    # `llmrec run`: "train" the models, then optionally "augment" and train "llmrec" on the augmentations
    stages: tuple[str, ...] = ("train",)
    # [train] keys that differ for one model of `models` (or "llmrec"), e.g. [train_by_model.bpr-mf]
    # lr = 0.005: a shared schedule rarely suits a matrix factorisation and a graph model alike
    train_by_model: dict[str, dict[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name, override in self.train_by_model.items():
            if not isinstance(override, dict):
                raise ConfigError(
                    f"train_by_model.{name}: expected a table of [train] keys, not {override!r}"
                )
            from_dict(TrainConfig, {**to_dict(self.train), **override}, f"train_by_model.{name}")


def for_model(config: RunConfig, name: str) -> RunConfig:
    """The config of one model of a run: `model.name` set and its `train_by_model` keys applied."""
    override = {f"train.{k}": v for k, v in config.train_by_model.get(name, {}).items()}
    return replace(config, **{"model.name": name, **override})


def from_dict(cls: type[T], data: dict[str, Any], where: str = "config") -> T:
    """Build dataclass `cls` from a mapping, checking keys and coercing simple types."""
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a table, got {type(data).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {unknown}; valid keys: {sorted(fields)}")
    hints = typing.get_type_hints(cls)
    kwargs = {name: _coerce(hints[name], value, f"{where}.{name}") for name, value in data.items()}
    return cls(**kwargs)


def _coerce(tp: Any, value: Any, where: str) -> Any:
    """Coerce a TOML value to the annotated type, or raise ConfigError naming the key."""
    origin = typing.get_origin(tp)
    if dataclasses.is_dataclass(tp):
        return from_dict(tp, value, where)  # type: ignore[arg-type]
    if origin is dict:  # a table of tables (train_by_model): its owner checks the inner keys
        if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
            raise ConfigError(f"{where}: expected a table, got {value!r}")
        return {k: _coerce(typing.get_args(tp)[1], v, f"{where}.{k}") for k, v in value.items()}
    if tp is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(arg, value, where)
            except ConfigError:
                continue
        raise ConfigError(f"{where}: {value!r} does not fit {tp}")
    if origin is tuple:
        if not isinstance(value, list | tuple):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        args = typing.get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_coerce(args[0], v, where) for v in value)
        if len(args) != len(value):
            raise ConfigError(f"{where}: expected {len(args)} values, got {len(value)}")
        return tuple(_coerce(a, v, where) for a, v in zip(args, value, strict=True))
    if tp is float and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if tp in (int, str, bool) and type(value) is tp:
        return value
    raise ConfigError(f"{where}: expected {getattr(tp, '__name__', tp)}, got {value!r}")


def to_dict(config: Any) -> dict[str, Any]:
    """Plain-data view of a config (tuples become lists), for JSON/TOML output."""
    return json.loads(json.dumps(dataclasses.asdict(config)))


def load(path: str | Path) -> RunConfig:
    """Read a TOML run config; a missing or malformed file raises ConfigError."""
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    return from_dict(RunConfig, raw, str(path))


def dumps_toml(config: RunConfig) -> str:
    """Serialise a RunConfig as TOML (None values are left out, which restores the default)."""
    lines: list[str] = []
    top = to_dict(config)
    for key, value in top.items():
        if not isinstance(value, dict) and value is not None:
            lines.append(f"{key} = {json.dumps(value)}")
    for key, value in top.items():
        if isinstance(value, dict) and key != "train_by_model":
            lines.append(f"\n[{key}]")
            lines.extend(f"{k} = {json.dumps(v)}" for k, v in value.items() if v is not None)
    for name, override in top["train_by_model"].items():
        lines.append(f"\n[train_by_model.{json.dumps(name)}]")
        lines.extend(f"{k} = {json.dumps(v)}" for k, v in override.items() if v is not None)
    return "\n".join(lines) + "\n"


def replace(config: T, **changes: Any) -> T:
    """`dataclasses.replace` that accepts dotted stage keys: replace(cfg, **{"train.lr": 0.01})."""
    nested: dict[str, dict[str, Any]] = {}
    flat: dict[str, Any] = {}
    for key, value in changes.items():
        if "." in key:
            stage, name = key.split(".", 1)
            nested.setdefault(stage, {})[name] = value
        else:
            flat[key] = value
    for stage, stage_changes in nested.items():
        current = getattr(config, stage)
        merged = {**to_dict(current), **stage_changes}
        flat[stage] = from_dict(type(current), merged, stage)
    return dataclasses.replace(config, **flat)  # type: ignore[type-var]


def fingerprint(*parts: Any) -> str:
    """Short content hash of configs and plain values, defaults included."""
    payload = json.dumps(
        [to_dict(p) if dataclasses.is_dataclass(p) else p for p in parts], sort_keys=True, default=str
    )
    return hashlib.sha256(payload.encode()).hexdigest()[:16]
