"""The fair order with real worker processes, on both queues: a worker killed mid-grading.

Real parts: ``python -m server.cli worker`` processes grading in real sandboxes, on the
SQLite queue and database of an instance folder, and on a redis-server this test starts on a
free port of 127.0.0.1 with the test's own PostgreSQL database. Candidate X uploads two
submissions and candidate Y one, in two assessments; each one's code sleeps a few seconds in
the sandbox and then fails (a candidate error), so a grading is long enough to be killed in.

Worker ``a`` takes X's first upload and is SIGKILLed while it runs; worker ``b`` starts. The
checks: X's second upload is not started while the dead worker's lease still holds X's first
(one in flight per candidate), ``b`` grades Y's meanwhile (round-robin), the expired lease puts
X's first back in the retry lane, and every submission ends with exactly one grading row,
finished once (X's first with two tries and the lease expiry in its note).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from server import grading as g
from server.db import make_engine, make_session_factory
from server.models import (
    Assessment,
    Grading,
    Invitation,
    ProgressEvent,
    Submission,
    User,
    utcnow,
)
from server.queue import make_huey
from server.summary import listeners

ROOT = Path(__file__).resolve().parents[2]
SLEEPS = b"import time\ntime.sleep(6)\nraise SystemExit(3)\n"

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _spawn(args: list[str], env: dict, log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "server.cli", *args],
        env=env,
        cwd=ROOT,
        stdout=open(log, "ab"),  # noqa: SIM115 (closed with the process)
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def _stop(proc: subprocess.Popen, sig=signal.SIGTERM, wait: float = 30) -> None:
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(wait)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)


def _redis(skip_or_fail) -> tuple[subprocess.Popen, str]:
    if subprocess.run(["which", "redis-server"], capture_output=True).returncode:
        skip_or_fail("redis-server is not installed (scripts/system-deps.sh)")
    port = _free_port()
    proc = subprocess.Popen(
        ["redis-server", "--bind", "127.0.0.1", "--port", str(port), "--save", ""],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return proc, f"redis://127.0.0.1:{port}/0"
        time.sleep(0.1)
    proc.kill()
    skip_or_fail("redis-server did not start")
    raise AssertionError("unreachable")


def _people(factory) -> tuple[int, int]:
    with factory() as session:
        owner = User(email="r@example.test", name="R", role="recruiter", password_hash="x")
        session.add(owner)
        session.flush()
        found = []
        for n in range(2):
            assessment = Assessment(owner_id=owner.id, title=f"A{n}", time_limit_minutes=60)
            session.add(assessment)
            session.flush()
            invitation = Invitation(
                assessment_id=assessment.id,
                candidate_name=f"C{n}",
                candidate_email=f"c{n}@example.test",
                token_hash=f"{n:064d}",
                expires_at=utcnow() + timedelta(days=1),
            )
            session.add(invitation)
            session.flush()
            found.append(invitation.id)
        session.commit()
        return found[0], found[1]


def _upload(factory, invitation_id: int) -> int:
    with factory() as session:
        sub = Submission(
            invitation_id=invitation_id,
            challenge_slug="lenet5-mnist",
            filename="solution.py",
            source=SLEEPS,
            sha256="0" * 64,
            size=len(SLEEPS),
        )
        session.add(sub)
        grading = g.enqueue_submission(
            session, sub, {"tier": "sample", "train_limit": 100, "train_seconds": 60}
        )
        session.commit()
        return grading.id


def _wait(check, seconds: float, what: str, logs) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.3)
    tail = "\n".join(p.name + ":\n" + p.read_text(errors="replace")[-2000:] for p in logs)
    raise AssertionError(f"timed out waiting for {what}\n{tail}")


@pytest.mark.parametrize("database", ["sqlite", "postgresql"], indirect=True)
def test_a_worker_killed_mid_grading_loses_nothing_and_keeps_the_order(
    database, database_url, tmp_path, prepared_data, skip_or_fail
):
    from sandbox.errors import SandboxUnavailable
    from sandbox.registry import pick_sandbox

    try:
        pick_sandbox("auto")
    except SandboxUnavailable as exc:
        skip_or_fail(f"no sandbox backend: {exc}")
    instance = tmp_path / "instance"
    instance.mkdir(exist_ok=True)
    redis = None
    queue_url = ""
    if database == "postgresql":
        redis, queue_url = _redis(skip_or_fail)
    env = {
        **os.environ,
        "ASSAY_INSTANCE": str(instance),
        "ASSAY_DATABASE_URL": database_url,
        "ASSAY_QUEUE_URL": queue_url,
        "ASSAY_SECRET_KEY": "fair-" + "0" * 59,
        "ASSAY_LEASE_SECONDS": "6",
        "ASSAY_SWEEP_SECONDS": "1",
        "ASSAY_WARM": "0",
        "ASSAY_MAX_TRIES": "3",
        "ASSAY_WORKER_THREADS": "1",
    }
    env.pop("ASSAY_QUEUE_ORDER", None)
    logs = [tmp_path / "a.log", tmp_path / "b.log"]
    listeners.install()  # uploads here write as the web app does
    engine = make_engine(database_url)
    factory = make_session_factory(engine)
    huey = make_huey(instance, queue_url)
    g.use_queue(factory, huey)
    procs: list[subprocess.Popen] = []
    try:
        x, y = _people(factory)
        x1, x2 = _upload(factory, x), _upload(factory, x)
        y1 = _upload(factory, y)

        def row(gid):
            with factory() as session:
                found = session.get(Grading, gid)
                session.expunge(found)
                return found

        procs.append(_spawn(["worker"], env, logs[0]))
        _wait(lambda: row(x1).status == "running", 120, "worker a to take X's first", logs)
        time.sleep(1.5)  # inside the sandbox now
        _stop(procs[0], signal.SIGKILL)
        killed_at = utcnow()
        # Two threads: one would take X's second at once if the dead worker's lease on X's
        # first did not hold it back.
        procs.append(_spawn(["worker"], {**env, "ASSAY_WORKER_THREADS": "2"}, logs[1]))
        _wait(
            lambda: all(row(i).status in ("graded", "failed") for i in (x1, x2, y1)),
            240,
            "every grading to end",
            logs,
        )
        with factory() as session:
            rows = session.execute(
                sa.select(
                    Grading.submission_id,
                    Grading.id,
                    Grading.lane,
                    Grading.tries,
                    Grading.platform_note,
                    Grading.started_at,
                    Grading.finished_at,
                    Grading.error_code,
                )
            ).all()
            events = session.execute(
                sa.select(ProgressEvent.grading_id, ProgressEvent.at, ProgressEvent.data_json)
                .where(ProgressEvent.kind == "status")
                .order_by(ProgressEvent.at)
            ).all()
        assert len(rows) == 3 and len({r.submission_id for r in rows}) == 3  # none twice
        by_id = {r.id: r for r in rows}
        assert by_id[x1].tries == 2 and "stopped renewing its lease" in by_id[x1].platform_note
        assert by_id[x1].lane == "retry" and by_id[x2].lane == by_id[y1].lane == "first"
        assert by_id[x1].started_at > killed_at  # its second try, after the lease expired
        # X's two never ran at once, not even while the dead worker's lease held the first:
        # X's second started only after the sweeper put X's first back.
        first, second = sorted((by_id[x1], by_id[x2]), key=lambda r: r.started_at)
        assert first.finished_at <= second.started_at
        starts = [at for gid, at, data in events if gid == x2 and '"running"' in data]
        requeued = [at for gid, at, data in events if gid == x1 and '"queued"' in data]
        assert len(starts) == 1 and len(requeued) == 1 and requeued[0] <= starts[0]
        assert by_id[y1].started_at < by_id[x2].started_at  # Y's went while X waited
        assert all(r.error_code not in (None, "platform_error") for r in rows)
    finally:
        for proc in procs:
            _stop(proc)
        if redis is not None:
            redis.kill()
            redis.wait(10)
        engine.dispose()
