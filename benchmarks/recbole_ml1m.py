"""llmrec's BPR-MF and LightGCN against RecBole 1.2.1's BPR and LightGCN on one split, ml-1m-lightgcnpp.

Both libraries train on exactly the same train / valid / test files (RecBole reads them through its
`benchmark_filename` option, so it does not re-split), evaluate with full ranking (train items masked
on valid, train + valid items masked on test), select the model on valid recall@20 and score test once.
Every run is a child process, timed on its own: wall time, peak RSS (os.wait4, so per run, not the
maximum over all children), epochs, seconds per epoch, time to the selected epoch and test metrics.
After each RecBole run, llmrec's evaluator re-scores RecBole's own selected embeddings, which checks
that both libraries compute the same metrics over the same users.

    bash benchmarks/recbole_env.sh                       # once: RecBole in .bench-venv-recbole
    python benchmarks/recbole_ml1m.py                    # everything -> benchmarks/results/recbole_ml1m.json
    python benchmarks/recbole_ml1m.py --only ours --models lightgcn --ours-lightgcn-lr 0.005
    python benchmarks/recbole_ml1m.py --smoke            # 2 epochs each, only to test the plumbing

`--only ours` / `--only recbole` / `--models` replace those entries in the results file and keep the
others, so our side can be re-tuned without re-running RecBole. This file runs under any Python 3.11
(standard library only); RecBole's side runs it again under .bench-venv-recbole/bin/python as a worker.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import platform
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DATASET = "ml-1m-lightgcnpp"
RB_DATASET = "ml1m_lgpp"  # RecBole dataset name: <data_path>/<name>/<name>.{train,valid,test}.inter
PARTS = ("train", "valid", "test")
MODELS = {"bpr-mf": "BPR", "lightgcn": "LightGCN"}  # ours -> RecBole
KS = (10, 20)
VALID_METRIC = "recall@20"
TABLE_METRICS = ("recall@10", "ndcg@10", "recall@20", "ndcg@20")
RECBOLE_PYTHON = ROOT / ".bench-venv-recbole" / "bin" / "python"
OURS_PYTHON = ROOT / ".venv" / "bin" / "python"
LLMREC = ROOT / ".venv" / "bin" / "llmrec"
SMOKE_EPOCHS = 2

# What was checked by reading RecBole 1.2.1's source (recbole/evaluator/metrics.py,
# data/dataloader/general_dataloader.py, sampler/sampler.py, model/general_recommender/*.py) against
# src/llmrec/evaluate.py and src/llmrec/models/; the cross-evaluation below tests the first four.
PROTOCOL_NOTES = [
    "Same metric definitions: recall@K = hits / |T_u| (RecBole divides by the user's number of "
    "positives, not min(K, |T_u|)); ndcg@K divides by the ideal DCG over min(K, |T_u|) items in both; "
    "precision@K = hits / K; each averaged over users with at least one held-out item.",
    "Same masking: RecBole's history = used items of the phase minus the positives, i.e. train on valid "
    "and train + valid on test, as ours (the split has no (user, item) pair in two parts, so removing "
    "positives from the history changes nothing). RecBole also masks its padding item 0.",
    "Same id space: RecBole maps the tokens of all three files, so the 45 items that occur only in "
    "valid/test exist (with no training edge) in both libraries; our loader uses ids 0..max id, the "
    "same 3,628 items (and the same 6,039 users).",
    "Not the same models, by design (each library's own defaults): RecBole BPR has no L2 term, ours "
    "has train.reg (default 1e-4, half squared L2 / batch); RecBole LightGCN's reg_weight multiplies "
    "the un-squared Frobenius norm / batch (require_pow False), ours the half squared norm / batch; "
    "RecBole initialises with xavier (normal for BPR, uniform for LightGCN), ours with N(0, 0.1).",
    "Same negative sampling: one uniform negative per training edge per epoch, excluding the user's "
    "train items, in both.",
    "Stopping differs by one evaluation: RecBole (stopping_step 10) stops after 11 evaluations without "
    "gain and counts a tie as a gain; ours stops after `patience` evaluations without a strict gain.",
    "Timing: s/epoch is the fit time (training and validation) divided by the epochs run, in both; "
    "time to best is the elapsed fit time when the selected epoch's validation finished; wall is the "
    "whole child process (start-up, data loading, training, test).",
]


# --- the split --------------------------------------------------------------------------------


def read_split(folder: Path) -> dict[str, list[tuple[int, int]]]:
    """(user, item) pairs per part from LightGCN-format files (`uid iid iid ...`)."""
    parts = {}
    for part in PARTS:
        pairs: list[tuple[int, int]] = []
        with open(folder / f"{part}.txt", encoding="utf-8") as f:
            for line in f:
                tokens = line.split()
                if tokens:
                    user = int(tokens[0])
                    pairs.extend((user, int(item)) for item in tokens[1:])
        parts[part] = pairs
    return parts


def split_stats(split: dict[str, list[tuple[int, int]]]) -> dict[str, Any]:
    """Counts both libraries must reproduce, and overlaps that would change masking."""
    sets = {p: set(pairs) for p, pairs in split.items()}
    users = {u for pairs in split.values() for u, _ in pairs}
    items = {i for pairs in split.values() for _, i in pairs}
    return {
        "n_users": len(users),
        "n_items": len(items),
        "max_user_id": max(users),
        "max_item_id": max(items),
        **{part: len(pairs) for part, pairs in split.items()},
        **{f"{part}_users": len({u for u, _ in pairs}) for part, pairs in split.items()},
        "duplicates": sum(len(pairs) - len(sets[p]) for p, pairs in split.items()),
        "overlap_train_valid": len(sets["train"] & sets["valid"]),
        "overlap_train_test": len(sets["train"] & sets["test"]),
        "overlap_valid_test": len(sets["valid"] & sets["test"]),
        "items_only_in_valid_test": len(items - {i for _, i in split["train"]}),
    }


def write_atomic_files(split: dict[str, list[tuple[int, int]]], source: Path, data_path: Path) -> Path:
    """RecBole benchmark files `<name>.<part>.inter`; rewritten only when the source files change."""
    folder = data_path / RB_DATASET
    digest = hashlib.sha256()
    for part in PARTS:
        digest.update((source / f"{part}.txt").read_bytes())
    stamp = folder / "source.sha256"
    if stamp.exists() and stamp.read_text() == digest.hexdigest():
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    for part in PARTS:
        tmp = folder / f".{RB_DATASET}.{part}.inter.tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            f.write("user_id:token\titem_id:token\n")
            f.writelines(f"{u}\t{i}\n" for u, i in split[part])
        os.replace(tmp, folder / f"{RB_DATASET}.{part}.inter")
    stamp.write_text(digest.hexdigest())
    return folder


# --- child processes --------------------------------------------------------------------------


def run_child(cmd: list[str], log: Path, cwd: Path, env: dict[str, str]) -> dict[str, Any]:
    """Run cmd with output to `log`; its own wall time, exit code and peak RSS (os.wait4)."""
    log.parent.mkdir(parents=True, exist_ok=True)
    print(f"  $ {shlex.join(cmd)}\n    log: {log.relative_to(ROOT)}", flush=True)
    with open(log, "w", encoding="utf-8") as out:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, cwd=cwd, env=env)
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        except KeyboardInterrupt:
            proc.send_signal(signal.SIGINT)
            proc.wait()
            raise
        wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        tail = "".join(log.read_text(encoding="utf-8", errors="replace").splitlines(True)[-25:])
        raise SystemExit(f"failed with exit code {proc.returncode}: {shlex.join(cmd)}\n{tail}")
    # Linux reports ru_maxrss in KiB: the largest resident set of this child (and its own children).
    return {"wall_seconds": wall, "peak_rss_mb": usage.ru_maxrss / 1024, "command": shlex.join(cmd)}


def child_env(threads: int | None) -> dict[str, str]:
    """Environment for every child: thread count when given, RecBole's checkpoint reload fix."""
    env = dict(os.environ)
    env["TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD"] = "1"  # RecBole 1.2.1 torch.load()s its own checkpoints
    env["PYTHONUNBUFFERED"] = "1"
    if threads:
        for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
            env[var] = str(threads)
    return env


