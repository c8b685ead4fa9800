"""The worker's seams (issue 22): the grading task registered by the worker on the queue, the
after-grading steps as a named registry, and grading options typed and checked strictly.

Real parts: SQLite/PostgreSQL, a SqliteHuey file, the worker's own ``run_grading`` on
submissions the service refuses before any sandbox starts.
"""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from graders.options import OptionsError, dumps_options, loads_options, parse_options
from graders.pipeline import GradeOptions
from server import grading as g
from server import queue
from server.after_grading import AfterGrading, standard_steps
from server.db import make_engine, make_session_factory
from server.models import Grading, Submission
from server.queue import QueueSettings, enqueue_grading, make_huey, pending_ids
from server.worker import Worker

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.databases


@pytest.fixture
def huey(tmp_path):
    return make_huey(tmp_path)


@pytest.fixture
def sessions(database_url, huey):
    engine = make_engine(database_url)
    factory = make_session_factory(engine)
    g.use_queue(factory, huey)
    yield factory
    engine.dispose()


def _submission() -> Submission:
    source = b"def broken(:\n"  # refused by the service before any sandbox starts
    return Submission(
        challenge_slug="lenet5-mnist",
        filename="solution.py",
        source=source,
        sha256="0" * 64,
        size=len(source),
    )


def _submit(sessions, options) -> int:
    with sessions() as session:
        grading = g.enqueue_submission(session, _submission(), options)
        session.commit()
        return grading.id


def _row(sessions, grading_id) -> Grading:
    with sessions() as session:
        row = session.get(Grading, grading_id)
        session.expunge(row)
        return row


# -- the grading task: registered by the worker, enqueued without it -----------------------------


def test_the_web_side_enqueues_a_grading_without_importing_the_worker(tmp_path):
    script = f"""
import sys
from server.queue import enqueue_grading, make_huey, pending_ids
huey = make_huey({str(tmp_path)!r})
enqueue_grading(huey, 41)
assert pending_ids(huey) == {{41}}, pending_ids(huey)
heavy = [m for m in ("server.worker", "server.worker_process", "graders.service")
         if m in sys.modules]
assert not heavy, heavy
"""
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr


def test_the_queue_task_runs_the_grader_the_worker_registered(huey):
    graded = []
    enqueue_grading(huey, 7)
    task = huey.dequeue()
    try:
        queue.register_grader(None)  # a process with no worker (the web app) does not grade
        with pytest.raises(RuntimeError, match="no worker runs in this process"):
            task.execute()
        queue.register_grader(graded.append)
        task.execute()
    finally:
        queue.register_grader(None)
    assert graded == [7]


# -- after-grading steps -------------------------------------------------------------------------


def test_after_grading_steps_run_in_order_and_a_failing_one_is_contained_and_logged(
    sessions, huey, caplog
):
    ran: list[tuple[str, int]] = []

    def broken(grading_id: int) -> None:
        ran.append(("webhook", grading_id))
        raise ConnectionError("the receiver is down")

    steps = AfterGrading()
    steps.register("result mail", lambda gid: ran.append(("result mail", gid)))
    steps.register("webhook", broken)
    steps.register("similarity", lambda gid: ran.append(("similarity", gid)))
    gid = _submit(sessions, {"tier": "sample"})
    worker = Worker(sessions, huey, QueueSettings(), on_finished=steps)
    with caplog.at_level(logging.INFO, logger="server.after_grading"):
        assert worker.run_grading(gid) == "failed"  # the grading's own outcome, unchanged
    assert ran == [("result mail", gid), ("webhook", gid), ("similarity", gid)]
    row = _row(sessions, gid)
    assert (row.status, row.error_code) == ("failed", "syntax_error")
    failures = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert [r.getMessage() for r in failures] == [
        f"grading {gid}: after-grading step 'webhook' failed"
    ]
    assert "the receiver is down" in caplog.text  # with its traceback
    done = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
    assert any(f"grading {gid}: after-grading step 'similarity' done" in m for m in done)


def test_a_step_name_is_registered_once_and_the_workers_steps_keep_their_order(sessions):
    steps = AfterGrading()
    steps.register("webhook", lambda gid: None)
    with pytest.raises(ValueError, match="'webhook' is registered already"):
        steps.register("webhook", lambda gid: None)
    assert steps(1) == []

    class Config:
        MAIL_URL, MAIL_SENDER = "", "assay@example.org"

    assert standard_steps(sessions, Config()).names == [
        "result mail",
        "webhook",
        "report pages",
        "similarity",
    ]


# -- options: typed, strict ----------------------------------------------------------------------


