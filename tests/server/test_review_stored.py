"""What the busiest review pages read instead of recomputing: the report's parts rendered once
(highlighted code, plots, metrics explanation) and the candidates' summaries (theory total,
cells, number, state), each kept in step when its inputs change: a re-grade, a theory
confirmation or override, a deletion, the clock.

On SQLite and PostgreSQL: the stored parts are written with each database's own upsert, and
the table's order is PostgreSQL's as much as SQLite's.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import sqlalchemy as sa

from server import invitations, leases, retention
from server.models import (
    CandidateSummary,
    Grading,
    GradingRender,
    Invitation,
    Submission,
    SubmissionRender,
    TheoryAnswer,
    utcnow,
)
from server.reviewing import stored, theory_scores
from server.reviewing.numbers import window_numbers
from server.stages import state_at
from server.summary.table import candidates_table
from tests.server.test_review import GOOD_ANSWER, _submission, build_world, graded_report

pytestmark = pytest.mark.databases


@pytest.fixture
def world(db, make_user, make_assessment, make_invitation):
    return build_world(db, make_user, make_assessment, make_invitation)


def _renders(db, submission_id: int, grading_id: int):
    db.expire_all()
    return db.get(SubmissionRender, submission_id), db.get(GradingRender, grading_id)


def _summary(db, invitation_id: int) -> CandidateSummary | None:
    db.expire_all()
    return db.get(CandidateSummary, invitation_id)


def _section(body: str, name: str) -> str:
    start = body.index(f'id="{name}"')
    return body[start : body.index("</section>", start)]


# -- report parts ------------------------------------------------------------------------------


def test_the_worker_step_stores_the_reports_parts_and_the_page_reads_them(
    app, client, db, world, login
):
    sub = db.get(Submission, world["sub"])
    grading_id = sub.latest.id
    assert _renders(db, sub.id, grading_id) == (None, None)
    stored.after_grading(app.extensions["assay.sessions"])(grading_id)
    code, parts = _renders(db, sub.id, grading_id)
    assert code.version == parts.version == stored.VERSION and code.kind == "code"
    assert '<span class="k">def</span>' in code.body
    assert "&lt;b&gt;bold&lt;/b&gt;" in code.body and "<b>bold</b>" not in code.body
    assert set(json.loads(parts.plots_json)) == {"confusion", "history"}
    assert json.loads(parts.explanation_json)["n"] == 200
    # The page shows what is stored, not a fresh rendering of its own.
    code.body = '<div class="highlight">stored-code-marker</div>'
    db.commit()
    login(client, world["people"]["owner"])
    body = client.get(f"/review/submissions/{sub.id}").get_data(as_text=True)
    assert "stored-code-marker" in body
    assert body.count("data:image/svg+xml;base64,") == 2 and "most frequent mistake" in body


def test_a_first_view_stores_the_parts_and_another_version_is_rendered_again(
    client, db, world, login
):
    sub = db.get(Submission, world["sub"])
    grading_id = sub.latest.id
    login(client, world["people"]["reviewer"])
    first = client.get(f"/review/submissions/{sub.id}").get_data(as_text=True)
    code, parts = _renders(db, sub.id, grading_id)
    assert code is not None and parts is not None
    code.version, code.body = "0/old", "stale"
    parts.version = "0/old"
    db.commit()
    again = client.get(f"/review/submissions/{sub.id}").get_data(as_text=True)
    for part in ("code", "explain"):
        assert _section(again, part) == _section(first, part), part
    assert _section(again, "plots").count("data:image/svg+xml;base64,") == 2  # drawn again
    assert "stale" not in _section(again, "code")
    code, parts = _renders(db, sub.id, grading_id)
    assert code.version == parts.version == stored.VERSION and code.body != "stale"


def test_candidate_text_stays_escaped_through_the_stored_parts(client, db, world, login):
    import nbformat

    hostile = '<script>alert("x")</script>'
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell(f"# {hostile}"),
        nbformat.v4.new_code_cell(f"s = '{hostile}'"),
    ]
    sub = db.get(Submission, world["sub"])
    sub.filename, sub.source = "solution.ipynb", nbformat.writes(nb).encode()
    db.commit()
    login(client, world["people"]["owner"])
    for _view in range(2):  # rendered and stored, then read back
        body = client.get(f"/review/submissions/{sub.id}").get_data(as_text=True)
        assert hostile not in body and body.count('class="nb-cell') == 2
        assert "&lt;script&gt;" in body
    code, _parts = _renders(db, sub.id, sub.latest.id)
    cells = json.loads(code.body)
    assert code.kind == "cells" and [c["kind"] for c in cells] == ["markdown", "code"]
    # Only Pygments' markup is stored as HTML; the markdown cell's text is escaped on view.
    assert cells[0]["html"] is None and hostile not in cells[1]["html"]


def test_a_regrade_gets_parts_of_its_own_and_the_old_report_keeps_its_own(
    app, client, db, world, login
):
    sub = db.get(Submission, world["sub"])
    first = sub.latest.id
    login(client, world["people"]["owner"])
    assert client.get(f"/review/submissions/{sub.id}").status_code == 200
    assert client.post(f"/review/submissions/{sub.id}/regrade").status_code == 302
    db.expire_all()
    second = db.get(Submission, sub.id).latest.id
    assert second != first
    sessions = app.extensions["assay.sessions"]
    with sessions() as session:
        claim = leases.claim(session, second, 60)
    report = graded_report(accuracy_errors=120)  # below the bar this time
    with sessions() as session:
        assert leases.finish(session, claim, report) == "graded"
    stored.after_grading(sessions)(second)
    _code, old = _renders(db, sub.id, first)
    _code, new = _renders(db, sub.id, second)
    assert json.loads(old.explanation_json)["correct"] == 190
    assert json.loads(new.explanation_json)["correct"] == 80
    latest = client.get(f"/review/submissions/{sub.id}").get_data(as_text=True)
    assert "Below the bar" in latest
    earlier = client.get(f"/review/submissions/{sub.id}?grading={first}").get_data(as_text=True)
    assert "Passed" in earlier
    row = _summary(db, world["alice"])
    assert row.outcome == "below_bar" and row.headline == pytest.approx(0.4)


def test_a_grading_not_finished_stores_nothing(db, world):
    sub = db.get(Submission, world["sub"])
    sub.gradings.append(Grading(status="queued"))
    db.commit()
    queued = sub.latest
    assert stored.grading_view(db, queued, {}) == ({}, None)
    stored.fill(db, queued.id)
    db.commit()
    assert db.get(GradingRender, queued.id) is None


def test_deleting_a_candidate_deletes_their_stored_parts_and_renumbers_the_rest(
    app, client, db, world, login, make_invitation
):
    sessions = app.extensions["assay.sessions"]
    bob_sub = db.get(Submission, world["bob_sub"])
    stored.after_grading(sessions)(bob_sub.latest.id)
    grading_id = bob_sub.latest.id
    assessment_id = world["assessment"]
    later, _ = make_invitation(assessment=db.get(Invitation, world["bob"]).assessment)
    before = _summary(db, later.id).number
    assert db.get(SubmissionRender, bob_sub.id) is not None
    retention.delete_candidate(db, db.get(Invitation, world["bob"]), actor_id=None, reason="t")
    db.commit()
    assert _renders(db, world["bob_sub"], grading_id) == (None, None)
    assert _summary(db, world["bob"]) is None
    assert _summary(db, later.id).number == before - 1
    counted = window_numbers(db, assessment_id, None)
    stored_rows = db.execute(
        sa.select(
            CandidateSummary.invitation_id, CandidateSummary.number, CandidateSummary.label_key
        ).where(CandidateSummary.assessment_id == assessment_id)
    ).all()
    assert {r.invitation_id: r.number for r in stored_rows} == counted
    assert all(r.label_key == f"candidate {r.number}" for r in stored_rows)


def test_a_purge_of_many_candidates_numbers_the_rest_as_the_window_does(
    db, make_assessment, make_invitation
):
    assessment = make_assessment()
    made = [make_invitation(assessment=assessment)[0] for _ in range(9)]
    for invitation in made[1:8:2]:  # four at once, as a retention purge deletes them
        retention.delete_candidate(db, invitation, actor_id=None, reason="retention")
    db.commit()
    rows = db.execute(
        sa.select(
            CandidateSummary.invitation_id, CandidateSummary.number, CandidateSummary.label_key
        ).where(CandidateSummary.assessment_id == assessment.id)
    ).all()
    assert {r.invitation_id: r.number for r in rows} == window_numbers(db, assessment.id, None)
    assert sorted(r.number for r in rows) == [1, 2, 3, 4, 5]
    assert all(r.label_key == f"candidate {r.number}" for r in rows)


# -- the summary's theory total and state ------------------------------------------------------


def _mark_every_point(client, invitation_id: int, question_id: str, mark: str) -> None:
    from graders.theory import load_bank

    url = f"/review/candidates/{invitation_id}/theory/{question_id}/marks"
    for point in load_bank().get(question_id).key_points:
        form = {"kind": "point", "item": point.id, "mark": mark}
        assert client.post(url, data=form).status_code == 302


def test_theory_total_follows_reviewers_marks_only(client, db, world, login):
    alice = db.get(Invitation, world["alice"])
    row = _summary(db, alice.id)
    assert theory_scores.theory_total(db, alice) == ((None, 20.0), False)
    # Answered, none marked: no total at all (the machine's reading is never one).
    assert (row.theory_total, row.theory_max, row.theory_confirmed) == (None, 20.0, False)
    login(client, world["people"]["reviewer"])
    _mark_every_point(client, alice.id, "class-imbalance", "correct")
    row = _summary(db, alice.id)
    assert (row.theory_total, row.theory_confirmed) == (10.0, False)  # one answer to review
    _mark_every_point(client, alice.id, "evaluation-metrics", "partly")
    db.expire_all()
    row = _summary(db, alice.id)
    assert ((row.theory_total, row.theory_max), True) == theory_scores.theory_total(db, alice)
    assert (row.theory_total, row.theory_confirmed) == (15.0, True)
    table = candidates_table(db, world["people"]["owner"], alice.assessment, per_page=100)
    shown = next(r for r in table.rows if r.invitation_id == alice.id)
    assert shown.theory == (15.0, 20.0) and shown.theory_confirmed


def test_an_answer_submitted_later_moves_the_state_not_the_total(db, world):
    carol = db.scalar(sa.select(Invitation).where(Invitation.candidate_name == "Carol Notstarted"))
    assert _summary(db, carol.id).theory_total is None
    assert _summary(db, carol.id).stage == "sent"
    db.add(
        TheoryAnswer(
            invitation_id=carol.id,
            question_id="class-imbalance",
            text=GOOD_ANSWER,
            submitted_at=utcnow(),
        )
    )
    db.commit()
    row = _summary(db, carol.id)
    assert row.theory_total is None and row.theory_max == 20.0 and not row.theory_confirmed
    assert row.stage == "submitted"


@pytest.fixture
def states(db, make_user, make_assessment, make_invitation):
    """One candidate in each state, and some whose state the clock will change."""
    owner = make_user(role="recruiter")
    assessment = make_assessment(owner=owner, time_limit_minutes=60)
    now = utcnow()
    made = {}

    def invite(name, **fields):
        made[name], _ = make_invitation(assessment=assessment, candidate_name=name, **fields)

    invite("sent")
    invite("viewed", viewed_at=now)
    invite("working", viewed_at=now, opened_at=now - timedelta(minutes=30))
    invite("slow", viewed_at=now, opened_at=now - timedelta(minutes=50), extra_time_factor=2.0)
    invite("time up", viewed_at=now, opened_at=now - timedelta(minutes=90))
    invite("link gone", expires_at=now - timedelta(minutes=1))
    invite("revoked", revoked_at=now)
    invite("answered", opened_at=now)
    db.add(
        TheoryAnswer(
            invitation_id=made["answered"].id,
            question_id="class-imbalance",
            text="x",
            submitted_at=now,
        )
    )
    invite("grading", opened_at=now)
    _submission(db, made["grading"], None, "running")
    invite("graded", opened_at=now)
    _submission(db, made["graded"], graded_report(), "graded")
    db.commit()
    return owner, assessment, made


def test_states_from_the_summary_are_the_invitations_own_at_any_time(db, states):
    owner, assessment, made = states
    loaded = {i.id: i for i in db.scalars(sa.select(Invitation))}
    now = utcnow()
    for later in (timedelta(0), timedelta(minutes=45), timedelta(hours=3), timedelta(days=30)):
        at = now + later
        table = candidates_table(db, owner, assessment, per_page=100, now=at)
        got = {r.invitation_id: r.state for r in table.rows}
        assert got == {i: invitations.state(loaded[i], at) for i in got}, later
    first = {r.who.name: r.state for r in candidates_table(db, owner, assessment, now=now).rows}
    assert first["time up"] == "expired" and first["slow"] == "working"
    assert first["link gone"] == "expired" and first["viewed"] == "opened"


@pytest.mark.parametrize("descending", [False, True])
def test_sorting_by_state_happens_in_the_query_in_the_rows_order(db, states, descending):
    owner, assessment, _made = states
    loaded = {i.id: i for i in db.scalars(sa.select(Invitation))}
    at = utcnow() + timedelta(minutes=45)
    expected = sorted(
        (i for i in loaded if loaded[i].assessment_id == assessment.id),
        key=lambda i: invitations.state(loaded[i], at),
        reverse=descending,
    )
    got = []
    for page in (1, 2, 3, 4):
        table = candidates_table(
            db,
            owner,
            assessment,
            sort="state",
            descending=descending,
            page=page,
            per_page=3,
            now=at,
        )
        got += [r.invitation_id for r in table.rows]
    assert got == expected


def test_the_recruiter_page_shows_the_states_without_loading_reports(client, db, states, login):
    owner, assessment, made = states
    login(client, owner)
    body = client.get(f"/recruiter/assessments/{assessment.id}").get_data(as_text=True)
    for name, state in (("revoked", "revoked"), ("graded", "graded"), ("time up", "expired")):
        row = body[body.index(f'id="inv-{made[name].id}"') :]
        assert f'class="state {state}"' in row[: row.index("</tr>")], name


def test_a_deadline_changed_refreshes_the_assessments_summaries(db, states):
    owner, assessment, made = states
    assert _summary(db, made["working"].id).ends_at > utcnow()
    assessment.deadline = utcnow() - timedelta(minutes=1)
    db.commit()
    row = _summary(db, made["working"].id)
    assert state_at(row.stage, row.ends_at, utcnow()) == "expired"
