"""Turning stored data into what a review template shows: highlighted code, notebook cells,
answer text cut into highlighted segments, plots as images (a report's log tails are
``graders.report.Report.log_tails``).

Candidate text is never marked safe here except in Pygments' output, which escapes every
character of the source itself (``HtmlFormatter`` with CSS classes: the page's CSP allows no
inline styles).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

import nbformat
from markupsafe import Markup
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import PythonLexer

from graders.theory import TheoryScore

# "xcode": every token colour keeps a contrast of at least 5:1 on white (WCAG 2.1 AA asks
# 4.5:1); Pygments' "default" style has tokens below it (tests/server/test_accessibility.py).
_FORMATTER = HtmlFormatter(cssclass="highlight", linenos="table", style="xcode")


def code_html(source: str) -> Markup:
    """``source`` highlighted (Pygments escapes it); line numbers beside it."""
    return Markup(highlight(source, PythonLexer(), _FORMATTER))


@dataclass
class Cell:
    kind: str  # "code", "markdown", "raw"
    source: str
    html: Markup | None = None


def notebook_cells(data: bytes) -> list[Cell] | None:
    """The notebook's cells in order (code highlighted); None if it does not parse."""
    try:
        notebook = nbformat.reads(data.decode("utf-8-sig"), as_version=4)
    except Exception:  # shown as plain text instead: the grader already reported it
        return None
    cells = []
    for cell in notebook.cells:
        source = cell.get("source", "")
        if cell.cell_type == "code":
            cells.append(Cell("code", source, code_html(source)))
        else:
            cells.append(Cell(cell.cell_type, source))
    return cells


def source_text(data: bytes) -> str:
    return data.decode("utf-8-sig", errors="replace")


def svg_data_uri(svg: str) -> str:
    """An SVG as an ``<img>`` source: drawn by us, and an image cannot run anything anyway."""
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()


@dataclass
class Segment:
    text: str
    kind: str = ""  # "", "mentioned", "possible" (a misconception to check), "correction"
    note: str = ""


def answer_segments(text: str, score: TheoryScore, lang: str = "en") -> list[Segment]:
    """``text`` cut at the reading's spans: each key point mentioned, possible misconception
    and correction marked where the answer says it. Overlaps keep the first span found
    (key points first)."""
    marks = []
    for point in score.matched:
        marks.append((point.span.start, point.span.end, "mentioned", point.label.get(lang, "")))
    for hit in score.misconceptions:
        marks.append((hit.span.start, hit.span.end, "possible", hit.label.get(lang, "")))
    for item in score.corrections:
        marks.append((item.span.start, item.span.end, "correction", item.label.get(lang, "")))
    taken: list[tuple[int, int, str, str]] = []
    for mark in marks:
        start, end = mark[0], mark[1]
        if start < end and all(end <= s or start >= e for s, e, _k, _n in taken):
            taken.append(mark)
    taken.sort()
    segments, at = [], 0
    for start, end, kind, note in taken:
        if start > at:
            segments.append(Segment(text[at:start]))
        segments.append(Segment(text[start:end], kind, note))
        at = end
    if at < len(text):
        segments.append(Segment(text[at:]))
    return segments


def pygments_css() -> str:
    return _FORMATTER.get_style_defs(".highlight")
