"""The worker (server/worker.py) with its real parts: SQLite, SqliteHuey, the grading service.

Fast tests use submissions that the service refuses before any sandbox starts, or drive
the progress recorder directly. The slow ones run ``python -m server.cli worker`` as a
process in a real sandbox and stop it the ways an operator (or the kernel) does: SIGTERM,
and SIGKILL in the middle of training.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from graders.options import OptionsError, parse_options
from server import grading as g
from server import leases, sweeper
from server.candidates import attempts_used
from server.models import Grading, ProgressEvent, Submission, utcnow
from server.queue import QueueSettings, get_huey, pending_ids
from server.worker import ProgressRecorder, Worker

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = ROOT / "challenges" / "lenet5-mnist" / "reference" / "solution.py"
# Candidate code that blocks in the sandbox until something stops it.
SLEEPER = b"import time\ntime.sleep(600)\n"

# Fast tests on SQLite and PostgreSQL; the slow ones on SQLite (tests/server/conftest.py).
pytestmark = pytest.mark.databases


@pytest.fixture
def factory(app):
    factory = app.extensions["assay.sessions"]
    g.use_queue(factory, get_huey())  # the instance folder of the test (ASSAY_INSTANCE)
    return factory


def _submit(factory, invitation_id, source: bytes, options: dict, max_tries: int = 3) -> int:
    with factory() as session:
        sub = Submission(
            invitation_id=invitation_id,
            challenge_slug="lenet5-mnist",
            filename="solution.py",
            source=source,
            sha256="0" * 64,
            size=len(source),
        )
        session.add(sub)
        grading = g.enqueue_submission(session, sub, options, max_tries=max_tries)
        session.commit()
        return grading.id


def _row(factory, grading_id) -> Grading:
    with factory() as session:
        row = session.get(Grading, grading_id)
        session.expunge(row)
        return row


def _events(factory, grading_id) -> list[tuple[str, dict]]:
    with factory() as session:
        rows = session.scalars(
            sa.select(ProgressEvent)
            .where(ProgressEvent.grading_id == grading_id)
            .order_by(ProgressEvent.seq)
        ).all()
        return [(e.kind, json.loads(e.data_json)) for e in rows]


def _attempts(factory, invitation_id) -> int:
    from server.models import Invitation

    with factory() as session:
        return attempts_used(session.get(Invitation, invitation_id), "lenet5-mnist")


# -- fast: the worker's steps in this process ----------------------------------------------------


def test_an_unknown_option_is_an_error_and_known_ones_are_kept():
    with pytest.raises(OptionsError, match="unknown grading option: 'colour'"):
        parse_options(
            {"tier": "sample", "train_limit": 300, "bars": {"accuracy": 0.9}, "colour": "red"}
        )
    options = parse_options({"tier": "sample", "train_limit": 300, "bars": {"accuracy": 0.9}})
    assert (options.tier, options.train_limit) == ("sample", 300)
    assert options.bars == {"accuracy": 0.9}  # an assessment's own bar reaches the grading


def test_a_refused_upload_fails_at_once_and_uses_the_attempt(
    factory, make_invitation, prepared_data
):
    invitation, _ = make_invitation()
    gid = _submit(factory, invitation.id, b"def broken(:\n", {"tier": "sample"})
    finished = []
    worker = Worker(factory, get_huey(), QueueSettings(), on_finished=finished.append)
    assert worker.run_grading(gid) == "failed"
    assert worker.run_grading(gid) == "not claimed"  # a duplicate message changes nothing
    row = _row(factory, gid)
    assert (row.status, row.error_code, row.tries) == ("failed", "syntax_error", 1)
    assert _attempts(factory, invitation.id) == 1
    assert finished == [gid]
    assert [kind for kind, _ in _events(factory, gid)] == ["status", "status"]


def test_an_unknown_challenge_is_a_platform_failure_retried_then_given_up(
    factory, make_invitation, prepared_data
):
    invitation, _ = make_invitation()
    gid = _submit(factory, invitation.id, b"x = 1\n", {}, max_tries=2)
    with factory() as session:
        session.get(Grading, gid).submission.challenge_slug = "no-such-challenge"
        session.commit()
    worker = Worker(factory, get_huey(), QueueSettings())
    assert worker.run_grading(gid) == "requeued"
    assert _row(factory, gid).status == "queued"
    assert worker.run_grading(gid) == "failed"
    row = _row(factory, gid)
    assert (row.status, row.error_code, row.tries) == ("failed", "platform_error", 2)
    assert "gave up after 2 tries" in row.platform_note
    assert _attempts(factory, invitation.id) == 0


def _claimed(factory, invitation_id, lease=30.0) -> leases.Claim:
    gid = _submit(factory, invitation_id, b"x = 1\n", {})
    with factory() as session:
        return leases.claim(session, gid, lease)


def test_progress_epochs_are_throttled_and_the_last_one_always_kept(factory, make_invitation):
    invitation, _ = make_invitation()
    claim = _claimed(factory, invitation.id)
    import threading

    recorder = ProgressRecorder(
        factory, claim, QueueSettings(epoch_seconds=60.0), threading.Event()
    )
    recorder({"event": "phase", "phase": "train", "status": "start"})
    for epoch in range(1, 51):
        recorder({"event": "epoch", "epoch": epoch, "epochs": 100, "logs": {"loss": 1 / epoch}})
    recorder({"event": "phase", "phase": "train", "status": "ok"})  # writes the held epoch 50
    for epoch in range(51, 101):
        recorder({"event": "epoch", "epoch": epoch, "epochs": 100, "logs": {"loss": 1 / epoch}})
    recorder.close()
    epochs = [data["epoch"] for kind, data in _events(factory, claim.grading_id) if kind == "epoch"]
    assert epochs == [1, 50, 100]


def test_a_heartbeat_renews_the_lease_and_a_lost_lease_cancels_the_run(factory, make_invitation):
    import threading

    invitation, _ = make_invitation()
    claim = _claimed(factory, invitation.id, lease=1.0)
    cancel = threading.Event()
    recorder = ProgressRecorder(factory, claim, QueueSettings(lease_seconds=30.0), cancel)
    recorder({"event": "heartbeat"})
    assert _row(factory, claim.grading_id).lease_expires_at > utcnow() + timedelta(seconds=20)
    assert not cancel.is_set()
    with factory() as session:
        sweeper.requeue_expired(session, now=utcnow() + timedelta(seconds=60))
    recorder({"event": "heartbeat"})
    assert cancel.is_set() and recorder.lost
    assert not any(kind == "heartbeat" for kind, _ in _events(factory, claim.grading_id))


def test_a_worker_cut_off_from_the_database_for_a_whole_lease_stops_its_run(
    factory, make_invitation, tmp_path
):
    import threading

    from server.db import make_engine, make_session_factory

    invitation, _ = make_invitation()
    claim = _claimed(factory, invitation.id)
    unreachable = make_session_factory(make_engine(f"sqlite:///{tmp_path}/gone/assay.db"))
    cancel = threading.Event()
    recorder = ProgressRecorder(unreachable, claim, QueueSettings(lease_seconds=0.5), cancel)
    recorder({"event": "heartbeat"})  # fails, but the lease may still be ours
    assert not cancel.is_set()
    time.sleep(0.6)
    recorder({"event": "heartbeat"})  # a whole lease without a renewal: give up
    assert cancel.is_set() and recorder.lost


def test_the_sweeper_resends_a_lost_message_and_requeues_an_expired_lease(factory, make_invitation):
    invitation, _ = make_invitation()
    other, _ = make_invitation()  # one grading in flight per candidate: two candidates here
    huey = get_huey()
    lost = _submit(factory, other.id, b"x = 1\n", {})
    expired = _claimed(factory, invitation.id, lease=0.001).grading_id
    huey.flush()  # the queue lost every message (a crash between commit and enqueue, say)
    time.sleep(0.01)
    Worker(factory, huey, QueueSettings(sweep_seconds=0.0)).sweep()
    assert pending_ids(huey) == {lost, expired}
    assert huey.pending_count() == 2  # one message each: the requeue's is not sent twice
    assert _row(factory, expired).status == "queued"


# -- the worker as a process ---------------------------------------------------------------------


def _need_sandbox(skip_or_fail) -> None:
    from sandbox.errors import SandboxUnavailable
    from sandbox.registry import pick_sandbox

    try:
        pick_sandbox("auto")
    except SandboxUnavailable as exc:
        skip_or_fail(f"no sandbox backend: {exc}")


def _start_worker(tmp_path: Path, name: str, **env) -> subprocess.Popen:
    log = open(tmp_path / f"{name}.log", "wb")  # noqa: SIM115 (closed with the process)
    settings = {
        "ASSAY_LEASE_SECONDS": "15",
        "ASSAY_SWEEP_SECONDS": "1",
        "ASSAY_SHUTDOWN_SECONDS": "15",
        **env,
    }
    return subprocess.Popen(
        [sys.executable, "-m", "server.cli", "worker"],
        env={**os.environ, **settings},
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=ROOT,
    )


def _wait(what, seconds: float, proc: subprocess.Popen | None = None, log: Path | None = None):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = what()
        if value:
            return value
        if proc is not None and proc.poll() is not None:
            tail = log.read_text(errors="replace")[-3000:] if log else ""
            pytest.fail(f"the worker exited early ({proc.returncode}):\n{tail}")
        time.sleep(0.2)
    tail = log.read_text(errors="replace")[-3000:] if log else ""
    pytest.fail(f"waited {seconds:g} s in vain\n{tail}")


def _sandboxes_of(owner) -> list[str]:
    """Containers, cgroups and work folders that the grader process ``owner`` made and left."""
    from sandbox.lifecycle import CGROUP_NAME, FOLDER_NAME, OWNER_LABEL
    from sandbox.reaper import find_cgroups, find_folders

    found = [str(p) for p in find_folders() if FOLDER_NAME.match(p.name)["tag"] == owner.tag]
    found += [str(p) for p in find_cgroups() if CGROUP_NAME.match(p.name)["tag"] == owner.tag]
    try:
        import docker

        client = docker.from_env(timeout=10)
        for container in client.containers.list(all=True, filters={"label": OWNER_LABEL}):
            if container.labels[OWNER_LABEL] == owner.id:
                found.append(container.name)
    except Exception:  # no engine: bubblewrap sandboxes leave cgroups and folders only
        pass
    return found


def _owner(proc: subprocess.Popen):
    from sandbox.lifecycle import Owner

    owner = Owner.of_pid(proc.pid)
    assert owner is not None, "the worker is not running"
    return owner


def test_the_worker_process_grades_from_the_queue_and_stops_on_sigterm(
    factory, make_invitation, prepared_data, tmp_path
):
    invitation, _ = make_invitation()
    gid = _submit(factory, invitation.id, b"def broken(:\n", {"tier": "sample"})
    # No warm sandbox: this grading never reaches one, and the test needs no engine.
    proc = _start_worker(tmp_path, "worker", ASSAY_WARM="0")
    log = tmp_path / "worker.log"
    try:
        _wait(lambda: _row(factory, gid).status == "failed", 60, proc, log)
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0
    assert _row(factory, gid).error_code == "syntax_error"
    assert pending_ids(get_huey()) == set()


@pytest.mark.slow
def test_sigterm_hands_a_running_grading_back_and_removes_its_sandbox(
    factory, make_invitation, prepared_data, tmp_path, skip_or_fail
):
    _need_sandbox(skip_or_fail)
    invitation, _ = make_invitation()
    gid = _submit(factory, invitation.id, SLEEPER, {"train_limit": 50, "test_limit": 50})
    proc = _start_worker(tmp_path, "worker", ASSAY_SHUTDOWN_SECONDS="10")
    log = tmp_path / "worker.log"
    owner = _owner(proc)
    _wait(lambda: _row(factory, gid).status == "running", 60, proc, log)
    _wait(lambda: _sandboxes_of(owner), 90, proc, log)
    time.sleep(2)  # inside the sandbox now: the candidate's module sleeps
    stopped = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    code = proc.wait(30)
    took = time.monotonic() - stopped
    row = _row(factory, gid)
    assert code == 0, log.read_text(errors="replace")[-3000:]
    # Cancelling removes the sandbox at once; past 10 s the worker hands back and exits anyway.
    assert took < 20, f"the worker took {took:.1f} s to stop"
    assert (row.status, row.tries, row.lease_owner) == ("queued", 0, None)
    assert "the worker was stopped" in row.platform_note
    assert gid in pending_ids(get_huey())  # sent again for the next worker
    assert _attempts(factory, invitation.id) == 1  # the one upload; no attempt used up
    _wait(lambda: not _sandboxes_of(owner), 10)


@pytest.mark.slow
def test_a_worker_killed_mid_training_loses_nothing_and_costs_no_attempt(
    factory, make_invitation, prepared_data, tmp_path, skip_or_fail
):
    _need_sandbox(skip_or_fail)
    invitation, _ = make_invitation()
    gid = _submit(
        factory,
        invitation.id,
        REFERENCE.read_bytes(),
        {"tier": "sample", "train_limit": 300, "test_limit": 200},
    )
    assert _attempts(factory, invitation.id) == 1
    first = _start_worker(tmp_path, "first")
    first_owner = _owner(first)
    _wait(
        lambda: any(kind == "epoch" for kind, _ in _events(factory, gid)),
        180,
        first,
        tmp_path / "first.log",
    )
    first.send_signal(signal.SIGKILL)  # no handler runs, no lease is given back
    first.wait(10)
    killed_at = time.monotonic()
    assert _row(factory, gid).status == "running"

    second = _start_worker(tmp_path, "second")
    log = tmp_path / "second.log"
    try:
        _wait(lambda: _row(factory, gid).tries == 2, 60, second, log)
        assert time.monotonic() - killed_at > 5  # it waited for the lease to expire
        _wait(lambda: _row(factory, gid).status in ("graded", "failed"), 420, second, log)
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(30)
    row = _row(factory, gid)
    assert row.status == "graded", row.report_json
    assert row.tries == 2 and "stopped renewing its lease" in row.platform_note
    statuses = [d.get("status") for kind, d in _events(factory, gid) if kind == "status"]
    assert statuses == ["running", "queued", "running", "graded"]
    assert _attempts(factory, invitation.id) == 1
    with factory() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(Submission)) == 1
        stuck = session.scalars(
            sa.select(Grading.id).where(Grading.status.in_(("queued", "running")))
        ).all()
    assert stuck == []
    _wait(lambda: not _sandboxes_of(first_owner), 30)  # its janitor or the reaper cleaned up
