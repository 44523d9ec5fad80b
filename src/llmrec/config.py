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
from typing import Any, ClassVar, TypeVar, cast

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
    # share of each user's training positives held out of every model as the simulated teacher's pool
    # (docs/teacher.md); 0: none. Validation and test are never touched.
    teacher_pool: float = 0.0


# The flat, prefixed model knobs of earlier versions and where each went (issue 21): an old config
# gets a one-line error naming the new key instead of a list of valid ones.
_OLD_KNOBS = {
    "ssl_temp": "model.sgl.ssl_temp or model.simgcl.ssl_temp",
    "ssl_max_rows": "model.sgl.ssl_max_rows or model.simgcl.ssl_max_rows",
    "sgl_weight": "model.sgl.ssl_weight",
    "sgl_drop": "model.sgl.drop_ratio",
    "simgcl_weight": "model.simgcl.ssl_weight",
    "simgcl_eps": "model.simgcl.eps",
    "simgcl_init": "model.simgcl.init",
    "gfcf_alpha": "model.gf-cf.alpha",
    "gfcf_k": "model.gf-cf.k",
    "llmrec_fusion": "model.llmrec.fusion",
    "llmrec_feature_weight": "model.llmrec.feature_weight",
    "llmrec_aug_weight": "model.llmrec.aug_weight",
    "llmrec_prune": "model.llmrec.prune_mode",
    "llmrec_prune_ratio": "model.llmrec.prune_ratio",
    "llmrec_mask_ratio": "model.llmrec.mask_ratio",
    "llmrec_mae_weight": "model.llmrec.mae_weight",
    "llmrec_mae_gamma": "model.llmrec.mae_gamma",
}


@dataclass(frozen=True)
class ModelConfig:
    """Which model to build, the architecture knobs models share, and each model's own knobs.

    `options` holds the `[model.<name>]` tables (e.g. `[model.sgl] drop_ratio = 0.2`) as read; each
    is typed and checked against the dataclass declared next to that model (`llmrec.factory`), before
    any data loads. In a file they are sub-tables of [model], not an `options` key.
    """

    EXTRA_TABLES: ClassVar[str] = "options"
    RENAMED: ClassVar[dict[str, str]] = {k: f"{k} is now {v}" for k, v in _OLD_KNOBS.items()}

    name: str = "lightgcn"  # a model of llmrec.models.MODELS (`llmrec methods` lists them)
    dim: int = 64  # embedding width (models with embeddings)
    n_layers: int = 3  # propagation layers (graph models)
    options: dict[str, dict[str, Any]] = field(default_factory=dict)


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
    # no early stop before this epoch: with one validation item per user (leave-one-out) the curve is
    # noisy enough that patience alone stops some seeds within the first epochs
    min_epochs: int = 0
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
    # an augmentation folder (`llmrec augment`, or a run's OUT/<method>/augment) whose LLM-picked
    # (user, liked item) pairs join the propagation graph: any graph model trains on the augmented graph
    extra_edges: str = ""
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
class RunConfig:
    """Everything one `llmrec train` run depends on."""

    data: DataConfig = field(default_factory=DataConfig)
    split: SplitConfig = field(default_factory=SplitConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)  # `llmrec augment`: see docs/augment.md
    llm: LLMConfig = field(default_factory=LLMConfig)  # the LLM behind augment (see docs/llm.md)
    seed: int = 2024  # first model seed; seed + i for the i-th repeat
    seeds: int = 1
    # `llmrec run`: the methods compared on one split, in order (empty: model.name alone). An entry
    # "NAME:STAGE" runs that method only up to STAGE (`llmrec methods` lists methods and stages).
    methods: tuple[str, ...] = ()
    # [train] keys that differ for one method of `methods`, e.g. [train_by_model.bpr-mf] lr = 0.005:
    # a shared schedule rarely suits a matrix factorisation and a graph model alike
    train_by_model: dict[str, dict[str, Any]] = field(default_factory=dict)
    # the methods' own tables ([llmrec], ...), as read; each is typed and checked by its method's recipe
    # (llmrec.methods) before any data loads. In a file they are top-level tables, not a `sections` key.
    sections: dict[str, dict[str, Any]] = field(default_factory=dict)

    EXTRA_TABLES: ClassVar[str] = "sections"
    RENAMED: ClassVar[dict[str, str]] = {
        "models": "`models` and `stages` are now one list, `methods`, e.g. "
        'methods = ["bpr-mf", "lightgcn", "llmrec"]',
        "stages": "`models` and `stages` are now one list, `methods`, e.g. "
        'methods = ["bpr-mf", "lightgcn", "llmrec"] (LLMRec runs its own augment and train stages)',
    }

    def __post_init__(self) -> None:
        for name, override in self.train_by_model.items():
            if not isinstance(override, dict):
                raise ConfigError(
                    f"train_by_model.{name}: expected a table of [train] keys, not {override!r}"
                )
            from_dict(TrainConfig, {**to_dict(self.train), **override}, f"train_by_model.{name}")


