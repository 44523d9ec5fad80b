"""The run report: values in tables and charts match the run's JSON, LLM text is escaped, missing parts are
left out, and the page really renders in a headless Chromium."""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import struct
import subprocess
import zlib
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest

from llmrec.report import _span, write_report
from llmrec.report_charts import nice_ticks

SVG = "{http://www.w3.org/2000/svg}"
INJECTION = "<script>alert('x')</script><img src=x onerror=alert(1)>"
MODELS = ("bpr-mf", "lightgcn", "gf-cf", "llmrec")
KS = (10, 20)
METRICS = [f"{m}@{k}" for k in KS for m in ("recall", "ndcg", "precision", "hit", "mrr")]
COLUMNS = ["recall@10", "recall@20", "ndcg@10", "ndcg@20", "precision@20", "hit@20", "mrr@20"]
# Means rise with the model's place and the metric's, so llmrec is best everywhere but in hit@20.
TEST = {
    name: {m: round(0.1 + 0.05 * i + 0.01 * j, 4) for j, m in enumerate(METRICS)}
    for i, name in enumerate(MODELS)
}
TEST["bpr-mf"]["hit@20"] = 0.99
STD = {name: {m: 0.001 * (i + 1) for m in METRICS} for i, name in enumerate(MODELS)}
P_LLMREC = {
    "recall@10": 0.0004,  # ***
    "recall@20": 0.004,  # **
    "ndcg@10": 0.03,  # *
    "ndcg@20": 0.05,  # not below 0.05: no star
    "precision@20": None,
    "hit@20": 0.2,
    "mrr@20": 0.049,  # *
}
EXPECTED_STARS = {"recall@10": "***", "recall@20": "**", "ndcg@10": "*", "mrr@20": "*"}
EPOCHS = {
    "bpr-mf": [[5, 10, 15]] * 3,
    "lightgcn": [[5, 10, 15]] * 3,
    "llmrec": [[5, 10, 15, 20, 25], [5, 10, 15, 20], [5, 10, 15, 20, 25]],
}
GROUPS = [(1, 4, 10), (5, 9, 10), (10, 40, 12)]  # (min, max interactions, users)


def _valid_recall(model: int, seed: int, epoch: int) -> float:
    """A made-up validation recall@20 that differs by model, seed and epoch."""
    return 0.2 + 0.01 * model + 0.001 * seed + 0.002 * epoch


def _group_recall(model: int, seed: int, group: int) -> float:
    """A made-up test recall@20 of one activity group."""
    return 0.1 + 0.1 * group + 0.02 * model + 0.003 * seed


def _metrics(name: str, seeds: int) -> dict[str, Any]:
    """metrics.json of one model in the current shape (gf-cf: closed form, written before activity groups)."""
    i = MODELS.index(name)
    runs = []
    for s in range(seeds):
        if name == "gf-cf":
            history = [
                {"epoch": 0, "loss": None, "seconds": 1.0, "train_seconds": 1.0, "valid": {"recall@20": 0.3}}
            ]
        else:
            history = [
                {
                    "epoch": e,
                    "loss": 1.0 / e + 0.1 * i,
                    "seconds": 0.5,
                    "train_seconds": 0.4,
                    "valid": {"recall@20": _valid_recall(i, s, e), "ndcg@20": 0.1},
                }
                for e in EPOCHS[name][s % len(EPOCHS[name])]
            ]
        run: dict[str, Any] = {"seed": 2024 + s, "test": TEST[name], "history": history}
        if name != "gf-cf":
            run["test_by_activity"] = [
                {
                    "group": g + 1,
                    "users": users,
                    "min_interactions": lo,
                    "max_interactions": hi,
                    "recall@20": _group_recall(i, s, g),
                    "ndcg@20": _group_recall(i, s, g) / 2,
                }
                for g, (lo, hi, users) in enumerate(GROUPS)
            ]
        runs.append(run)
    split = {
        "method": "ratio",
        "n_users": 32,
        "n_items": 50,
        "train": 400,
        "valid": 50,
        "test": 50,
        "notes": [],
    }
    return {"dataset": "toy", "model": name, "runs": runs, "split": split}


