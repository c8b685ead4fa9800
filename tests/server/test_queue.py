"""The queue's rules (server/grading.py, server/leases.py, server/sweeper.py) on a real
SQLite file and a real SqliteHuey.

No worker runs here: each test plays the worker's steps by hand (claim, heartbeat, finish,
sweep) so that it can put them in the order a crash or a race would.
"""

from __future__ import annotations

import json
import multiprocessing
from datetime import timedelta

import pytest
import sqlalchemy as sa

from graders.report import ErrorInfo, Report, Verdict
from server import grading as g
from server import leases, sweeper
from server.db import make_engine, make_session_factory
from server.models import Grading, ProgressEvent, Submission, utcnow
from server.queue import make_huey, pending_ids
from server.summary import listeners

LEASE = 30.0

pytestmark = pytest.mark.databases


@pytest.fixture
def huey(tmp_path):
    return make_huey(tmp_path)


@pytest.fixture
def db_url(database_url):
    return database_url  # SQLite and PostgreSQL (conftest: pytest.mark.databases)


@pytest.fixture
def sessions(db_url, huey):
    listeners.install()  # as the web app and the worker do: no app here
    engine = make_engine(db_url)
    factory = make_session_factory(engine)
    g.use_queue(factory, huey)
    yield factory
    engine.dispose()


def _submit(sessions, *, max_tries=3, options=None) -> int:
    with sessions() as session:
        sub = Submission(
            challenge_slug="lenet5-mnist",
            filename="solution.py",
            source=b"print('hi')\n",
            sha256="0" * 64,
            size=12,
        )
        session.add(sub)
        grading = g.enqueue_submission(
            session, sub, options or {"train_limit": 300}, max_tries=max_tries
        )
        session.commit()
        return grading.id


def _grading(sessions, grading_id) -> Grading:
    with sessions() as session:
        grading = session.get(Grading, grading_id)
        session.expunge(grading)
        return grading


def _report(status="graded", code=None, passed=True) -> Report:
    report = Report(
        challenge="lenet5-mnist", title="LeNet-5", dataset="mnist", tier="sample", status=status
    )
    if status == "graded":
        report.verdict = Verdict(passed=passed, checks=[])
    else:
        report.error = ErrorInfo(code=code, message=f"{code} happened")
    return report


def _counts(sessions, grading_id) -> bool:
    with sessions() as session:
        return session.get(Grading, grading_id).submission.counts_as_attempt


# -- enqueue -------------------------------------------------------------------------------------


def test_enqueue_sends_the_id_only_after_commit(sessions, huey):
    with sessions() as session:
        sub = Submission(
            challenge_slug="lenet5-mnist", filename="a.py", source=b"x=1\n", sha256="0", size=4
        )
        session.add(sub)
        grading = g.enqueue_submission(session, sub, {})
        assert pending_ids(huey) == set()
        session.commit()
    assert pending_ids(huey) == {grading.id}
    assert grading.status == "queued" and grading.tries == 0


def test_a_rolled_back_enqueue_sends_nothing(sessions, huey):
    with sessions() as session:
        sub = Submission(
            challenge_slug="lenet5-mnist", filename="a.py", source=b"x=1\n", sha256="0", size=4
        )
        session.add(sub)
        g.enqueue_submission(session, sub, {})
        session.rollback()
        session.commit()
    assert pending_ids(huey) == set()


def test_options_are_stored_with_the_grading(sessions):
    gid = _submit(sessions, options={"train_limit": 300, "test_limit": 200})
    assert json.loads(_grading(sessions, gid).options_json) == {
        "test_limit": 200,
        "train_limit": 300,
    }


# -- claim ---------------------------------------------------------------------------------------