def test_options_round_trip_and_store_only_what_differs_from_the_defaults():
    options = GradeOptions(tier="sample", train_limit=300, bars={"accuracy": 0.9})
    text = dumps_options(options)
    assert text == '{"bars": {"accuracy": 0.9}, "tier": "sample", "train_limit": 300}'
    assert loads_options(text) == options
    assert loads_options("") == GradeOptions()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"tier": "sample", "colour": "red"}, "unknown grading option: 'colour'"),
        ({"colour": 1, "size": 2}, "unknown grading options: 'colour', 'size'"),
        ({"train_limit": "300"}, "train_limit: Input should be a valid integer"),
        ({"train_limit": True}, "train_limit: Input should be a valid integer"),
        ({"bars": {"accuracy": "high"}}, "bars.accuracy: Input should be a valid number"),
        ({"split_seed": "planted"}, "unknown grading option: 'split_seed'"),
        (["tier"], "must be an object"),
    ],
)
def test_a_bad_option_is_a_clear_error(options, message):
    with pytest.raises(OptionsError, match=message):
        parse_options(options)


def test_a_bad_option_never_reaches_the_queue(sessions, huey):
    with sessions() as session:
        with pytest.raises(OptionsError, match="'colour'"):
            g.enqueue_submission(session, _submission(), {"tier": "sample", "colour": "red"})
        session.commit()
        assert session.scalar(sa.select(sa.func.count()).select_from(Grading)) == 0
    assert pending_ids(huey) == set()


def test_the_assessments_options_are_typed(db, make_invitation):
    from server.assessments import grading_options

    invitation, _ = make_invitation()
    options = grading_options(invitation.assessment, "lenet5-mnist")
    assert isinstance(options, GradeOptions)
    assert options.tier == invitation.assessment.dataset_tier
    assert loads_options(dumps_options(options)) == options


def test_a_stored_row_with_an_unknown_option_fails_with_a_platform_note(sessions, huey):
    gid = _submit(sessions, {"tier": "sample"})
    with sessions() as session:  # a row written before options were checked
        session.execute(
            sa.update(Grading).where(Grading.id == gid).values(options_json='{"colour": "red"}')
        )
        session.commit()
    finished = []
    worker = Worker(sessions, huey, QueueSettings(), on_finished=finished.append)
    assert worker.run_grading(gid) == "failed"
    assert worker.run_grading(gid) == "not claimed"  # not retried: it would read the same row
    row = _row(sessions, gid)
    assert (row.status, row.error_code, row.tries) == ("failed", "platform_error", 1)
    assert "stored grading options not valid: unknown grading option: 'colour'" in (
        row.platform_note
    )
    assert "stored options are not valid" in row.report_json
    assert finished == [gid]
    with sessions() as session:
        submission = session.get(Grading, gid).submission
        assert submission.counts_as_attempt is False  # the platform's fault, not theirs
        with pytest.raises(OptionsError, match="'colour'"):  # the re-grade is refused
            g.regrade(session, submission)
        session.rollback()
        assert len(submission.gradings) == 1


def test_the_workers_real_steps_mail_hook_render_and_check_a_stored_grading(
    app, db, make_invitation, monkeypatch
):
    from server import webhooks
    from server.models import (
        GradingRender,
        MailOutbox,
        SimilarityCheck,
        SubmissionRender,
        WebhookDelivery,
    )

    monkeypatch.setenv("ASSAY_WEBHOOK_ALLOW_HOSTS", "127.0.0.1")
    factory = app.extensions["assay.sessions"]
    huey = make_huey(app.config["INSTANCE_PATH"])
    g.use_queue(factory, huey)
    invitation, _ = make_invitation()
    webhooks.register(
        db,
        invitation.assessment.owner_id,
        "http://127.0.0.1:9/hook",
        ["submission.graded"],
        allow_hosts="127.0.0.1",
    )
    db.commit()
    with factory() as session:
        submission = _submission()
        submission.invitation_id = invitation.id
        grading = g.enqueue_submission(session, submission, {"tier": "sample"})
        session.commit()
        gid, sid = grading.id, submission.id

    class Config:
        MAIL_URL, MAIL_SENDER = "outbox", "assay@localhost"

    steps = standard_steps(factory, Config())
    worker = Worker(factory, huey, QueueSettings(), on_finished=steps)
    assert worker.run_grading(gid) == "failed"  # the syntax error, stored first
    db.expire_all()
    assert db.scalars(sa.select(MailOutbox.recipient)).all() == [invitation.candidate_email]
    assert db.scalars(sa.select(WebhookDelivery.event)).all() == ["submission.graded"]
    assert db.scalar(sa.select(SubmissionRender).where(SubmissionRender.submission_id == sid))
    assert db.scalar(sa.select(GradingRender).where(GradingRender.grading_id == gid))
    assert db.get(SimilarityCheck, sid) is not None
