"""`llmrec sweep`: one config run over a grid of settings, every point over the same seeds, and a plot.

Each grid point is a full `llmrec run` in `OUT/<point>/`. A point starts from hard links to the first
point's files, so what the swept keys do not touch (the baselines, an unchanged augmentation) is
reused by its fingerprint and only what they change is trained again; a replaced file never
alters another point's copy (writes are a rename). `sweep.json` holds every point's test means,
spreads and paired p-values against the point's best baseline; `sweep.html` / `sweep.md` show them
as a table and a chart of the chosen metric against the swept values.
"""

from __future__ import annotations

import itertools
import logging
import os
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from llmrec import config as cfgmod
from llmrec import report_charts as charts
from llmrec.atomic import write_json, write_text
from llmrec.config import RunConfig
from llmrec.errors import ConfigError
from llmrec.pipeline import SUMMARY, run
from llmrec.plan import plan
from llmrec.report_render import Cell, Chart, Section, Table, render_html, render_markdown
from llmrec.significance import stars

log = logging.getLogger("llmrec")
SWEEP_JSON = "sweep.json"
NOT_LINKED = {SUMMARY, "report.html", "report.md", "ablation.json"}  # each point writes its own


def points(grid: Mapping[str, Sequence[Any]]) -> list[dict[str, Any]]:
    """The cartesian product of the grid, in the order the keys and values were given."""
    if not grid or any(len(v) == 0 for v in grid.values()):
        raise ConfigError("sweep: give at least one key with at least one value (--set-grid key=v1,v2)")
    keys = list(grid)
    return [dict(zip(keys, combo, strict=True)) for combo in itertools.product(*(grid[k] for k in keys))]


def label(point: Mapping[str, Any]) -> str:
    """A point's folder name: key=value pairs, file-system safe."""
    text = ",".join(f"{k}={v}" for k, v in point.items())
    return "".join(c if c.isalnum() or c in "=.,_-" else "_" for c in text)


def sweep(
    cfg: RunConfig,
    grid: Mapping[str, Sequence[Any]],
    dirs: Sequence[Path],
    out: Path,
    metric: str = "",
    show_progress: bool | None = None,
    env: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Run every point of `grid` (dotted config keys -> values) and write sweep.json and the plot.

    Every point's config is planned before the first one trains, so a bad value fails at once.
    """
    metric = metric or cfg.train.metric
    configs = []
    for point in points(grid):
        point_cfg = cfgmod.replace(cfg, **point)
        plan(point_cfg)
        configs.append((point, point_cfg))
    first = out / label(configs[0][0])
    rows = []
    for point, point_cfg in configs:
        folder = out / label(point)
        if folder != first:
            _link_tree(first, folder)
        log.info("sweep: %s", label(point))
        summary = run(point_cfg, dirs, folder, show_progress, env)
        rows.append({"point": point, "dir": folder.name, "best_baseline": summary.get("best_baseline"),
                     "models": _entries(summary)})  # fmt: skip
    result = {
        "dataset": cfg.data.dataset,
        "seeds": cfg.seeds,
        "metric": metric,
        "grid": dict(grid),
        "points": rows,
    }
    write_json(out / SWEEP_JSON, result)
    _write_report(out, result)
    return result


def _entries(summary: Mapping[str, Any]) -> dict[str, Any]:
    """Each method's test means, spreads and p-values from a point's summary."""
    return {
        name: {k: entry.get(k) for k in ("test", "test_std", "valid", "p_value")}
        for name, entry in summary.get("models", {}).items()
    }


def _link_tree(source: Path, dest: Path) -> None:
    """`dest` as hard links to `source`'s files (copies where linking fails), but not its summaries."""
    for path in source.rglob("*"):
        if path.is_dir() or path.name in NOT_LINKED or path.name.startswith("report-"):
            continue
        target = dest / path.relative_to(source)
        if target.exists():
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(path, target)
        except OSError:
            shutil.copy2(path, target)


def _write_report(out: Path, result: Mapping[str, Any]) -> None:
    """sweep.html and sweep.md: a table per point and a grouped bar chart of the metric."""
    metric = result["metric"]
    names = list(dict.fromkeys(n for row in result["points"] for n in row["models"]))
    header = ["Point", *names]
    table = []
    for row in result["points"]:
        cells = [Cell(label(row["point"]))]
        for name in names:
            entry = row["models"].get(name)
            if entry is None or metric not in (entry.get("test") or {}):
                cells.append(Cell("—"))
                continue
            mean, std = entry["test"][metric], (entry.get("test_std") or {}).get(metric, 0.0)
            mark = stars((entry.get("p_value") or {}).get(metric))
            cells.append(Cell(f"{mean:.4f} ± {std:.4f}{mark}", "num"))
        table.append(cells)
    groups = [[label(row["point"])] for row in result["points"]]
    bars = [
        charts.Bars(
            name,
            charts.colour(i),
            [(row["models"].get(name) or {}).get("test", {}).get(metric) for row in result["points"]],
        )  # fmt: skip
        for i, name in enumerate(names)
    ]
    svg = charts.bar_chart(groups, bars, f"test {metric} by setting", f"test {metric}")
    note = (
        f"Test {metric}, mean ± std over {result['seeds']} seed(s) per point; stars: paired test over "
        "seeds against the point's best baseline on validation (* p < 0.05, ** p < 0.01, *** p < 0.001)."
    )
    sections = [
        Section("sweep", "Sweep", [Chart("sweep", f"test {metric}", svg, note), Table(header, table)])
    ]
    title = f"llmrec sweep: {result['dataset']}"
    lede = "over " + "; ".join(f"{k} in {list(v)}" for k, v in result["grid"].items())
    write_text(out / "sweep.html", render_html(title, lede, [], sections))
    write_text(out / "report-sweep.svg", svg)
    write_text(out / "sweep.md", render_markdown(title, lede, [], sections))


__all__ = ["SWEEP_JSON", "label", "points", "sweep"]
