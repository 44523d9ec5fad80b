"""A finished run directory -> `report.html` (one self-contained page) and `report.md` (its Markdown twin).

Reads JSON only: `summary.json`, each model's `metrics.json`, `ablation.json` and the augmentation
audit. This module decides what the report says; both files are rendered from the same sections
(tables, charts, notes, samples) by `report_render.py`, with charts from `report_charts.py`, so they
cannot disagree. Text from JSON is passed on raw and escaped at rendering. Parts a run did not
produce (ablation, augmentation, several seeds, per-epoch history, per-activity results) are left
out, never guessed.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from llmrec import report_charts as charts
from llmrec.atomic import write_text
from llmrec.report_augment import augmentation_section, count, teacher_text
from llmrec.report_er2alm import er2alm_section
from llmrec.report_render import Block, Cell, Chart, Section, Table, render_html, render_markdown
from llmrec.significance import higher_is_better, stars

CHART_NAMES = ("curves", "loss", "activity", "edge-quality")  # written as report-<name>.svg
EVERY_K = ("recall", "ndcg")  # shown at every cutoff
ONE_K = ("precision", "hit", "mrr")  # shown at one cutoff only, so that the table fits a screen
MAIN_K = 20
RATING_COLUMNS = ("rmse", "mae")  # the rating task's table: errors, lower is better
STAR_NOTE = "* p < 0.05, ** p < 0.01, *** p < 0.001, a difference either way"


def write_report(run_dir: Path, summary: Mapping[str, Any] | None = None) -> list[Path]:
    """Write report.html, report.md and the SVG charts report.md links into `run_dir`; return their paths.

    `summary` is the run's summary (default: its summary.json, which a run writes after its report).
    """
    run_dir = Path(run_dir)
    summary = summary if summary is not None else _read_json(run_dir / "summary.json")
    if summary is None:
        raise FileNotFoundError(
            f"{run_dir / 'summary.json'} not found: not a finished `llmrec run` directory"
        )
    metrics = {n: m for n in summary.get("models", {}) if (m := _read_json(run_dir / n / "metrics.json"))}
    audit = summary.get("augmentation") or _read_json(run_dir / "augment" / "audit.json")
    candidates = (
        _results_section(summary),
        *_ablation_sections(_read_json(run_dir / "ablation.json"), summary),
        _curves_section(summary, metrics),
        _activity_section(summary, metrics),
        augmentation_section(audit),
        er2alm_section(summary.get("er2alm")),
    )
    sections = [s for s in candidates if s is not None]
    title = f"llmrec run: {summary.get('dataset', run_dir.name)}"
    lede, notes = _heading(summary, metrics, summary.get("teacher") or (audit or {}).get("teacher"))
    written = [run_dir / "report.html", run_dir / "report.md"]
    write_text(written[0], render_html(title, lede, notes, sections))
    write_text(written[1], render_markdown(title, lede, notes, sections))
    drawn = {b.name: b.svg for s in sections for b in s.blocks if isinstance(b, Chart)}
    for name in CHART_NAMES:
        path = run_dir / f"report-{name}.svg"
        if name in drawn:
            write_text(path, drawn[name])
            written.append(path)
        else:  # a chart left over from an earlier report would describe another run
            path.unlink(missing_ok=True)
    return written


def _heading(summary: Mapping[str, Any], metrics: Mapping[str, Any], teacher: Any) -> tuple[str, list[str]]:
    """The line under the title (dataset, seeds, teacher, split) and the split's notes."""
    seeds = int(summary.get("seeds") or 1)
    parts = [
        str(summary.get("dataset", "?")),
        f"{seeds} seed{'s' if seeds != 1 else ''}",
        *(_rating_labels(summary) or [teacher_text(teacher)]),
    ]
    split = next((m["split"] for m in metrics.values() if "split" in m), None)
    if split is None:
        return " · ".join(parts), []
    parts.append(
        f"{split.get('method', '?')} split of {count(split.get('n_users'))} users × "
        f"{count(split.get('n_items'))} items: {count(split.get('train'))} train / "
        f"{count(split.get('valid'))} valid / {count(split.get('test'))} test interactions"
    )
    return " · ".join(parts), [f"Data: {note}" for note in split.get("notes", [])]