# --- RecBole ----------------------------------------------------------------------------------


def recbole_config(model: str, epochs: int, args: argparse.Namespace, data_path: Path, run_dir: Path) -> dict:
    """RecBole config: its defaults for the model (lr 1e-3, batch 2048), our split and protocol."""
    cfg: dict[str, Any] = {
        "data_path": str(data_path),
        "benchmark_filename": list(PARTS),
        "USER_ID_FIELD": "user_id",
        "ITEM_ID_FIELD": "item_id",
        "load_col": {"inter": ["user_id", "item_id"]},
        "use_gpu": False,
        "seed": args.seed,
        "reproducibility": True,
        "show_progress": False,
        "checkpoint_dir": str(run_dir / "saved"),
        "epochs": epochs,
        "train_batch_size": 2048,
        "learning_rate": 1e-3,
        "train_neg_sample_args": {"distribution": "uniform", "sample_num": 1},
        "eval_step": 1,
        "stopping_step": 10,
        "eval_args": {"group_by": "user", "order": "RO", "mode": "full"},
        "metrics": ["Recall", "NDCG", "Precision"],
        "topk": list(KS),
        "valid_metric": VALID_METRIC,
        "eval_batch_size": 4096,
        "metric_decimal_place": 6,
        "embedding_size": 64,
    }
    if model == "LightGCN":
        cfg.update({"n_layers": 3, "reg_weight": args.recbole_lightgcn_reg})
    return cfg