def for_model(config: RunConfig, name: str, model: str | None = None) -> RunConfig:
    """The config of one method of a run: `model.name` set (default: the method's own name) and its
    `train_by_model` keys applied."""
    override = {f"train.{k}": v for k, v in config.train_by_model.get(name, {}).items()}
    return replace(config, **{"model.name": model or name, **override})


def from_dict(cls: type[T], data: dict[str, Any], where: str = "config") -> T:
    """Build dataclass `cls` from a mapping, checking keys and coercing simple types.

    A class with `EXTRA_TABLES` collects the sub-tables that are not its fields into that field, for a
    registry to check (the `[model.<name>]` and method tables); a key in its `RENAMED` is an error that
    says where the setting went.
    """
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a table, got {type(data).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    extra_field: str | None = getattr(cls, "EXTRA_TABLES", None)
    extra: dict[str, Any] = {}
    if extra_field is not None:
        if extra_field in data:
            raise ConfigError(f"{where}: {extra_field!r} is not a key; write its entries as sub-tables")
        extra = {k: v for k, v in data.items() if k not in fields and isinstance(v, dict)}
        data = {k: v for k, v in data.items() if k not in extra}
    unknown = sorted(set(data) - set(fields))
    renamed: dict[str, str] = getattr(cls, "RENAMED", {})
    for key in unknown:
        if key in renamed:
            raise ConfigError(f"{where}: {renamed[key]}")
    if unknown:
        valid = sorted(set(fields) - {extra_field})
        tables = ", and sub-tables (`llmrec methods` lists them)" if extra_field else ""
        raise ConfigError(f"{where}: unknown key(s) {unknown}; valid keys: {valid}{tables}")
    hints = typing.get_type_hints(cls)
    kwargs = {name: _coerce(hints[name], value, f"{where}.{name}") for name, value in data.items()}
    if extra_field is not None:
        kwargs[extra_field] = {**kwargs.get(extra_field, {}), **{k: dict(v) for k, v in extra.items()}}
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
    """Plain-data view of a config as a file holds it: tuples become lists, `EXTRA_TABLES` become
    sub-tables. `from_dict(type(c), to_dict(c)) == c`."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        out[f.name] = to_dict(value) if dataclasses.is_dataclass(value) else value
    extra_field = getattr(type(config), "EXTRA_TABLES", None)
    if extra_field is not None:
        out.update(out.pop(extra_field))
    return cast(dict[str, Any], json.loads(json.dumps(out)))


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
    _emit_table(lines, [], to_dict(config))
    return "\n".join(lines).lstrip("\n") + "\n"


def _emit_table(lines: list[str], path: list[str], table: dict[str, Any]) -> None:
    """One TOML table: its header, its plain values, then its sub-tables."""
    if path:
        lines.append(f"\n[{'.'.join(_toml_key(p) for p in path)}]")
    for key, value in table.items():
        if not isinstance(value, dict) and value is not None:
            lines.append(f"{_toml_key(key)} = {json.dumps(value)}")
    for key, value in table.items():
        if isinstance(value, dict):
            _emit_table(lines, [*path, key], value)


def _toml_key(key: str) -> str:
    """A bare TOML key where allowed, else a quoted one."""
    return key if key and all(c.isalnum() or c in "_-" for c in key) and key.isascii() else json.dumps(key)


def replace(config: T, **changes: Any) -> T:
    """`dataclasses.replace` that accepts dotted keys at any depth: replace(cfg, **{"train.lr": 0.01}),
    replace(cfg, **{"model.sgl.drop_ratio": 0.2}); the result is checked like a loaded file."""
    data = to_dict(config)
    for key, value in changes.items():
        target = data
        *parents, leaf = key.split(".")
        for part in parents:
            target = target.setdefault(part, {})
            if not isinstance(target, dict):
                raise ConfigError(f"{key}: {part!r} is a value, not a table")
        target[leaf] = to_dict(value) if dataclasses.is_dataclass(value) else value
    return from_dict(type(config), data, "config")


def fingerprint(*parts: Any) -> str:
    """Short content hash of configs and plain values, defaults included."""
    payload = json.dumps(
        [to_dict(p) if dataclasses.is_dataclass(p) else p for p in parts], sort_keys=True, default=str
    )
    return hashlib.sha256(payload.encode()).hexdigest()[:16]