def _rating_labels(summary: Mapping[str, Any]) -> list[str]:
    """Who filled the rating task's attributes and who rated, as labelled in summary.json ([] if no one)."""

    def who(label: Any) -> str:
        if not isinstance(label, Mapping):
            return "?"
        if label.get("kind") == "llm":
            return f"LLM {label.get('backend', '?')} / {label.get('model', '?')}"
        return str(label.get("what") or label.get("kind", "?"))

    labels = [
        f"{n} attributes: {who(v.get('teacher'))}"
        for n, v in (summary.get("rating_attributes") or {}).items()
    ]
    return labels + [f"{n}: {who(v.get('rater'))}" for n, v in (summary.get("raters") or {}).items()]


def _results_section(summary: Mapping[str, Any]) -> Section | None:
    """Test metrics per model, mean ± std with significance stars, the best of each column in bold."""
    models: Mapping[str, Any] = summary.get("models") or {}
    if not models:
        return None
    ks = summary.get("config", {}).get("eval", {}).get("ks") or sorted(
        {int(n.split("@")[1]) for entry in models.values() for n in entry.get("test", {}) if "@" in n}
    )
    main = MAIN_K if MAIN_K in ks else max(ks, default=MAIN_K)
    wanted = [f"{m}@{k}" for m in EVERY_K for k in ks] + [f"{m}@{main}" for m in ONE_K]
    rating = [m for m in RATING_COLUMNS if any(m in e.get("test", {}) for e in models.values())]
    columns = rating or [c for c in wanted if any(c in e.get("test", {}) for e in models.values())]
    std_shown = int(summary.get("seeds") or 1) > 1
    rows = [
        [Cell(name)]
        + [
            _metric_cell(
                entry.get("test", {}), entry.get("test_std", {}) if std_shown else {}, entry, c, models
            )
            for c in columns
        ]
        for name, entry in models.items()
    ]
    seeds = int(summary.get("seeds") or 1)
    note = f"Test metrics, mean ± std over {seeds} seeds" if seeds > 1 else "Test metrics of one seed"
    note += "; bold: best in its column"
    note += " (rating prediction: errors on the rating scale, lower is better)." if rating else "."
    sig = summary.get("significance")
    if _has_p_values(models.values()) and sig:
        note += (
            f" Stars: paired {sig.get('test', '?')} over seeds against {sig.get('against', '?')} "
            f"(chosen by {sig.get('chosen_by', '?')}); {STAR_NOTE}."
        )
    else:
        note += " No significance test: it needs two seeds or more and a summary that holds p-values."
    title = "Rating prediction: test RMSE and MAE" if rating else "Test results"
    return Section("results", title, [Table(["Model", *columns], rows), note])


def _metric_cell(
    mean: Mapping[str, float],
    std: Mapping[str, float],
    entry: Mapping[str, Any],
    metric: str,
    rivals: Mapping[str, Mapping[str, Any]],
) -> Cell:
    """`metric` of one entry: mean, ± std, stars from its p-value, delta, bold when no rival is better
    (higher; lower for an error such as RMSE)."""
    value = mean.get(metric)
    if value is None:
        return Cell("–", "num")
    sign = 1.0 if higher_is_better(metric) else -1.0
    best = max(sign * r.get("test", {}).get(metric, sign * float("-inf")) for r in rivals.values())
    spread = std.get(metric)
    return Cell(
        f"{value:.4f}",
        "num",
        bold=sign * value >= best,
        std="" if spread is None else f"± {spread:.4f}",
        stars=stars((entry.get("p_value") or {}).get(metric)),
        delta=(entry.get("delta") or {}).get(metric),
    )


def _has_p_values(entries: Iterable[Mapping[str, Any]]) -> bool:
    """Whether any entry holds a p-value (one seed, or a run older than the tests, holds none)."""
    return any(v is not None for e in entries for v in (e.get("p_value") or {}).values())