def run_recbole(ours_name: str, args: argparse.Namespace, work: Path, data_path: Path) -> dict[str, Any]:
    """One RecBole model in .bench-venv-recbole; the worker writes result.json in its run dir."""
    model = MODELS[ours_name]
    cap = SMOKE_EPOCHS if args.smoke else getattr(args, f"recbole_{ours_name.replace('-', '_')}_epochs")
    run_dir = work / "recbole" / model
    config = recbole_config(model, cap, args, data_path, run_dir)
    reused = reuse_record(run_dir / "record.json", config, args.reuse)
    if reused is not None:
        return reused
    shutil.rmtree(run_dir, ignore_errors=True)
    run_dir.mkdir(parents=True)
    spec = {
        "model": model,
        "dataset": RB_DATASET,
        "threads": args.threads,
        "config": config,
        "result": str(run_dir / "result.json"),
        "embeddings": str(run_dir / "embeddings.npz"),
    }
    (run_dir / "spec.json").write_text(json.dumps(spec, indent=2))
    cmd = [
        str(RECBOLE_PYTHON),
        str(Path(__file__).resolve()),
        "--_recbole-worker",
        str(run_dir / "spec.json"),
    ]
    proc = run_child(cmd, run_dir / "output.log", run_dir, child_env(args.threads))
    res = json.loads((run_dir / "result.json").read_text())
    history = res["history"]
    best = next(h for h in history if h["epoch"] == res["best_epoch"])
    epochs_run = history[-1]["epoch"]
    return save_record(
        run_dir / "record.json",
        config,
        {
            "library": "RecBole 1.2.1",
            "model": model,
            "ours_equivalent": ours_name,
            **proc,
            "epochs_run": epochs_run,
            "epoch_cap": cap,
            "stopped_by": "early stopping (11 evaluations without gain)"
            if res["early_stopped"]
            else f"epoch cap ({cap})",
            "best_epoch": res["best_epoch"],
            "fit_seconds": res["fit_seconds"],
            "seconds_per_epoch": res["fit_seconds"] / epochs_run,
            "train_seconds_per_epoch": sum(h["train_seconds"] for h in history) / len(history),
            "time_to_best_seconds": best["elapsed"],
            "valid": res["best_valid"],
            "test": res["test"],
            "counts": res["counts"],
            "history": [
                {k: h[k] for k in ("epoch", "train_seconds", "elapsed", "valid_score")} for h in history
            ],
            "hyperparameters": {
                "lr": 1e-3,
                "batch_size": 2048,
                "dim": 64,
                **({"n_layers": 3, "reg_weight": args.recbole_lightgcn_reg} if model == "LightGCN" else {}),
                "eval_every": 1,
                "stopping_step": 10,
            },
            "run_dir": str(run_dir.relative_to(ROOT)),
            "embeddings": spec["embeddings"],
        },
    )