def _audit() -> dict[str, Any]:
    """augment/audit.json with an LLM teacher, parse counters and samples that carry hostile text."""
    return {
        "teacher": {"kind": "llm", "backend": "openai", "model": "gpt-4o-mini"},
        "base": {"model": "lightgcn", "seed": 2024, "selected_by": "best validation recall@20"},
        "n_candidates": 10,
        "users": 32,
        "items": 50,
        "edges": {
            "users": 32,
            "usable": 30,
            "no_history": 2,
            "prompts": 30,
            "rejected_first_answers": {"format": 2, "not_a_candidate": 1},
            "parse_failure_rate": 0.075,
            "quality": {
                "users": 28,
                "augmented_positive": 0.25,
                "base_top1": 0.3,
                "random_candidate": 0.1,
                "augmented_negative": 0.05,
            },
        },
        "attributes": {
            "items": 50,
            "coverage": {"director": {"dataset": 0.8, "teacher": 0.1, "missing": 0.1}},
        },
        "profiles": {"users": 32, "usable": 31},
        "llm_usage": {"requests": 61, "cache_hits": 3, "prompt_tokens": 90_000, "cost_usd": 0.0123},
        "samples": {
            "edges": [
                {
                    "user_id": "7",
                    "prompt": f"history ```{INJECTION}",
                    "answer": INJECTION,
                    "parsed": {"liked": INJECTION},
                },
                {"user_id": "9", "prompt": "plain prompt", "answer": "1::2", "parsed": {"liked": "A"}},
            ],
            "profiles": [{"user_id": "7", "note": "built from history statistics", "parsed": {"age": 30}}],
        },
    }


def _ablation() -> dict[str, Any]:
    """ablation.json: the reference and two variants with one part switched off."""
    switches = {"edges": True, "attributes": True, "profiles": True, "pruning": True, "mae": True}
    full = {
        "name": "full",
        "label": "LLMRec (all augmentations, pruning, MAE)",
        "switches": switches,
        "test": {"recall@20": 0.4, "ndcg@20": 0.2},
        "test_std": {"recall@20": 0.002, "ndcg@20": 0.001},
    }
    no_edges = {
        "name": "no-edges",
        "label": "without augmented edges",
        "switches": {**switches, "edges": False},
        "test": {"recall@20": 0.3876, "ndcg@20": 0.21},
        "test_std": {"recall@20": 0.003, "ndcg@20": 0.001},
        "p_value": {"recall@20": 0.004, "ndcg@20": 0.3},
        "delta": {"recall@20": -0.031, "ndcg@20": 0.05},
    }
    no_mae = {**no_edges, "name": "no-mae", "label": "without MAE", "switches": {**switches, "mae": False}}
    return {
        "seeds": 3,
        "reference": "full",
        "significance": {"test": "wilcoxon", "against": "full"},
        "metrics": ["recall@20", "ndcg@20"],
        "variants": [full, no_edges, no_mae],
    }


def write_run(root: Path, seeds: int = 3) -> Path:
    """A finished run directory with every part the report can show."""
    models = {}
    for i, name in enumerate(MODELS):
        entry: dict[str, Any] = {"test": TEST[name], "test_std": STD[name], "train_seconds": 10.0 * (i + 1)}
        if name != "lightgcn":  # the best baseline has no p-values: it is what the others are tested against
            entry["p_value"] = P_LLMREC if name == "llmrec" else {m: 0.5 for m in COLUMNS}
        models[name] = entry
        (root / name).mkdir(parents=True)
        (root / name / "metrics.json").write_text(json.dumps(_metrics(name, seeds)))
    summary = {
        "dataset": "toy",
        "seeds": seeds,
        "config": {"eval": {"ks": list(KS)}, "train": {"metric": "recall@20"}},
        "models": models,
        "best_baseline": "lightgcn",
        "significance": {"test": "ttest", "against": "lightgcn", "chosen_by": "best validation recall@20"},
        "teacher": {"kind": "llm", "backend": "openai", "model": "gpt-4o-mini"},
    }
    (root / "summary.json").write_text(json.dumps(summary))
    (root / "ablation.json").write_text(json.dumps(_ablation()))
    (root / "augment").mkdir()
    (root / "augment" / "audit.json").write_text(json.dumps(_audit()))
    return root


