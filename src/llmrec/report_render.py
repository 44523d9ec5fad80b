"""How the report looks: the blocks a section is made of, rendered as one HTML page or as Markdown.

The HTML inlines its CSS and the SVG charts and runs no script, so the page opens anywhere, offline.
Every piece of text is escaped here, at the last step, so that section builders pass raw strings
(prompts and answers hold LLM text) and cannot forget to.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Cell:
    """A table cell; kind is "text", "num" (right-aligned) or "on"/"off" (a switch, centred)."""

    text: str
    kind: str = "text"
    bold: bool = False
    std: str = ""  # "± 0.0012", shown muted with the mean
    stars: str = ""
    delta: float | None = None  # relative change against a reference, shown as a signed percentage


@dataclass(frozen=True)
class Table:
    """A header and rows of cells."""

    header: Sequence[str]
    rows: Sequence[Sequence[Cell]]


@dataclass(frozen=True)
class Chart:
    """An SVG chart, inlined in HTML and written to report-<name>.svg for Markdown."""

    name: str
    title: str
    svg: str
    caption: str


@dataclass(frozen=True)
class Sample:
    """A collapsible block: a one-line summary over preformatted text."""

    summary: str
    body: str


Block = str | Table | Chart | Sample  # a str is a paragraph


@dataclass(frozen=True)
class Section:
    """A titled part of the report."""

    anchor: str
    title: str
    blocks: Sequence[Block]


def render_html(title: str, lede: str, notes: Sequence[str], sections: Sequence[Section]) -> str:
    """The whole page: title, the line under it, notes, a contents line and the sections."""
    e = html.escape
    toc = " · ".join(f'<a href="#{s.anchor}">{e(s.title)}</a>' for s in sections)
    body = [f"<h1>{e(title)}</h1>", f'<p class="lede">{e(lede)}</p>']
    body += [f'<p class="note">{e(n)}</p>' for n in notes] + [f"<nav>{toc}</nav>"]
    for s in sections:
        blocks = "\n".join(_html_block(b) for b in s.blocks)
        body.append(f'<section id="{s.anchor}">\n<h2>{e(s.title)}</h2>\n{blocks}\n</section>')
    return (
        '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{e(title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n<main>\n"
        + "\n".join(body)
        + "\n</main>\n</body>\n</html>\n"
    )


def _html_block(block: Block) -> str:
    """One block as HTML; text is escaped, charts are our own SVG."""
    e = html.escape
    if isinstance(block, str):
        return f'<p class="note">{e(block)}</p>'
    if isinstance(block, Chart):
        return f"<figure>{block.svg}<figcaption>{e(block.caption)}</figcaption></figure>"
    if isinstance(block, Sample):
        return f"<details><summary>{e(block.summary)}</summary><pre>{e(block.body)}</pre></details>"
    kinds = [c.kind for c in block.rows[0]] if block.rows else ["text"] * len(block.header)
    head = "".join(f'<th class="{k}">{e(h)}</th>' for h, k in zip(block.header, kinds, strict=True))
    rows = "\n".join("<tr>" + "".join(_html_cell(c) for c in row) + "</tr>" for row in block.rows)
    table = f"<table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n{rows}\n</tbody></table>"
    return f'<div class="scroll">{table}</div>'


def _html_cell(cell: Cell) -> str:
    """A <td>: the mean (bold when best) with superscript stars, and under it the muted std and the
    coloured change; two short lines keep a wide metric table within a laptop screen."""
    content = f"<strong>{html.escape(cell.text)}</strong>" if cell.bold else html.escape(cell.text)
    under = [f'<span class="std">{html.escape(cell.std)}</span>'] if cell.std else []
    if cell.delta is not None:
        tone = "up" if cell.delta > 0 else "down" if cell.delta < 0 else "flat"
        under.append(f'<span class="delta {tone}">{_signed_percent(cell.delta)}</span>')
    if cell.stars or under:  # an empty mark keeps its width, so that means line up down a column
        content += f'<sup class="sig">{cell.stars}</sup>'
    if under:
        content += f'<span class="under">{" ".join(under)}</span>'
    return f'<td class="{cell.kind}">{content}</td>'


def render_markdown(title: str, lede: str, notes: Sequence[str], sections: Sequence[Section]) -> str:
    """The same page as Markdown; charts are links to the report-<name>.svg files written beside it."""
    out = [f"# {_md(title)}", "", _md(lede), ""] + [line for n in notes for line in (_md(n), "")]
    for s in sections:
        out += [f"## {_md(s.title)}", ""]
        for block in s.blocks:
            out += [*_markdown_block(block), ""]
    return "\n".join(out)


def _markdown_block(block: Block) -> list[str]:
    """One block as Markdown lines."""
    if isinstance(block, str):
        return [_md(block)]
    if isinstance(block, Chart):
        return [f"![{_md(block.title)}](report-{block.name}.svg)", "", _md(block.caption)]
    if isinstance(block, Sample):
        longest = max((len(run) for run in re.findall(r"`+", block.body)), default=0)
        fence = "`" * max(3, longest + 1)  # a fence longer than any backtick run in the text stays closed
        summary = html.escape(block.summary)
        return [
            f"<details><summary>{summary}</summary>",
            "",
            f"{fence}text",
            block.body,
            fence,
            "",
            "</details>",
        ]
    align = {"num": "---:", "on": ":---:", "off": ":---:"}
    kinds = [c.kind for c in block.rows[0]] if block.rows else ["text"] * len(block.header)
    lines = ["| " + " | ".join(_md(h) for h in block.header) + " |"]
    lines.append("| " + " | ".join(align.get(k, "---") for k in kinds) + " |")
    lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in block.rows]
    return lines


def _md_cell(cell: Cell) -> str:
    """A table cell as Markdown: **mean ± std** then escaped stars and the change in brackets."""
    text = _md(cell.text) + (f" {_md(cell.std)}" if cell.std else "")
    if cell.bold:
        text = f"**{text}**"
    text += _md(cell.stars)
    if cell.delta is not None:
        text += f" ({_signed_percent(cell.delta)})"
    return text


def _md(text: str) -> str:
    """Text that Markdown shows as written, on one line: emphasis, code, link and table characters are
    backslash-escaped, and so are a `<` that would open a tag and an `&` that would start an entity
    (a lone "p < 0.05" stays readable in the raw file)."""
    text = re.sub(r"([\\`*_\[\]|])", r"\\\1", " ".join(text.split()))
    text = re.sub(r"<(?=[A-Za-z/!?])", r"\\<", text)
    return re.sub(r"&(?=#?\w+;)", r"\\&", text)


def _signed_percent(change: float) -> str:
    """+1.2% / −3.1% (a real minus sign)."""
    return f"{change:+.1%}".replace("-", "−")


CSS = """
:root { --fg: #1f2933; --muted: #616e7c; --line: #e4e7eb; --soft: #f5f7fa; --accent: #2f6fb3; }
body { margin: 0; color: var(--fg); background: #fff;
  font: 15px/1.55 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
main { max-width: 1280px; margin: 0 auto; padding: 2rem 1.5rem 4rem; }
h1 { font-size: 1.7rem; margin: 0 0 .3rem; letter-spacing: -.01em; }
h2 { font-size: 1.2rem; margin: 2.6rem 0 .8rem; padding-bottom: .3rem; border-bottom: 1px solid var(--line); }
.lede { margin: 0 0 .4rem; font-size: 1.02rem; }
.note { color: var(--muted); font-size: 13.5px; max-width: 75em; margin: .6rem 0; }
nav { margin-top: 1rem; font-size: 14px; }
a { color: var(--accent); text-decoration: none; }
a:hover { text-decoration: underline; }
.scroll { overflow-x: auto; margin: .6rem 0; }
table { border-collapse: collapse; font-size: 13px; font-variant-numeric: tabular-nums; }
th, td { padding: .36rem .55rem; border-bottom: 1px solid var(--line); white-space: nowrap;
  text-align: left; }
th { color: var(--muted); font-weight: 600; border-bottom: 2px solid #cbd2d9; background: #fafbfc; }
tbody tr:hover { background: var(--soft); }
td:first-child { white-space: normal; min-width: 8em; }
.num { text-align: right; }
.on, .off { text-align: center; }
td.on { color: #2f855a; font-weight: 600; }
td.off { color: #a0aec0; }
.under { display: block; font-size: 11.5px; line-height: 1.3; padding-right: 19px; }
.std { color: var(--muted); }
sup.sig { display: inline-block; min-width: 18px; text-align: left; color: #b7791f; font-weight: 700;
  padding-left: 1px; }
.delta.up { color: #2f855a; } .delta.down { color: #c53030; } .delta.flat { color: var(--muted); }
figure { margin: 1rem 0 1.4rem; }
figure svg { max-width: 100%; height: auto; border: 1px solid var(--line); border-radius: 6px; }
figcaption { color: var(--muted); font-size: 13px; margin-top: .35rem; max-width: 75em; }
details { border: 1px solid var(--line); border-radius: 6px; margin: .45rem 0; background: #fff; }
summary { cursor: pointer; padding: .45rem .8rem; font-size: 13.5px; }
details[open] summary { border-bottom: 1px solid var(--line); background: var(--soft); }
pre { margin: 0; padding: .8rem 1rem; white-space: pre-wrap; word-break: break-word; font-size: 12.5px;
  max-height: 32em; overflow: auto; font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
"""
