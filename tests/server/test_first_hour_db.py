"""The first hour's queries on SQLite and PostgreSQL: the reviewer's home counts (one grouped
query with FILTER), the sweep of timed-out drafts, editing an assessment's challenges in place,
the recruiter's own outbox rows; the migration that scrubs reports stored with host paths."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import sqlalchemy as sa

from graders.report import Report
from server import assessments, candidates
from server.mail import Mail, OutboxBackend
from server.models import Grading, MailOutbox, ReviewAssignment, TheoryAnswer, utcnow
from server.reviewing import decisions
from server.summary import awaiting
from tests.server.test_review import _submission, graded_report

pytestmark = pytest.mark.databases


def test_awaiting_review_counts(db, make_user, make_assessment, make_invitation):
    reviewer = make_user(role="reviewer")
    mine = make_assessment(title="Mine")
    make_assessment(title="Not assigned")
    db.add(ReviewAssignment(assessment_id=mine.id, user_id=reviewer.id))
    graded, _ = make_invitation(assessment=mine, opened_at=utcnow())
    _submission(db, graded, graded_report(), "graded")
    answered, _ = make_invitation(assessment=mine, opened_at=utcnow())
    db.add(
        TheoryAnswer(
            invitation_id=answered.id,
            question_id="class-imbalance",
            text="Stratify.",
            submitted_at=utcnow(),
        )
    )
    make_invitation(assessment=mine)
    db.commit()
    decisions.decide(db, reviewer, answered, "hold", "")
    db.commit()
    rows = awaiting.awaiting_review(db, reviewer)
    assert [r.assessment.title for r in rows] == ["Mine"]
    assert (rows[0].handed_in, rows[0].awaiting, rows[0].theory_unconfirmed) == (2, 1, 1)


def test_settle_timed_out_hands_in_only_drafts_whose_time_is_over(
    db, make_assessment, make_invitation
):
    assessment = make_assessment(time_limit_minutes=30)
    over, _ = make_invitation(assessment=assessment, opened_at=utcnow() - timedelta(hours=1))
    working, _ = make_invitation(assessment=assessment, opened_at=utcnow())
    for invitation in (over, working):
        db.add(TheoryAnswer(invitation_id=invitation.id, question_id="class-imbalance", text="d"))
    db.commit()
    assert candidates.settle_timed_out(db, assessment_id=assessment.id) == 1
    db.commit()
    db.expire_all()
    assert over.answers[0].submitted_by_clock and over.answers[0].submitted_at is not None
    assert working.answers[0].submitted_at is None
    assert candidates.settle_timed_out(db, assessment_id=assessment.id) == 0  # idempotent


def test_editing_keeps_reordered_challenges_and_their_rows(db, make_user, make_assessment):
    owner = make_user(role="recruiter")
    assessment = make_assessment(owner=owner, challenges=["lenet5-mnist", "sentiment-bilstm"])
    kept = assessment.challenge("lenet5-mnist").id
    draft = assessments.draft_of(assessment)
    draft.challenges = ["sentiment-bilstm", "lenet5-mnist"]
    draft.bars = {"lenet5-mnist": {"accuracy": 0.9}}
    assessments.update_assessment(db, assessment, draft)
    db.commit()
    db.expire_all()
    assert assessment.challenge_slugs == ["sentiment-bilstm", "lenet5-mnist"]
    assert assessment.challenge("lenet5-mnist").id == kept
    draft.challenges = ["lenet5-mnist"]
    assessments.update_assessment(db, assessment, draft)
    db.commit()
    db.expire_all()
    assert assessment.challenge_slugs == ["lenet5-mnist"]


def test_outbox_rows_keep_their_sender(db, make_user):
    sender = make_user(role="recruiter")
    OutboxBackend(db).send(Mail("a@example.test", "s", "b", sender_id=sender.id))
    db.commit()
    assert db.query(MailOutbox).one().sender_id == sender.id


def test_the_migration_scrubs_reports_stored_with_host_paths(
    app, database_url, db, make_assessment, make_invitation
):
    from alembic import command

    from server.migrate import alembic_config, upgrade

    factory = app.extensions["assay.sessions"]

    invitation, _ = make_invitation(assessment=make_assessment(), opened_at=utcnow())
    report = graded_report()
    report.logs["train stderr"] = 'File "/home/grader/jobs/7/solution.py", line 15\n'
    old = _submission(db, invitation, report, "graded").gradings[0].id
    clean = _submission(db, invitation, graded_report(), "graded").gradings[0].id
    corrupt = _submission(db, invitation, graded_report(), "graded").gradings[0].id
    with factory() as session:  # as rows were stored before reports were scrubbed at storing
        session.execute(
            sa.update(Grading)
            .where(Grading.id == old)
            .values(report_json=json.dumps(report.to_dict()))
        )
        session.execute(
            sa.update(Grading)
            .where(Grading.id == corrupt)
            .values(report_json='{"logs": "cut at /home/grader/jobs/8/solution.py')
        )
        before = session.get(Grading, clean).report_json
        session.commit()
    app.extensions["assay.engine"].dispose()
    config = alembic_config(database_url)
    command.downgrade(config, "0017_session_version")
    upgrade(database_url)
    with factory() as session:
        stored = session.get(Grading, old).report_json
        assert "/home/grader" not in stored and "…/7/solution.py" in stored
        assert Report.from_json(stored).logs["train stderr"] == 'File "…/7/solution.py", line 15\n'
        assert session.get(Grading, clean).report_json == before  # nothing to do: untouched
        assert session.get(Grading, corrupt).report_json == '{"logs": "cut at …/8/solution.py'