class _Tables(HTMLParser):
    """Every <table> of a page as rows of cells {text, bold, stars}; stars are the <sup> text."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[list[list[dict[str, Any]]]] = []
        self.cell: dict[str, Any] | None = None
        self.open: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self.cell = {"text": "", "bold": False, "stars": ""}
        self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self.cell is not None:
            self.cell["text"] = " ".join(self.cell["text"].split())
            self.tables[-1][-1].append(self.cell)
            self.cell = None
        if tag in self.open:  # the text may start inside elements it never opened
            del self.open[len(self.open) - 1 - self.open[::-1].index(tag) :]

    def handle_data(self, data: str) -> None:
        if self.cell is None or not self.open:
            return
        if self.open[-1] == "sup":
            self.cell["stars"] += data
            return
        if self.open[-1] == "strong":
            self.cell["bold"] = True
        self.cell["text"] += data


def _tables(html_text: str) -> list[list[list[dict[str, Any]]]]:
    """The tables of a page."""
    parser = _Tables()
    parser.feed(html_text)
    return parser.tables


def _table_after(html_text: str, section: str) -> list[list[dict[str, Any]]]:
    """The first table of a section, header row first."""
    start = html_text.index(f'<section id="{section}">')
    return _tables(html_text[start:])[0]


def _column(table: list[list[dict[str, Any]]], name: str) -> dict[str, dict[str, Any]]:
    """Cells of one column by the row's first cell."""
    j = [c["text"] for c in table[0]].index(name)
    return {row[0]["text"]: row[j] for row in table[1:]}


@pytest.fixture()
def run(tmp_path: Path) -> Path:
    """A full run directory with its report written."""
    root = write_run(tmp_path / "run")
    write_report(root)
    return root


def test_write_report_returns_the_page_its_twin_and_every_chart(tmp_path: Path) -> None:
    root = write_run(tmp_path / "run")
    names = [p.name for p in write_report(root)]
    assert names == [
        "report.html",
        "report.md",
        "report-curves.svg",
        "report-loss.svg",
        "report-activity.svg",
        "report-edge-quality.svg",
    ]
    page = (root / "report.html").read_text()
    sections = re.findall(r'<section id="([a-z]+)">', page)
    assert sections == ["results", "ablation", "curves", "activity", "augmentation"]
    assert "<script" not in page.lower() and "http://" not in page.replace("http://www.w3.org/2000/svg", "")


def test_heading_names_dataset_seeds_teacher_and_split(run: Path) -> None:
    page = (run / "report.html").read_text()
    lede = re.search(r'<p class="lede">(.*?)</p>', page)
    assert lede is not None
    assert lede.group(1) == (
        "toy · 3 seeds · LLM teacher openai / gpt-4o-mini · ratio split of 32 users × 50 items: "
        "400 train / 50 valid / 50 test interactions"
    )


def test_results_cells_show_mean_and_std_to_four_decimals(run: Path) -> None:
    table = _table_after((run / "report.html").read_text(), "results")
    assert [c["text"] for c in table[0]] == ["Model", *COLUMNS]
    assert [row[0]["text"] for row in table[1:]] == list(MODELS)
    cell = _column(table, "recall@20")["lightgcn"]
    assert cell["text"] == f"{TEST['lightgcn']['recall@20']:.4f}± {STD['lightgcn']['recall@20']:.4f}"
    assert cell["text"] == "0.2000± 0.0020"


def test_stars_appear_exactly_where_p_is_below_005(run: Path) -> None:
    table = _table_after((run / "report.html").read_text(), "results")
    for name in COLUMNS:
        column = _column(table, name)
        assert column["llmrec"]["stars"] == EXPECTED_STARS.get(name, ""), name
        assert column["bpr-mf"]["stars"] == "" and column["lightgcn"]["stars"] == ""


def test_best_in_each_column_is_bold(run: Path) -> None:
    table = _table_after((run / "report.html").read_text(), "results")
    for name in COLUMNS:
        bold = {model for model, cell in _column(table, name).items() if cell["bold"]}
        assert bold == {max(MODELS, key=lambda m: TEST[m][name])}, name
    assert _column(table, "hit@20")["bpr-mf"]["bold"]