def recbole_worker(spec_path: str) -> int:
    """Runs inside .bench-venv-recbole: RecBole's run_recbole() steps, with per-epoch timing hooks."""
    import logging

    import numpy as np
    import torch
    from recbole.config import Config
    from recbole.data import create_dataset, data_preparation
    from recbole.utils import get_model, get_trainer, init_logger, init_seed

    spec = json.loads(Path(spec_path).read_text())
    if spec["threads"]:
        torch.set_num_threads(spec["threads"])
    config = Config(model=spec["model"], dataset=spec["dataset"], config_dict=spec["config"])
    init_seed(config["seed"], config["reproducibility"])
    init_logger(config)
    logger = logging.getLogger()
    logger.info(config)
    dataset = create_dataset(config)
    logger.info(dataset)
    train_data, valid_data, test_data = data_preparation(config, dataset)
    init_seed(config["seed"] + config["local_rank"], config["reproducibility"])
    model = get_model(config["model"])(config, train_data._dataset).to(config["device"])
    logger.info(model)
    trainer = get_trainer(config["MODEL_TYPE"], config["model"])(config, model)

    # Timing hooks around the trainer's own steps; RecBole logs the same train/valid times.
    history: list[dict[str, Any]] = []
    train_epoch, valid_epoch = trainer._train_epoch, trainer._valid_epoch
    clock: dict[str, float] = {}

    def timed_train_epoch(*a: Any, **kw: Any) -> Any:
        start = time.perf_counter()
        loss = train_epoch(*a, **kw)
        clock["train"] = time.perf_counter() - start
        return loss

    def timed_valid_epoch(*a: Any, **kw: Any) -> Any:
        score, result = valid_epoch(*a, **kw)
        clock["valid_result"] = {k: float(v) for k, v in result.items()}  # type: ignore[assignment]
        return score, result

    def after_eval(epoch_idx: int, valid_score: float) -> None:
        # Called after RecBole's early_stopping(): cur_step is 0 exactly when this epoch became the best.
        history.append(
            {
                "epoch": epoch_idx + 1,
                "train_seconds": clock["train"],
                "elapsed": time.perf_counter() - clock["fit_start"],
                "valid_score": float(valid_score),
                "valid": clock["valid_result"],
                "best": trainer.cur_step == 0,
            }
        )

    trainer._train_epoch, trainer._valid_epoch = timed_train_epoch, timed_valid_epoch
    clock["fit_start"] = time.perf_counter()
    trainer.fit(train_data, valid_data, saved=True, show_progress=False, callback_fn=after_eval)
    fit_seconds = time.perf_counter() - clock["fit_start"]
    test = trainer.evaluate(test_data, load_best_model=True, show_progress=False)
    logger.info(f"test result: {test}")
    best = [h for h in history if h["best"]][-1]

    # The selected model's final embeddings by raw id, for the cross-evaluation with our evaluator.
    model.eval()
    with torch.no_grad():
        if spec["model"] == "LightGCN":
            user_e, item_e = model.forward()
        else:
            user_e, item_e = model.user_embedding.weight, model.item_embedding.weight
    uid, iid = dataset.uid_field, dataset.iid_field
    user_tokens = np.array([int(t) if t != "[PAD]" else -1 for t in dataset.field2id_token[uid]])
    item_tokens = np.array([int(t) if t != "[PAD]" else -1 for t in dataset.field2id_token[iid]])
    np.savez(
        spec["embeddings"],
        user_emb=user_e.detach().numpy()[user_tokens >= 0],
        user_ids=user_tokens[user_tokens >= 0],
        item_emb=item_e.detach().numpy()[item_tokens >= 0],
        item_ids=item_tokens[item_tokens >= 0],
    )
    parts = (train_data._dataset, valid_data._dataset, test_data._dataset)
    result = {
        "history": history,
        "best_epoch": best["epoch"],
        "best_valid": best["valid"],
        "early_stopped": trainer.cur_step > trainer.stopping_step,
        "fit_seconds": fit_seconds,
        "test": {k: float(v) for k, v in test.items()},
        "counts": {
            "n_users": dataset.user_num - 1,  # minus RecBole's padding id 0
            "n_items": dataset.item_num - 1,
            **{name: int(d.inter_num) for name, d in zip(PARTS, parts, strict=True)},
            "valid_users": len(valid_data.uid_list),
            "test_users": len(test_data.uid_list),
            "torch_threads": torch.get_num_threads(),
        },
    }
    Path(spec["result"]).write_text(json.dumps(result, indent=2))
    return 0