def test_claim_takes_a_queued_grading_once(sessions):
    gid = _submit(sessions)
    with sessions() as session:
        first = leases.claim(session, gid, LEASE)
    with sessions() as session:
        second = leases.claim(session, gid, LEASE)
    assert first is not None and second is None
    assert first.tries == 1 and first.source == b"print('hi')\n"
    row = _grading(sessions, gid)
    assert row.status == "running" and row.lease_owner == first.owner
    assert row.lease_expires_at > utcnow() + timedelta(seconds=LEASE - 5)


def _claim_all(url: str, ids: list[int], start, out) -> None:
    engine = make_engine(url)
    factory = make_session_factory(engine)
    start.wait()
    won = []
    for gid in ids:
        with factory() as session:
            if leases.claim(session, gid, LEASE) is not None:
                won.append(gid)
    out.put(won)


def test_two_concurrent_claimers_never_take_the_same_grading(sessions, db_url):
    ids = [_submit(sessions) for _ in range(40)]
    ctx = multiprocessing.get_context("fork")
    start, out = ctx.Barrier(2), ctx.Queue()
    procs = [ctx.Process(target=_claim_all, args=(db_url, ids, start, out)) for _ in range(2)]
    for proc in procs:
        proc.start()
    won = [out.get(timeout=60), out.get(timeout=60)]
    for proc in procs:
        proc.join(10)
    assert not set(won[0]) & set(won[1])
    assert sorted(won[0] + won[1]) == ids
    with sessions() as session:
        owners = session.scalars(sa.select(Grading.lease_owner)).all()
    assert len(set(owners)) == 40  # every claim got its own token


# -- heartbeat and fencing -----------------------------------------------------------------------


def test_heartbeat_renews_the_lease_while_it_is_held(sessions):
    gid = _submit(sessions)
    with sessions() as session:
        claim = leases.claim(session, gid, 1.0)
    before = _grading(sessions, gid).lease_expires_at
    with sessions() as session:
        assert leases.heartbeat(session, claim, LEASE)
    assert _grading(sessions, gid).lease_expires_at > before + timedelta(seconds=20)


def test_a_stale_worker_cannot_finish_heartbeat_or_log_after_its_lease_moved_on(sessions):
    gid = _submit(sessions)
    with sessions() as session:
        stale = leases.claim(session, gid, LEASE)
    later = utcnow() + timedelta(seconds=LEASE + 1)
    with sessions() as session:
        assert sweeper.requeue_expired(session, now=later) == {"requeued": [gid], "failed": []}
    with sessions() as session:
        fresh = leases.claim(session, gid, LEASE)
    assert fresh.tries == 2
    with sessions() as session:
        assert not leases.heartbeat(session, stale, LEASE)
        assert not leases.record_event(session, stale, {"event": "epoch", "epoch": 9, "epochs": 9})
        assert leases.finish(session, stale, _report(passed=True)) == "dropped"
    row = _grading(sessions, gid)
    assert row.status == "running" and row.report_json is None
    with sessions() as session:
        assert leases.finish(session, fresh, _report(passed=False)) == "graded"
        assert leases.finish(session, fresh, _report(passed=True)) == "dropped"  # never twice
    row = _grading(sessions, gid)
    assert row.status == "graded" and row.passed is False and row.lease_owner is None


def test_progress_events_get_increasing_seq_and_the_status_trail(sessions):
    gid = _submit(sessions)
    with sessions() as session:
        claim = leases.claim(session, gid, LEASE)
        for epoch in (1, 2, 3):
            leases.record_event(session, claim, {"event": "epoch", "epoch": epoch, "epochs": 3})
        leases.finish(session, claim, _report())
    with sessions() as session:
        events = session.scalars(
            sa.select(ProgressEvent)
            .where(ProgressEvent.grading_id == gid)
            .order_by(ProgressEvent.seq)
        ).all()
        trail = [(e.seq, e.kind, json.loads(e.data_json).get("epoch")) for e in events]
    assert trail == [
        (1, "status", None),
        (2, "epoch", 1),
        (3, "epoch", 2),
        (4, "epoch", 3),
        (5, "status", None),
    ]


# -- expiry and bounded tries --------------------------------------------------------------------