def test_significance_footnote_names_test_reference_and_thresholds(run: Path) -> None:
    page = (run / "report.html").read_text()
    assert "paired ttest over seeds against lightgcn (chosen by best validation recall@20)" in page
    assert "* p &lt; 0.05, ** p &lt; 0.01, *** p &lt; 0.001" in page


def test_ablation_shows_switches_stars_and_relative_change(run: Path) -> None:
    table = _table_after((run / "report.html").read_text(), "ablation")
    assert [c["text"] for c in table[0]] == [
        "Variant",
        "edges",
        "attributes",
        "profiles",
        "pruning",
        "mae",
    ] + [
        "recall@20",
        "ndcg@20",
    ]
    rows = {row[0]["text"]: row for row in table[1:]}
    assert [c["text"] for c in rows["without augmented edges"][1:6]] == ["✗", "✓", "✓", "✓", "✓"]
    assert [c["text"] for c in rows["without MAE"][1:6]] == ["✓", "✓", "✓", "✓", "✗"]
    recall = _column(table, "recall@20")
    assert recall["without augmented edges"]["text"] == "0.3876± 0.0030 −3.1%"
    assert recall["without augmented edges"]["stars"] == "**"
    assert recall["LLMRec (all augmentations, pruning, MAE)"] == {
        "text": "0.4000± 0.0020",
        "bold": True,
        "stars": "",
    }
    assert _column(table, "ndcg@20")["without MAE"]["text"] == "0.2100± 0.0010 +5.0%"
    page = (run / "report.html").read_text()
    reference = "LLMRec (all augmentations, pruning, MAE)"
    assert (
        f"change of the mean relative to {reference}. Stars: paired wilcoxon over seeds against {reference}"
        in page
    )


def test_curve_has_one_point_per_common_epoch(run: Path) -> None:
    svg = ElementTree.parse(run / "report-curves.svg").getroot()
    series = {g.get("data-name"): g for g in svg.iter(f"{SVG}g") if g.get("class") == "series"}
    assert list(series) == ["bpr-mf", "lightgcn", "gf-cf", "llmrec"]
    # llmrec's second seed stopped at epoch 20, so the mean curve ends there
    expected = {"bpr-mf": 3, "lightgcn": 3, "gf-cf": 1, "llmrec": 4}
    for name, n in expected.items():
        circles = series[name].findall(f"{SVG}circle")
        assert len(circles) == n, name
        lines = series[name].findall(f"{SVG}polyline")
        assert [len(p.get("points", "").split()) for p in lines] == ([n] if n > 1 else []), name
    mean = sum(_valid_recall(3, s, 10) for s in range(3)) / 3
    titles = [t.text for t in series["llmrec"].iter(f"{SVG}title")]
    assert f"llmrec: 10, {mean:.4f}" in titles


def test_loss_chart_leaves_out_models_without_a_loss(run: Path) -> None:
    svg = ElementTree.parse(run / "report-loss.svg").getroot()
    names = [g.get("data-name") for g in svg.iter(f"{SVG}g") if g.get("class") == "series"]
    assert names == ["bpr-mf", "lightgcn", "llmrec"]
    assert "No training loss recorded for gf-cf." in (run / "report.html").read_text()


def test_activity_chart_has_a_bar_per_group_and_model(run: Path) -> None:
    svg = ElementTree.parse(run / "report-activity.svg").getroot()
    bars = [r for r in svg.iter(f"{SVG}rect") if r.get("class") == "mark bar"]
    assert len(bars) == len(GROUPS) * 3  # gf-cf's run predates activity groups: left out
    labels = ["".join(t.itertext()) for t in svg.iter(f"{SVG}text") if t.find(f"{SVG}tspan") is not None]
    assert labels == ["1–410 users", "5–910 users", "10–4012 users"]
    table = _table_after((run / "report.html").read_text(), "activity")
    rows = {row[0]["text"]: row for row in table[1:]}
    assert list(rows) == [
        "1–4 interactions (10 users)",
        "5–9 interactions (10 users)",
        "10–40 interactions (12 users)",
    ]
    mean = sum(_group_recall(1, s, 2) for s in range(3)) / 3
    assert _column(table, "lightgcn recall@20")["10–40 interactions (12 users)"]["text"] == f"{mean:.4f}"
    assert _column(table, "llmrec recall@20")["1–4 interactions (10 users)"]["bold"]
    assert "No per-activity results for gf-cf" in (run / "report.html").read_text()