def _ablation_sections(ablation: Any, summary: Mapping[str, Any]) -> list[Section]:
    """One ablation table per method that has one (an ablation.json of one method, as written before
    issue 21, is read as such)."""
    if not ablation:
        return []
    parts = ablation.get("methods") or [ablation]
    sections = [_ablation_section(part, ablation, summary, len(parts) > 1) for part in parts]
    return [s for s in sections if s is not None]


def _ablation_section(
    ablation: Mapping[str, Any], whole: Mapping[str, Any], summary: Mapping[str, Any], named: bool
) -> Section | None:
    """One row per ablation variant: its switches, and test metrics with stars and change vs the reference."""
    if not ablation.get("variants"):
        return None
    method = ablation.get("method", "llmrec")
    variants = ablation["variants"]
    names = ablation.get("metrics") or list(variants[0].get("test", {}))
    switches = list(dict.fromkeys(s for v in variants for s in v.get("switches", {})))
    std_shown = int(whole.get("seeds") or summary.get("seeds") or 1) > 1
    rivals = {v["name"]: v for v in variants}
    rows = [
        [Cell(v.get("label") or v["name"])]
        + [Cell("✓", "on") if v.get("switches", {}).get(s) else Cell("✗", "off") for s in switches]
        + [
            _metric_cell(v.get("test", {}), v.get("test_std", {}) if std_shown else {}, v, m, rivals)
            for m in names
        ]
        for v in variants
    ]
    full = rivals.get(ablation.get("reference"), {})
    reference = full.get("label") or full.get("name") or "the reference"
    note = (
        f"Each variant turns {method}'s parts on (✓) or off (✗). Test metrics, mean ± std over seeds; bold: "
        f"best in its column; the percentage is the change of the mean relative to {reference}."
    )
    if _has_p_values(variants):
        test = (ablation.get("significance") or summary.get("significance") or {}).get("test", "test")
        note += f" Stars: paired {test} over seeds against {reference}; {STAR_NOTE}."
    section_id, title = (f"ablation-{method}", f"Ablation: {method}") if named else ("ablation", "Ablation")
    return Section(section_id, title, [Table(["Variant", *switches, *names], rows), note])


def _curves_section(summary: Mapping[str, Any], metrics: Mapping[str, Any]) -> Section | None:
    """Validation metric and training loss against epoch, one line per model."""
    metric = summary.get("config", {}).get("train", {}).get("metric", f"recall@{MAIN_K}")
    colours = _colours(summary)
    valid_lines, loss_lines, lone, lossless = [], [], [], []
    for name, m in metrics.items():
        runs = [r for r in m.get("runs", []) if r.get("history")]
        if not runs:
            continue
        valid = _mean_curve(runs, lambda h: h.get("valid", {}).get(metric))
        loss = _mean_curve(runs, lambda h: h.get("loss"))
        if valid:
            valid_lines.append(charts.Line(name, colours[name], valid))
            lone += [name] if len(valid) == 1 else []
        if loss:
            loss_lines.append(charts.Line(name, colours[name], loss))
        else:
            lossless.append(name)
    if not valid_lines and not loss_lines:
        return None
    seeds = int(summary.get("seeds") or 1)
    how = f"Mean over the {seeds} seeds at the epochs every seed reached" if seeds > 1 else "One seed"
    blocks: list[Block] = []
    if valid_lines:
        title = f"Validation {metric} by epoch"
        caption = f"{how}; a marker per evaluation."
        if lone:
            caption += f" A single evaluation (closed form, no epochs): {', '.join(lone)}."
        blocks.append(Chart("curves", title, charts.line_chart(valid_lines, title, "epoch", metric), caption))
    if loss_lines:
        title = "Training loss by epoch"
        caption = f"{how}." + (f" No training loss recorded for {', '.join(lossless)}." if lossless else "")
        blocks.append(Chart("loss", title, charts.line_chart(loss_lines, title, "epoch", "loss"), caption))
    return Section("curves", "Training curves", blocks)


