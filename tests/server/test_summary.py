"""Candidate summaries: the candidates table sorted, filtered and counted in SQL gives the
same rows, in the same order, as building every row in Python; the summaries follow the
gradings, decisions and submissions as they happen."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import Session

from server import create_app, leases
from server.models import (
    Assessment,
    CandidateSummary,
    Decision,
    Grading,
    Reveal,
    ReviewAssignment,
    Submission,
    User,
    utcnow,
)
from server.summary import listeners
from server.summary.page import OUTCOMES, SORTS
from server.summary.rows import build_rows
from server.summary.table import candidates_table
from tests.server.test_review import _submission, graded_report

pytestmark = pytest.mark.databases


@pytest.fixture
def crowd(db, make_user, make_assessment, make_invitation):
    """Fifteen candidates: passed with different accuracies (some equal), below the bar,
    failed runs, in progress, not started; decisions on some; one revealed."""
    owner = make_user(role="recruiter")
    reviewer = make_user(role="reviewer")
    assessment = make_assessment(owner=owner)
    db.add(ReviewAssignment(assessment_id=assessment.id, user_id=reviewer.id))
    now = utcnow()
    names = ["zoe", "Adam", "émile", "bob", "Carl", "dora", "Eve", "fay", "Gus", "hal"]
    names += ["Ida", "jon", "Kim", "lee", "Mo"]
    invitations = []
    for i, name in enumerate(names):
        invitation, _ = make_invitation(
            assessment=assessment, candidate_name=name, opened_at=now - timedelta(minutes=i)
        )
        invitations.append(invitation)
        kind = i % 5
        if kind == 0:
            _submission(db, invitation, graded_report(accuracy_errors=i % 3 * 4), "graded")
        elif kind == 1:
            _submission(db, invitation, graded_report(accuracy_errors=120), "graded")
        elif kind == 2:
            failed = graded_report()
            failed.status, failed.verdict = "failed", None
            _submission(db, invitation, failed, "failed")
        elif kind == 3:
            _submission(db, invitation, None, "running")
        if i % 4 == 0:
            db.add(
                Decision(invitation_id=invitation.id, decision=("advance", "reject")[i % 8 // 4])
            )
    db.add(Reveal(invitation_id=invitations[3].id, user_id=reviewer.id))
    db.commit()
    return {"assessment": assessment, "owner": owner, "reviewer": reviewer, "inv": invitations}


def _expected_key(sort: str):
    """The table's order as a reader expects it, written here apart from the one query that
    makes it (``server.summary.page.page``): names as shown, compared by code point; the
    state at the time of the request; outcomes in the filters' order; a missing value never
    "the best" (last ascending); no decision last. Ties keep the invitations' order (a
    stable sort, also reversed)."""

    def missing_last(value):
        return (value is None, value if value is not None else 0)

    return {
        "candidate": lambda r: (r.who.label.lower(), r.invitation_id),
        "state": lambda r: r.state,
        "outcome": lambda r: OUTCOMES.index(r.outcome),
        "metric": lambda r: missing_last(r.headline),
        "theory": lambda r: missing_last(r.theory[0] if r.theory else None),
        "attempts": lambda r: r.attempts,
        "time": lambda r: missing_last(r.minutes_used),
        "decision": lambda r: r.decision or "~",
    }[sort]


def _python_order(db, user, assessment, sort, descending, outcome):
    rows = build_rows(db, assessment, None, user=user)
    if outcome:
        rows = [r for r in rows if r.outcome == outcome]
    rows.sort(key=_expected_key(sort), reverse=descending)
    return [r.invitation_id for r in rows]


@pytest.mark.parametrize("who", ["owner", "reviewer"])
@pytest.mark.parametrize("sort", SORTS)
def test_sql_order_and_filters_match_the_rows_built_in_python(db, crowd, who, sort):
    user, assessment = crowd[who], crowd["assessment"]
    for descending in (False, True):
        for outcome in (None, *OUTCOMES):
            expected = _python_order(db, user, assessment, sort, descending, outcome)
            got = []
            for page in (1, 2, 3, 4):
                table = candidates_table(
                    db,
                    user,
                    assessment,
                    sort=sort,
                    descending=descending,
                    outcome=outcome,
                    page=page,
                    per_page=4,
                )
                if table.page == page:
                    got += [r.invitation_id for r in table.rows]
            assert got == expected, (sort, descending, outcome)
            assert table.total == len(expected)


def test_a_blind_reviewer_who_revealed_no_one_gets_the_labels_order(db, crowd, make_user):
    assessment = crowd["assessment"]
    fresh = make_user(role="reviewer")
    db.add(ReviewAssignment(assessment_id=assessment.id, user_id=fresh.id))
    db.commit()
    for descending in (False, True):
        expected = _python_order(db, fresh, assessment, "candidate", descending, None)
        table = candidates_table(
            db, fresh, assessment, sort="candidate", descending=descending, per_page=100
        )
        assert [r.invitation_id for r in table.rows] == expected
        assert all(r.who.blind for r in table.rows)


def test_counts_and_rows_match_the_python_rows(db, crowd):
    user, assessment = crowd["reviewer"], crowd["assessment"]
    table = candidates_table(db, user, assessment, per_page=100)
    built = {r.invitation_id: r for r in build_rows(db, assessment, None, user=user)}
    assert table.counts == {o: sum(r.outcome == o for r in built.values()) for o in OUTCOMES}
    for row in table.rows:
        assert (row.who.label, row.outcome, row.attempts, row.decision) == (
            built[row.invitation_id].who.label,
            built[row.invitation_id].outcome,
            built[row.invitation_id].attempts,
            built[row.invitation_id].decision,
        )
    labels = [r.who.label for r in table.rows]
    assert labels[0] == "bob"  # revealed: "bob" sorts before "candidate 1"
    assert all(label.startswith("Candidate ") for label in labels[1:])  # blind review holds


def _summary(db, invitation_id) -> CandidateSummary:
    db.expire_all()
    return db.get(CandidateSummary, invitation_id)


def test_summaries_follow_submissions_gradings_and_decisions(app, db, crowd, make_invitation):
    assessment: Assessment = crowd["assessment"]
    invitation, _ = make_invitation(assessment=assessment, opened_at=utcnow())
    assert _summary(db, invitation.id).outcome == "not_started"
    submission = _submission(db, invitation, None, "queued")
    assert _summary(db, invitation.id).outcome == "pending"
    sessions = app.extensions["assay.sessions"]
    grading_id = submission.gradings[0].id
    with sessions() as session:  # the worker's path: SQL statements, not the ORM
        claim = leases.claim(session, grading_id, 60)
    with sessions() as session:
        assert leases.finish(session, claim, graded_report(accuracy_errors=120)) == "graded"
    summary = _summary(db, invitation.id)
    assert summary.outcome == "below_bar" and summary.headline == pytest.approx(0.4)
    assert summary.attempts == 1
    db.add(Decision(invitation_id=invitation.id, decision="hold"))
    db.commit()
    assert _summary(db, invitation.id).decision == "hold"
    reviewer: User = crowd["reviewer"]
    below = candidates_table(db, reviewer, assessment, outcome="below_bar", per_page=100)
    assert invitation.id in [r.invitation_id for r in below.rows]


def test_an_assessment_without_summaries_gets_them_on_its_first_view(db, crowd):
    assessment = crowd["assessment"]
    db.execute(sa.delete(CandidateSummary))
    db.commit()
    table = candidates_table(db, crowd["owner"], assessment, per_page=100)
    assert table.total == len(crowd["inv"])
    count = sa.select(sa.func.count()).select_from(CandidateSummary)
    assert db.scalar(count) == len(crowd["inv"])


def test_a_regrade_makes_the_candidate_pending_again(db, crowd):
    first = crowd["inv"][0]
    submission = db.scalar(sa.select(Submission).where(Submission.invitation_id == first.id))
    submission.gradings.append(Grading(status="queued"))
    db.commit()
    assert _summary(db, first.id).outcome == "pending"


def _installed(session: Session) -> list[int]:
    """How many times each of the summaries' listeners is on ``session``'s events."""
    return [list(getattr(session.dispatch, name)).count(fn) for name, fn in listeners.LISTENERS]


def test_importing_the_models_installs_no_listener():
    """The listeners are installed by who writes (the app, the worker, the CLI), not as a
    side effect of importing the models."""
    code = (
        "import server.models\n"
        "from sqlalchemy.orm import Session\n"
        "print(sorted(f.__module__ for f in Session().dispatch.before_commit))\n"
    )
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(root)}
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert "server.summary.listeners" not in done.stdout, done.stdout


def test_the_app_and_the_cli_install_the_listeners_once(app_config):
    from server.cli import sessions
    from server.db import make_engine

    def uninstall():
        for name, fn in listeners.LISTENERS:
            if event.contains(Session, name, fn):
                event.remove(Session, name, fn)

    try:
        uninstall()
        assert _installed(Session()) == [0, 0, 0]
        create_app(app_config)
        create_app(app_config)  # a second app (tests, gunicorn reloads) adds none twice
        assert _installed(Session()) == [1, 1, 1]
        uninstall()
        engine = make_engine(app_config.DATABASE_URL)
        with sessions(engine)() as session:
            assert _installed(session) == [1, 1, 1]
        engine.dispose()
    finally:
        listeners.install()
