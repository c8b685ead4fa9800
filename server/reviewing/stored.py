"""The report page's expensive parts, rendered once and stored (``server.models.renders``).

Highlighting a submission's code with Pygments, drawing a grading's plots with matplotlib
and explaining its metrics cost far more than the rest of a report page, and their inputs
never change: a submission's source is fixed, and a re-grade is a new grading with a report
of its own. So each is rendered once, by the worker right after the grading
(:func:`after_grading`) or on the first view of a report that has none yet, and stored with
:data:`VERSION`; a row of another version (the rendering or Pygments changed) is rendered
again when next read.

What is stored is our own output: Pygments escapes every character of the candidate's
source, plots are drawn from numbers, the explanation is numbers and class names that the
template escapes. Logs, error messages and a notebook's markdown stay out of it: the
template escapes them on every view.
"""

from __future__ import annotations

import json
from typing import Any

import pygments
import sqlalchemy as sa
from markupsafe import Markup
from sqlalchemy.orm import Session

from graders.metric_explanation import explain_report
from graders.plots import report_svgs
from graders.report import Report
from server.models import Grading, GradingRender, Submission, SubmissionRender, utcnow
from server.reviewing import fragments

#: Bump the number when what is stored changes (markup, plots, explanation fields); the
#: Pygments version is part of it because the page's CSS classes come from Pygments.
VERSION = f"1/pygments-{pygments.__version__}"
FINISHED = ("graded", "failed")
_WROTE = "assay.stored.wrote"


def code_view(session: Session, submission: Submission) -> tuple[list[fragments.Cell] | None, Any]:
    """(notebook cells, None) or (None, highlighted code) of ``submission``, as stored."""
    row = session.execute(
        sa.select(SubmissionRender.version, SubmissionRender.kind, SubmissionRender.body).where(
            SubmissionRender.submission_id == submission.id
        )
    ).first()
    if row is None or row.version != VERSION:
        kind, body = _render_code(submission)
        _store(
            session,
            SubmissionRender,
            {"submission_id": submission.id},
            {"version": VERSION, "kind": kind, "body": body},
        )
    else:
        kind, body = row.kind, row.body
    if kind == "cells":
        return [
            fragments.Cell(c["kind"], c["source"], Markup(c["html"]) if c["html"] else None)
            for c in json.loads(body)
        ], None
    return None, Markup(body)


def grading_view(
    session: Session, grading: Grading | None, report: Report | None
) -> tuple[dict[str, str], dict | None]:
    """(plots as data URIs by name, explanation as a dict or None) of a finished grading,
    as stored; ({}, None) for a grading not finished yet (nothing to draw, nothing kept)."""
    if grading is None or grading.status not in FINISHED:
        return {}, None
    row = session.execute(
        sa.select(
            GradingRender.version, GradingRender.plots_json, GradingRender.explanation_json
        ).where(GradingRender.grading_id == grading.id)
    ).first()
    if row is not None and row.version == VERSION:
        return json.loads(row.plots_json), json.loads(row.explanation_json)
    svgs, explanation = _render_grading(report)
    _store(
        session,
        GradingRender,
        {"grading_id": grading.id},
        {
            "version": VERSION,
            "plots_json": json.dumps(svgs),
            "explanation_json": json.dumps(explanation),
        },
    )
    return svgs, explanation


def fill(session: Session, grading_id: int) -> None:
    """Render and store what the report of ``grading_id`` shows (its code, plots and
    explanation), unless stored already. The caller commits."""
    grading = session.get(Grading, grading_id)
    if grading is None or grading.status not in FINISHED:
        return
    code_view(session, grading.submission)
    grading_view(session, grading, grading.report)


def after_grading(factory):
    """A worker's after-grading step: the report's page parts, rendered once, stored."""

    def step(grading_id: int) -> None:
        with factory() as session:
            fill(session, grading_id)
            session.commit()

    return step


def _render_code(submission: Submission) -> tuple[str, str]:
    if submission.filename.endswith(".ipynb"):
        cells = fragments.notebook_cells(submission.source)
        if cells is not None:
            return "cells", json.dumps(
                [{"kind": c.kind, "source": c.source, "html": c.html} for c in cells]
            )
    return "code", str(fragments.code_html(fragments.source_text(submission.source)))


def _render_grading(report: Report | None) -> tuple[dict[str, str], dict | None]:
    if report is None:
        return {}, None
    svgs = {}
    if report.status == "graded":
        drawn = report_svgs(report)
        svgs = {name: fragments.svg_data_uri(svg) for name, svg in drawn.items()}
    explanation = explain_report(report)
    return svgs, explanation.to_dict() if explanation is not None else None


def _store(session: Session, model, key: dict, values: dict) -> None:
    """Insert or replace one row; two first views at once both write, the last one wins."""
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    values = {**values, "rendered_at": utcnow()}
    statement = insert(model).values(**key, **values)
    session.execute(statement.on_conflict_do_update(index_elements=list(key), set_=values))
    session.info[_WROTE] = True


def wrote(session: Session) -> bool:
    """Whether this session stored a render since the last call (the view then commits)."""
    return bool(session.info.pop(_WROTE, False))