def test_an_expired_lease_is_requeued_and_sent_again(sessions, huey):
    gid = _submit(sessions)
    huey.dequeue()  # the worker took the message, then died
    with sessions() as session:
        leases.claim(session, gid, LEASE)
    with sessions() as session:
        assert sweeper.requeue_expired(session) == {"requeued": [], "failed": []}  # not yet
    with sessions() as session:
        done = sweeper.requeue_expired(session, now=utcnow() + timedelta(seconds=LEASE + 1))
    assert done == {"requeued": [gid], "failed": []}
    row = _grading(sessions, gid)
    assert row.status == "queued" and row.lease_owner is None and row.tries == 1
    assert "stopped renewing its lease" in row.platform_note
    assert pending_ids(huey) == {gid}


def test_after_max_tries_of_lost_leases_it_ends_as_platform_error(sessions):
    gid = _submit(sessions, max_tries=2)
    now = utcnow()
    for n in (1, 2):
        with sessions() as session:
            assert leases.claim(session, gid, LEASE, now=now) is not None
        now += timedelta(seconds=LEASE + 1)
        with sessions() as session:
            done = sweeper.requeue_expired(session, now=now)
        assert done == (
            {"requeued": [gid], "failed": []} if n == 1 else {"requeued": [], "failed": [gid]}
        )
    row = _grading(sessions, gid)
    assert row.status == "failed" and row.error_code == "platform_error"
    assert row.platform_note.count("stopped renewing its lease") == 2
    assert "gave up after 2 tries" in row.platform_note
    report = Report.from_dict(json.loads(row.report_json))
    assert report.status == "failed" and report.error.code == "platform_error"
    assert not _counts(sessions, gid)  # the candidate's attempt is not used
    with sessions() as session:
        assert leases.claim(session, gid, LEASE) is None


def test_a_platform_failure_is_retried_and_uses_no_attempt(sessions, huey):
    gid = _submit(sessions, max_tries=2)
    with sessions() as session:
        claim = leases.claim(session, gid, LEASE)
        assert leases.finish(session, claim, _report("failed", "sandbox_unavailable")) == "requeued"
    assert gid in pending_ids(huey)
    with sessions() as session:
        claim = leases.claim(session, gid, LEASE)
        assert leases.finish(session, claim, _report("failed", "sandbox_unavailable")) == "failed"
    row = _grading(sessions, gid)
    assert row.status == "failed" and row.error_code == "platform_error"
    assert "try 1: sandbox_unavailable" in row.platform_note
    assert "gave up after 2 tries" in row.platform_note
    assert not _counts(sessions, gid)


def test_a_candidate_failure_uses_the_attempt_and_is_not_retried(sessions, huey):
    gid = _submit(sessions)
    huey.dequeue()
    with sessions() as session:
        claim = leases.claim(session, gid, LEASE)
        assert leases.finish(session, claim, _report("failed", "syntax_error")) == "failed"
    row = _grading(sessions, gid)
    assert (row.status, row.error_code, row.tries) == ("failed", "syntax_error", 1)
    assert _counts(sessions, gid)
    assert pending_ids(huey) == set()


def test_a_stopping_worker_hands_the_grading_back_without_using_a_try(sessions, huey):
    gid = _submit(sessions)
    huey.dequeue()
    with sessions() as session:
        claim = leases.claim(session, gid, LEASE)
        outcome = leases.finish(session, claim, _report("failed", "cancelled"), stopping=True)
    assert outcome == "requeued"
    row = _grading(sessions, gid)
    assert (row.status, row.tries) == ("queued", 0)
    assert "worker was stopped" in row.platform_note
    assert pending_ids(huey) == {gid}
    assert _counts(sessions, gid)