def cross_evaluate(embeddings: str, data_dir: Path) -> int:
    """Runs in llmrec's venv: our evaluator on RecBole's embeddings, printed as JSON."""
    import numpy as np
    import torch

    from llmrec.config import DataConfig, RunConfig
    from llmrec.evaluate import embedding_scorer, evaluate
    from llmrec.experiment import prepare

    split = prepare(RunConfig(data=DataConfig(dataset=DATASET)), [data_dir]).split
    z = np.load(embeddings)
    # Rows in our internal order: our user/item ids are the raw ids as strings or numbers.
    user_row = {int(r): i for i, r in enumerate(z["user_ids"])}
    item_row = {int(r): i for i, r in enumerate(z["item_ids"])}
    dim = z["user_emb"].shape[1]
    user_emb = np.zeros((split.train.n_users, dim), np.float32)
    item_emb = np.zeros((split.train.n_items, dim), np.float32)
    for i, raw in enumerate(split.train.user_ids):
        user_emb[i] = z["user_emb"][user_row[int(raw)]]
    for i, raw in enumerate(split.train.item_ids):
        item_emb[i] = z["item_emb"][item_row[int(raw)]]
    scorer = embedding_scorer(torch.from_numpy(user_emb), torch.from_numpy(item_emb))
    test = evaluate(scorer, split.test, [split.train, split.valid], KS)
    print(json.dumps({"test": test, "test_users": len(split.test.active_users())}))
    return 0


def run_cross_eval(record: dict[str, Any], args: argparse.Namespace) -> None:
    """Attach our evaluator's metrics of RecBole's selected model, and the largest difference."""
    cmd = [str(OURS_PYTHON), str(Path(__file__).resolve()), "--_cross-eval", record["embeddings"]]
    cmd += ["--data-dir", str(args.data_dir)]
    out = subprocess.run(cmd, capture_output=True, text=True, env=child_env(args.threads), cwd=ROOT)
    if out.returncode != 0:
        record["cross_eval"] = {"error": out.stderr.strip().splitlines()[-1:]}
        return
    ours = json.loads(out.stdout.strip().splitlines()[-1])
    names = [f"{m}@{k}" for m in ("recall", "ndcg", "precision") for k in KS]
    diff = {n: ours["test"][n] - record["test"][n] for n in names}
    record["cross_eval"] = {
        "llmrec_evaluator_test": {n: ours["test"][n] for n in names},
        "difference": diff,
        "max_abs_difference": max(abs(d) for d in diff.values()),
        "llmrec_test_users": ours["test_users"],
    }


def save_record(path: Path, key: Any, record: dict[str, Any]) -> dict[str, Any]:
    """Keep a finished run's record beside its outputs, so a killed benchmark can resume (--reuse)."""
    path.write_text(json.dumps({"key": key, "record": record}, indent=2))
    return record


def reuse_record(path: Path, key: Any, enabled: bool) -> dict[str, Any] | None:
    """The saved record of an identical earlier run (same command or config), if --reuse."""
    if not enabled or not path.exists():
        return None
    saved = json.loads(path.read_text())
    if saved["key"] != json.loads(json.dumps(key)):
        return None
    print(f"  reusing {path.relative_to(ROOT)}", flush=True)
    return saved["record"]  # type: ignore[no-any-return]


# --- ours -------------------------------------------------------------------------------------