def _mean_curve(
    runs: Sequence[Mapping[str, Any]], value: Callable[[Mapping[str, Any]], Any]
) -> list[tuple[float, float]]:
    """(epoch, mean over runs) at the epochs where every run has a value; early-stopped seeds end it."""
    per_run = [{h["epoch"]: v for h in r["history"] if (v := value(h)) is not None} for r in runs]
    common = sorted(set.intersection(*(set(p) for p in per_run)))
    return [(float(e), sum(p[e] for p in per_run) / len(per_run)) for e in common]


def _activity_section(summary: Mapping[str, Any], metrics: Mapping[str, Any]) -> Section | None:
    """Test recall and NDCG per user-activity group, mean over seeds: does a model help the long tail?"""
    ks = summary.get("config", {}).get("eval", {}).get("ks") or [MAIN_K]
    k = MAIN_K if MAIN_K in ks else max(ks)
    recall, ndcg = f"recall@{k}", f"ndcg@{k}"
    groups: dict[str, list[dict[str, Any]]] = {}
    for name, m in metrics.items():
        runs = m.get("runs", [])
        if runs and all(r.get("test_by_activity") for r in runs):
            groups[name] = _mean_groups([r["test_by_activity"] for r in runs])
    if not groups:
        return None
    first = next(iter(groups.values()))
    colours = _colours(summary)
    bars = [
        charts.Bars(
            name, colours[name], [g[i].get(recall) if i < len(g) else None for i in range(len(first))]
        )
        for name, g in groups.items()
    ]
    ticks = [[_span(g), f"{g['users']:,} users"] for g in first]
    title = f"Test {recall} by user activity"
    svg = charts.bar_chart(ticks, bars, title, recall, "training interactions per user, group size")
    header = ["User group"] + [f"{name} {metric}" for name in groups for metric in (recall, ndcg)]
    rows = []
    for i, g in enumerate(first):
        label = f"{_span(g)} interactions ({g['users']:,} users)"
        row = {
            metric: [gs[i].get(metric) if i < len(gs) else None for gs in groups.values()]
            for metric in (recall, ndcg)
        }
        best = {metric: max((v for v in vs if v is not None), default=None) for metric, vs in row.items()}
        cells = [Cell(label)]
        for j in range(len(groups)):
            for metric in (recall, ndcg):
                v = row[metric][j]
                cells.append(
                    Cell("–", "num") if v is None else Cell(f"{v:.4f}", "num", bold=v == best[metric])
                )
        rows.append(cells)
    caption = (
        "Users split into equal-size groups by their number of training interactions, least active first; "
        "mean over seeds. Bold: best model within the group."
    )
    skipped = [n for n in metrics if n not in groups]
    blocks: list[Block] = [Chart("activity", title, svg, caption), Table(header, rows)]
    if skipped:
        blocks.append(
            f"No per-activity results for {', '.join(skipped)} (run written before they were kept)."
        )
    return Section("activity", "Accuracy by user activity", blocks)


def _mean_groups(per_seed: Sequence[Sequence[Mapping[str, Any]]]) -> list[dict[str, Any]]:
    """Groups of the first seed with each metric averaged over seeds (the groups come from the shared
    split, so they are the same users in every seed)."""
    out = []
    for i, group in enumerate(per_seed[0]):
        seen = [seed[i] for seed in per_seed if i < len(seed)]
        metrics = [k for k in group if "@" in k and all(s.get(k) is not None for s in seen)]
        means = {k: sum(s[k] for s in seen) / len(seen) for k in metrics}
        out.append({**group, **means})
    return out


def _colours(summary: Mapping[str, Any]) -> dict[str, str]:
    """One colour per model, fixed by its place in the summary, so every chart agrees."""
    return {name: charts.colour(i) for i, name in enumerate(summary.get("models", {}))}


def _read_json(path: Path) -> Any:
    """The parsed file, or None when it does not exist."""
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def _span(group: dict[str, Any]) -> str:
    """A group's range of training interactions: "4" when ties put one count in the whole group."""
    lo, hi = group["min_interactions"], group["max_interactions"]
    return f"{lo}" if lo == hi else f"{lo}–{hi}"