def test_lost_messages_are_found_for_queued_gradings_only(sessions, huey):
    kept, lost, running = _submit(sessions), _submit(sessions), _submit(sessions)
    huey.flush()
    from server.queue import enqueue_grading

    enqueue_grading(huey, kept)
    with sessions() as session:
        leases.claim(session, running, LEASE)
    with sessions() as session:
        found = sweeper.lost_messages(
            session, pending_ids(huey), 0, now=utcnow() + timedelta(seconds=1)
        )
    assert found == [lost]


# -- re-grading and the queue position -----------------------------------------------------------


def test_regrade_adds_a_row_and_keeps_the_history_and_is_safe_to_press_twice(sessions, huey):
    gid = _submit(sessions, options={"train_limit": 50})
    with sessions() as session:
        claim = leases.claim(session, gid, LEASE)
        leases.finish(session, claim, _report())
    huey.flush()
    with sessions() as session:
        sub = session.get(Grading, gid).submission
        first = g.regrade(session, sub)
        second = g.regrade(session, sub)
        session.commit()
        assert first.id == second.id != gid
        assert [x.status for x in sub.gradings] == ["graded", "queued"]
        assert sub.latest.id == first.id
        assert json.loads(first.options_json) == {"train_limit": 50}
    assert pending_ids(huey) == {first.id}


def test_queue_position_counts_the_gradings_ahead(sessions):
    ids = [_submit(sessions) for _ in range(4)]
    with sessions() as session:
        leases.claim(session, ids[0], LEASE)
    with sessions() as session:
        positions = [g.queue_position(session, session.get(Grading, i)) for i in ids]
    assert positions == [None, 1, 2, 3]


# -- the queue backend ---------------------------------------------------------------------------


def test_the_queue_is_a_sqlite_file_in_the_instance_or_redis_by_url(tmp_path):
    from huey import RedisHuey, SqliteHuey

    from server.queue import QUEUE_FILE, enqueue_grading

    local = make_huey(tmp_path)
    enqueue_grading(local, 7)
    assert isinstance(local, SqliteHuey) and (tmp_path / QUEUE_FILE).is_file()
    assert pending_ids(make_huey(tmp_path)) == {7}  # another process's view of the same file
    assert isinstance(make_huey(tmp_path, "redis://127.0.0.1:6379/0"), RedisHuey)
    with pytest.raises(ValueError, match="redis://"):
        make_huey(tmp_path, "amqp://127.0.0.1/")


def test_a_requeued_grading_shows_none_of_its_killed_try(sessions):
    # The killed try's epoch and phase stay in the history (progress_events), but the
    # candidate's status page must show the true state: queued again, then the new try's own.
    from server.submission_status import progress

    gid = _submit(sessions)
    now = utcnow()
    with sessions() as session:
        claim = leases.claim(session, gid, LEASE, now=now)
    with sessions() as session:
        leases.record_event(session, claim, {"event": "phase", "phase": "train", "status": "start"})
        leases.record_event(
            session, claim, {"event": "epoch", "epoch": 3, "epochs": 5, "logs": {"loss": 0.4}}
        )
    with sessions() as session:
        shown = progress(session, session.get(Grading, gid).submission)
        assert (shown.status, shown.phase, shown.epoch, shown.loss) == ("running", "train", 3, 0.4)
    with sessions() as session:
        sweeper.requeue_expired(session, now=now + timedelta(seconds=LEASE + 1))
    with sessions() as session:
        shown = progress(session, session.get(Grading, gid).submission)
        assert shown.status == "queued"
        assert (shown.phase, shown.epoch, shown.epochs, shown.loss) == ("", None, None, None)
        assert len(session.get(Grading, gid).events) == 4  # the history is kept
    with sessions() as session:
        claim = leases.claim(session, gid, LEASE, now=now + timedelta(seconds=LEASE + 2))
    with sessions() as session:
        leases.record_event(session, claim, {"event": "epoch", "epoch": 1, "epochs": 5, "logs": {}})
    with sessions() as session:
        shown = progress(session, session.get(Grading, gid).submission)
        assert (shown.status, shown.epoch, shown.loss) == ("running", 1, None)