def run_ours(name: str, args: argparse.Namespace, work: Path) -> dict[str, Any]:
    """`llmrec train` on the same split; reads its metrics.json."""
    key = name.replace("-", "_")
    opt = {
        o: getattr(args, f"ours_{key}_{o}")
        for o in ("batch", "lr", "epochs", "eval_every", "patience", "reg")
    }
    epochs = SMOKE_EPOCHS if args.smoke else opt["epochs"]
    run_dir = work / "ours" / name
    sets = [
        f"seed={args.seed}",
        f"train.lr={opt['lr']!r}",
        f"train.batch_size={opt['batch']}",
        f"train.eval_every={opt['eval_every']}",
        f"train.patience={opt['patience']}",
        f"train.reg={opt['reg']!r}",
        f'train.metric="{VALID_METRIC}"',
        "model.dim=64",
        *(["model.n_layers=3"] if name == "lightgcn" else []),
        *([f"train.threads={args.threads}"] if args.threads else []),
        *getattr(args, f"ours_{key}_set"),
    ]
    cmd = [str(LLMREC), "train", "--dataset", DATASET, "--model", name, "--data-dir", str(args.data_dir)]
    cmd += ["--out", str(run_dir), "--epochs", str(epochs), "--no-progress"]
    for item in sets:
        cmd += ["--set", item]
    record_path = work / "ours" / f"{name}.record.json"
    reused = reuse_record(record_path, cmd, args.reuse)
    if reused is not None:
        return reused
    shutil.rmtree(run_dir, ignore_errors=True)
    proc = run_child(cmd, work / "ours" / f"{name}.log", ROOT, child_env(args.threads))
    metrics = json.loads((run_dir / "metrics.json").read_text())
    run = metrics["runs"][0]
    history = run["history"]
    best = next(h for h in history if h["epoch"] == run["best_epoch"])
    epochs_run = history[-1]["epoch"]
    return save_record(
        record_path,
        cmd,
        {
            "library": "llmrec",
            "model": name,
            **proc,
            "epochs_run": epochs_run,
            "epoch_cap": epochs,
            "stopped_by": {
                "patience": f"early stopping ({opt['patience']} evaluations)",
                "epochs": f"epoch cap ({epochs})",
            }.get(run["stopped_by"], run["stopped_by"]),
            "best_epoch": run["best_epoch"],
            "fit_seconds": run["train_seconds"],
            "seconds_per_epoch": run["train_seconds"] / epochs_run,
            "time_to_best_seconds": best["seconds"],
            "valid": run["valid"],
            "test": run["test"],
            "counts": {
                "n_users": metrics["split"]["n_users"],
                "n_items": metrics["split"]["n_items"],
                **{part: metrics["split"][part] for part in PARTS},
            },
            "history": [
                {"epoch": h["epoch"], "elapsed": h["seconds"], "valid_score": h["valid"][VALID_METRIC]}
                for h in history
            ],
            "hyperparameters": {**opt, "epochs": epochs, "extra_set": getattr(args, f"ours_{key}_set")},
            "run_dir": str(run_dir.relative_to(ROOT)),
        },
    )


# --- checks and report ------------------------------------------------------------------------


def check_protocol(runs: list[dict[str, Any]], stats: dict[str, Any]) -> list[str]:
    """Differences in data handling or evaluation between the runs and the split files."""
    problems = []
    if (
        stats["duplicates"]
        or stats["overlap_train_valid"]
        or stats["overlap_train_test"]
        or stats["overlap_valid_test"]
    ):
        problems.append(
            "the split has duplicate or overlapping (user, item) pairs: RecBole un-masks a test item "
            "the user also has in train/valid (history = used - positives), llmrec masks it"
        )
    expected = {
        "n_users": stats["max_user_id"] + 1,
        "n_items": stats["max_item_id"] + 1,
        **{p: stats[p] for p in PARTS},
    }
    for run in runs:
        who = f"{run['library']} {run['model']}"
        for key, want in expected.items():
            got = run["counts"].get(key)
            if got is not None and got != want:
                problems.append(f"{who}: {key} = {got}, the split files have {want}")
        for part in ("valid", "test"):
            got = run["counts"].get(f"{part}_users")
            if got is not None and got != stats[f"{part}_users"]:
                problems.append(
                    f"{who}: evaluates {got} {part} users, the split has {stats[f'{part}_users']}"
                )
        cross = run.get("cross_eval")
        if cross is None:
            continue
        if "error" in cross:
            problems.append(f"{who}: cross-evaluation failed: {cross['error']}")
        elif cross["max_abs_difference"] > 1e-4 or cross["llmrec_test_users"] != run["counts"]["test_users"]:
            users = f"{cross['llmrec_test_users']} vs {run['counts']['test_users']} users"
            problems.append(
                f"{who}: llmrec's evaluator on RecBole's model differs from RecBole's own test metrics "
                f"by up to {cross['max_abs_difference']:.2g} ({users})"
            )
    return problems