def test_audit_shows_counts_quality_usage_and_escaped_samples(run: Path) -> None:
    page = (run / "report.html").read_text()
    start = page.index('<section id="augmentation">')
    counts, quality, coverage, usage = _tables(page[start:])
    assert [c["text"] for c in counts[3]] == ["edges", "users", "32"]
    assert [c["text"] for c in counts[4]] == ["", "usable", "30"]  # a part is named on its first row only
    assert ["", "first answers rejected (format 2, not_a_candidate 1)", "3"] in [
        [c["text"] for c in row] for row in counts
    ]
    assert [[c["text"] for c in row] for row in quality[1:]] == [
        ["augmented positive", "25.0%"],
        ["base model's top-1", "30.0%"],
        ["random candidate", "10.0%"],
        ["augmented negative", "5.0%"],
    ]
    assert [c["text"] for c in coverage[1]] == ["director", "80.0%", "10.0%", "10.0%", "?"]
    assert ["cost (USD)", "$0.0123"] in [[c["text"] for c in row] for row in usage]
    assert page.count("<details>") == 3
    assert INJECTION not in page and "<img" not in page
    assert html.escape(INJECTION) in page


def test_markdown_twin_has_the_same_tables_and_links_the_charts(run: Path) -> None:
    page_tables = _tables((run / "report.html").read_text())
    markdown = (run / "report.md").read_text()
    md_tables = re.findall(r"((?:^\|.*\|\n)+)", markdown, flags=re.M)
    assert len(md_tables) == len(page_tables)
    for md_table, page_table in zip(md_tables, page_tables, strict=True):
        rows = md_table.strip().split("\n")
        del rows[1]  # the alignment row
        assert len(rows) == len(page_table)
        firsts = [re.sub(r"\\(.)", r"\1", row.split(" | ")[0][2:]) for row in rows]
        assert firsts == [row[0]["text"] for row in page_table]
    assert "| llmrec | **0.2500 ± 0.0040**\\*\\*\\* |" in markdown
    for name in ("curves", "loss", "activity", "edge-quality"):
        assert f"](report-{name}.svg)" in markdown
    # hostile text appears only inside code fences, whose content Markdown shows literally
    outside = re.sub(r"^(`{3,})text\n.*?^\1$", "", markdown, flags=re.M | re.S)
    assert re.search(r"(?<!\\)<(script|img)", outside) is None
    assert "````text" in markdown  # the prompt holds ``` so its fence is longer


def test_missing_parts_are_left_out(tmp_path: Path) -> None:
    root = write_run(tmp_path / "run", seeds=1)
    write_report(root)
    assert (root / "report-activity.svg").is_file()
    summary = json.loads((root / "summary.json").read_text())
    for entry in summary["models"].values():
        entry.pop("p_value", None)
    summary.pop("teacher")
    summary.pop("significance")
    (root / "summary.json").write_text(json.dumps(summary))
    (root / "ablation.json").unlink()
    shutil.rmtree(root / "augment")
    for name in MODELS:  # an older run: no history, no activity groups
        metrics = json.loads((root / name / "metrics.json").read_text())
        for r in metrics["runs"]:
            r.pop("history")
            r.pop("test_by_activity", None)
        (root / name / "metrics.json").write_text(json.dumps(metrics))
    names = [p.name for p in write_report(root)]
    assert names == ["report.html", "report.md"]
    assert not list(root.glob("report-*.svg"))  # the earlier report's charts would describe another run
    page = (root / "report.html").read_text()
    assert re.findall(r'<section id="([a-z]+)">', page) == ["results"]
    assert "1 seed · no teacher (augmentation not run)" in page
    assert "No significance test" in page
    cell = _column(_table_after(page, "results"), "recall@20")["llmrec"]
    assert cell == {"text": "0.3000", "bold": True, "stars": ""}  # one seed: no std


def test_report_of_a_bare_directory_says_what_is_missing(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="summary.json"):
        write_report(tmp_path)