def markdown_table(runs: list[dict[str, Any]]) -> str:
    """One row per run."""
    head = ["library", "model", "epochs run", "s/epoch", "time to best valid", "total wall", "peak RSS MB"]
    head += [f"test {m.replace('recall', 'R').replace('ndcg', 'N')}" for m in TABLE_METRICS]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in runs:
        epochs = f"{r['epochs_run']} (best {r['best_epoch']}; {r['stopped_by']})"
        cells = [r["library"], r["model"], epochs, f"{r['seconds_per_epoch']:.2f}"]
        cells += [
            f"{r['time_to_best_seconds']:.1f} s",
            f"{r['wall_seconds']:.1f} s",
            f"{r['peak_rss_mb']:.0f}",
        ]
        cells += [f"{r['test'][m]:.4f}" for m in TABLE_METRICS]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def verdicts(runs: list[dict[str, Any]]) -> list[str]:
    """The issue's criterion per model: ours at least RecBole's test accuracy, in less wall time."""
    out = []
    for ours_name, rb_name in MODELS.items():
        ours = next((r for r in runs if r["library"] == "llmrec" and r["model"] == ours_name), None)
        rb = next((r for r in runs if r["library"].startswith("RecBole") and r["model"] == rb_name), None)
        if not ours or not rb:
            continue
        acc = all(ours["test"][m] >= rb["test"][m] for m in TABLE_METRICS)
        fast = ours["wall_seconds"] < rb["wall_seconds"]
        gaps = ", ".join(f"{m} {ours['test'][m] - rb['test'][m]:+.4f}" for m in TABLE_METRICS)
        capped = " (RecBole capped)" if rb["stopped_by"].startswith("epoch cap") else ""
        out.append(
            f"{ours_name} vs RecBole {rb_name}{capped}: accuracy {'>=' if acc else 'BELOW'} ({gaps}); "
            f"wall {ours['wall_seconds']:.0f} s vs {rb['wall_seconds']:.0f} s "
            f"({'faster' if fast else 'NOT faster'}) -> {'PASS' if acc and fast else 'FAIL'}"
        )
    return out


def load_previous(path: Path, smoke: bool) -> list[dict[str, Any]]:
    """Runs of an earlier results file of the same kind (full or smoke), to keep what is not re-run."""
    if not path.exists():
        return []
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError:
        return []
    return data.get("runs", []) if data.get("smoke") == smoke else []


# --- command line -----------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    """Options; every hyperparameter of our side is one, for tuning."""
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--only", choices=("all", "recbole", "ours"), default="all", help="which library to run")
    p.add_argument("--reuse", action="store_true", help="reuse finished runs with identical settings")
    p.add_argument(
        "--models", default="bpr-mf,lightgcn", help="comma-separated: bpr-mf, lightgcn (default both)"
    )
    p.add_argument("--smoke", action="store_true", help=f"{SMOKE_EPOCHS} epochs each, to test the plumbing")
    p.add_argument("--seed", type=int, default=2024)
    p.add_argument(
        "--threads", type=int, default=None, help="torch/OpenMP threads in every run (default: torch's)"
    )
    default_data = os.environ.get("LLMREC_DATA_DIR") or str(ROOT.parent / "shared" / "data")
    p.add_argument("--data-dir", type=Path, default=Path(default_data), help=f"folder holding {DATASET}/")
    p.add_argument("--work-dir", type=Path, default=ROOT / "benchmarks" / "work" / "recbole_ml1m")
    p.add_argument(
        "--out",
        type=Path,
        help="results JSON (default benchmarks/results/recbole_ml1m.json; smoke: in --work-dir)",
    )
    p.add_argument(
        "--recbole-bpr-mf-epochs", type=int, default=300, help="RecBole BPR epoch cap (default 300)"
    )
    p.add_argument(
        "--recbole-lightgcn-epochs",
        type=int,
        default=25,
        help="RecBole LightGCN epoch cap (default 25: ~55 s/epoch on 2 cores, ~25 min; recorded as capped)",
    )
    p.add_argument("--recbole-lightgcn-reg", type=float, default=1e-4, help="RecBole LightGCN reg_weight")
    for name, epochs in (("bpr-mf", 300), ("lightgcn", 200)):
        g = p.add_argument_group(f"ours, {name}")
        g.add_argument(f"--ours-{name}-batch", type=int, default=8192)
        g.add_argument(f"--ours-{name}-lr", type=float, default=0.01)
        g.add_argument(f"--ours-{name}-epochs", type=int, default=epochs)
        g.add_argument(f"--ours-{name}-eval-every", type=int, default=1)
        g.add_argument(
            f"--ours-{name}-patience", type=int, default=10, help="evaluations without improvement"
        )
        g.add_argument(f"--ours-{name}-reg", type=float, default=1e-4)
        g.add_argument(
            f"--ours-{name}-set",
            action="append",
            default=[],
            metavar="KEY=VALUE",
            help="extra `llmrec --set`",
        )
    p.add_argument("--_recbole-worker", dest="recbole_worker", help=argparse.SUPPRESS)
    p.add_argument("--_cross-eval", dest="cross_eval", help=argparse.SUPPRESS)
    return p


def main(argv: list[str] | None = None) -> int:
    """Run the selected libraries and models, write the results JSON, print the table."""
    args = build_parser().parse_args(argv)
    if args.recbole_worker:
        return recbole_worker(args.recbole_worker)
    if args.cross_eval:
        return cross_evaluate(args.cross_eval, args.data_dir)
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    unknown = sorted(set(models) - set(MODELS))
    if unknown:
        raise SystemExit(f"unknown model(s) {unknown}; use {sorted(MODELS)}")
    source = args.data_dir / DATASET
    if not (source / "train.txt").exists():
        raise SystemExit(f"{source}/train.txt not found (set --data-dir or LLMREC_DATA_DIR)")
    if args.only in ("all", "recbole") and not RECBOLE_PYTHON.exists():
        raise SystemExit(f"{RECBOLE_PYTHON} missing: run `bash benchmarks/recbole_env.sh` first")
    if args.only in ("all", "ours") and not LLMREC.exists():
        raise SystemExit(f"{LLMREC} missing: run `make` (creates .venv with llmrec) first")
    work = args.work_dir.resolve() / ("smoke" if args.smoke else "full")
    out = args.out or (
        work / "recbole_ml1m.smoke.json"
        if args.smoke
        else ROOT / "benchmarks" / "results" / "recbole_ml1m.json"
    )

    split = read_split(source)
    stats = split_stats(split)
    data_path = work / "recbole_data"
    write_atomic_files(split, source, data_path)
    print(
        f"{DATASET}: {stats['n_users']} users, {stats['n_items']} items, "
        f"{stats['train']}/{stats['valid']}/{stats['test']} train/valid/test interactions"
    )

    runs: list[dict[str, Any]] = []
    for name in models:
        if args.only in ("all", "recbole"):
            print(f"RecBole {MODELS[name]} ...", flush=True)
            record = run_recbole(name, args, work, data_path)
            run_cross_eval(record, args)
            runs.append(record)
            print(
                f"  done in {record['wall_seconds']:.1f} s, {record['seconds_per_epoch']:.2f} s/epoch",
                flush=True,
            )
        if args.only in ("all", "ours"):
            print(f"llmrec {name} ...", flush=True)
            record = run_ours(name, args, work)
            runs.append(record)
            print(
                f"  done in {record['wall_seconds']:.1f} s, {record['seconds_per_epoch']:.2f} s/epoch",
                flush=True,
            )

    done = {(r["library"], r["model"]) for r in runs}
    kept = [r for r in load_previous(out, args.smoke) if (r["library"], r["model"]) not in done]
    order = {
        ("RecBole 1.2.1", "BPR"): 0,
        ("llmrec", "bpr-mf"): 1,
        ("RecBole 1.2.1", "LightGCN"): 2,
        ("llmrec", "lightgcn"): 3,
    }
    all_runs = sorted(kept + runs, key=lambda r: order.get((r["library"], r["model"]), 9))
    problems = check_protocol(all_runs, stats)
    result = {
        "benchmark": "recbole_ml1m",
        "dataset": DATASET,
        "smoke": args.smoke,
        "written": dt.datetime.now().isoformat(timespec="seconds"),
        "command": shlex.join([sys.executable, *sys.argv]),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "threads": args.threads,
        "split": stats,
        "protocol_notes": PROTOCOL_NOTES,
        "protocol_problems": problems,
        "verdicts": verdicts(all_runs),
        "runs": all_runs,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_text(json.dumps(result, indent=2))
    os.replace(tmp, out)

    print()
    print(markdown_table(all_runs))
    print()
    for line in result["verdicts"]:
        print(line)
    for run in all_runs:
        cross = run.get("cross_eval")
        if cross and "max_abs_difference" in cross:
            print(
                f"cross-check {run['model']}: llmrec's evaluator on RecBole's model: max |difference| "
                f"{cross['max_abs_difference']:.2g} over {cross['llmrec_test_users']} test users"
            )
    print(
        "protocol: " + ("no difference found in data or metric handling" if not problems else "DIFFERENCES:")
    )
    for line in problems:
        print(f"  - {line}")
    if args.smoke:
        print(f"SMOKE RUN ({SMOKE_EPOCHS} epochs each): numbers test the plumbing only")
    print(f"results: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