def test_nice_ticks_are_round_and_cover_the_range() -> None:
    assert nice_ticks(0.13, 0.41) == [0.1, 0.2, 0.3, 0.4, 0.5]
    assert nice_ticks(5, 115, min_step=1.0) == [0, 25, 50, 75, 100, 125]
    assert nice_ticks(0.0, 0.0) == [-1.0, -0.5, 0.0, 0.5, 1.0]


def _chromium() -> str:
    """Path of a Chromium binary, or skip (fail when the environment demands a browser)."""
    for candidate in (os.environ.get("LLMREC_CHROMIUM"), "chromium", "chromium-browser", "google-chrome"):
        path = candidate and shutil.which(candidate)
        if path:
            return path
    message = "no Chromium found for the browser test: apt-get install chromium (or set LLMREC_CHROMIUM)"
    if os.environ.get("LLMREC_REQUIRE_BROWSER") == "1":
        pytest.fail(message)
    pytest.skip(message)


PROBE = """<script>
(() => {
  const sized = el => { const r = el.getBoundingClientRect(); return r.width > 0 && r.height > 0; };
  const charts = [...document.querySelectorAll('svg.chart')];
  const marks = {};
  for (const tag of ['rect', 'polyline', 'circle']) {
    marks[tag] = charts.flatMap(svg => [...svg.querySelectorAll(tag + '.mark')]).filter(sized).length;
  }
  const tables = [...document.querySelectorAll('table')];
  const probe = document.createElement('pre');
  probe.id = 'probe';
  probe.textContent = JSON.stringify({
    tables: tables.filter(sized).length,
    charts: charts.filter(sized).length,
    marks,
    overflowing: tables.filter(t => t.getBoundingClientRect().width > t.parentElement.clientWidth + 1).length,
  });
  document.body.appendChild(probe);
})();
</script>"""


def _browser(binary: str, profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run headless Chromium once."""
    command = [binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"]
    command += [f"--user-data-dir={profile}", "--hide-scrollbars", "--window-size=1280,2000", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)


def _distinct_bytes(png: Path) -> tuple[int, int, int]:
    """Width, height and the number of distinct byte values in the decompressed image data of a PNG.

    One flat colour leaves a handful of values whatever the row filters; text and charts leave most of
    the 256 (a proper decode needs Pillow, which the project does not depend on).
    """
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    chunks, pos = [], 8
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        if data[pos + 4 : pos + 8] == b"IDAT":
            chunks.append(data[pos + 8 : pos + 8 + length])
        pos += 12 + length
    return width, height, len(set(zlib.decompress(b"".join(chunks))))


def test_page_renders_in_headless_chromium(run: Path, tmp_path: Path) -> None:
    binary = _chromium()
    page = (run / "report.html").read_text()
    probed = tmp_path / "probed.html"
    probed.write_text(page.replace("</body>", PROBE + "\n</body>"))
    dumped = _browser(binary, tmp_path / "profile", "--dump-dom", probed.as_uri())
    found = re.search(r'<pre id="probe">(.*?)</pre>', dumped.stdout)
    assert found, f"no probe in Chromium's DOM; stderr: {dumped.stderr[-2000:]}"
    probe = json.loads(found.group(1).replace("&quot;", '"'))
    assert probe["tables"] == 7  # results, ablation, activity, audit counts, quality, coverage, usage
    assert probe["charts"] == 4
    points = 3 + 3 + 1 + 4 + (3 + 3 + 4)  # validation curves, then loss curves
    assert probe["marks"] == {"rect": 3 * 3 + 4, "polyline": 3 + 3, "circle": points}
    assert probe["overflowing"] == 0  # every table fits a 1280-pixel window
    shot = tmp_path / "shot.png"
    result = _browser(binary, tmp_path / "profile", f"--screenshot={shot}", (run / "report.html").as_uri())
    assert shot.is_file(), f"no screenshot; stderr: {result.stderr[-2000:]}"
    width, height, distinct = _distinct_bytes(shot)
    assert (width, height) == (1280, 2000)
    assert distinct > 64


def test_activity_group_label_names_a_single_count_once() -> None:
    assert _span({"min_interactions": 4, "max_interactions": 4}) == "4"
    assert _span({"min_interactions": 2, "max_interactions": 4}) == "2–4"
