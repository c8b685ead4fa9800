"""Chaos on Redis and PostgreSQL: nothing lost, nothing graded twice, nothing stuck.

Real parts: a PostgreSQL database (the test's own), a redis-server this test starts on a
free port of 127.0.0.1 (so that it can restart it), two ``python -m server.cli worker``
processes grading in real sandboxes, and the web app under gunicorn (``assay serve``).
During the run one worker is SIGKILLed twice (and started again each time), Redis is
restarted once and the web process is restarted once. Then every submission must have
exactly one grading row, ended ``graded`` or ``failed`` (a ``platform_error`` one with the
reason in its note), none queued or running.

Size: ``ASSAY_CHAOS_SUBMISSIONS`` (default 24, for CI time; larger runs by hand: see
docs/benchmarks.md). The submissions are the web's own ``enqueue_submission`` calls, made
by this test (not HTTP uploads): half fail at once (a syntax error, refused before any
sandbox), half start a sandbox and exit there with an error (a real container start each).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import sqlalchemy as sa

from server import grading as g
from server.db import make_engine, make_session_factory
from server.models import Grading, Submission
from server.queue import make_huey
from server.summary import listeners

ROOT = Path(__file__).resolve().parents[2]
SUBMISSIONS = int(os.environ.get("ASSAY_CHAOS_SUBMISSIONS") or 24)
BROKEN = b"def broken(:\n"
CRASHES = b"import sys\nsys.exit(3)\n"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start_redis(port: int, skip_or_fail) -> subprocess.Popen:
    if subprocess.run(["which", "redis-server"], capture_output=True).returncode:
        skip_or_fail("redis-server is not installed (scripts/system-deps.sh)")
    proc = subprocess.Popen(
        [
            "redis-server",
            "--bind",
            "127.0.0.1",
            "--port",
            str(port),
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc
        except OSError:
            time.sleep(0.05)
    raise AssertionError("redis-server did not start")


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


def _finished(factory) -> int:
    with factory() as session:
        return session.scalar(
            sa.select(sa.func.count())
            .select_from(Grading)
            .where(Grading.status.in_(("graded", "failed")))
        )


def _wait_web(port: int, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=3) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise AssertionError("the web app did not become ready")


@pytest.mark.slow
@pytest.mark.parametrize("database", ["postgresql"], indirect=True)
def test_chaos_on_redis_and_postgresql_loses_nothing(
    database_url, tmp_path, prepared_data, skip_or_fail
):
    from sandbox.errors import SandboxUnavailable
    from sandbox.registry import pick_sandbox

    try:
        pick_sandbox("auto")
    except SandboxUnavailable as exc:
        skip_or_fail(f"no sandbox backend: {exc}")
    redis_port, web_port = _free_port(), _free_port()
    redis_url = f"redis://127.0.0.1:{redis_port}/0"
    redis = _start_redis(redis_port, skip_or_fail)
    instance = tmp_path / "instance"
    instance.mkdir()
    env = {
        **os.environ,
        "ASSAY_INSTANCE": str(instance),
        "ASSAY_DATABASE_URL": database_url,
        "ASSAY_QUEUE_URL": redis_url,
        "ASSAY_SECRET_KEY": "chaos-" + "0" * 58,
        "ASSAY_LEASE_SECONDS": "10",
        "ASSAY_SWEEP_SECONDS": "1",
        "ASSAY_SHUTDOWN_SECONDS": "10",
        "ASSAY_WARM": "0",
        "ASSAY_MAX_TRIES": "3",
    }
    logs = {name: tmp_path / f"{name}.log" for name in ("a", "b", "web")}
    web = _spawn(["serve", "--port", str(web_port), "--workers", "2"], env, logs["web"])
    workers = {
        "a": _spawn(["worker"], env, logs["a"]),
        "b": _spawn(["worker"], env, logs["b"]),
    }
    listeners.install()  # uploads here write as the web app does
    engine = make_engine(database_url)
    factory = make_session_factory(engine)
    huey = make_huey(instance, redis_url)
    g.use_queue(factory, huey)
    events = []
    started = time.monotonic()
    try:
        _wait_web(web_port)
        ids = []
        for n in range(SUBMISSIONS):
            source = BROKEN if n % 2 == 0 else CRASHES
            with factory() as session:
                sub = Submission(
                    challenge_slug="lenet5-mnist",
                    filename="solution.py",
                    source=source,
                    sha256="0" * 64,
                    size=len(source),
                )
                session.add(sub)
                g.enqueue_submission(session, sub, {"tier": "sample"})
                session.commit()
                ids.append(sub.id)
        plan = [
            (0.15, "kill a"),
            (0.35, "restart redis"),
            (0.5, "restart web"),
            (0.65, "kill a"),
        ]
        # Generous: a killed worker's gradings wait out their lease (10 s) before a retry.
        deadline = time.monotonic() + 180 + SUBMISSIONS * 10
        while time.monotonic() < deadline:
            done = _finished(factory)
            while plan and done >= plan[0][0] * SUBMISSIONS:
                _, action = plan.pop(0)
                events.append(f"{time.monotonic() - started:.1f}s after {done} done: {action}")
                if action == "kill a":
                    _stop(workers["a"], signal.SIGKILL)
                    workers["a"] = _spawn(["worker"], env, logs["a"])
                elif action == "restart redis":
                    redis.kill()
                    redis.wait(10)
                    time.sleep(1)
                    redis = _start_redis(redis_port, skip_or_fail)
                elif action == "restart web":
                    _stop(web)
                    web = _spawn(
                        ["serve", "--port", str(web_port), "--workers", "2"], env, logs["web"]
                    )
                    _wait_web(web_port)
            if done == SUBMISSIONS and not plan:
                break
            time.sleep(0.5)
        elapsed = time.monotonic() - started
        with factory() as session:
            rows = session.execute(
                sa.select(
                    Submission.id,
                    Grading.id,
                    Grading.status,
                    Grading.error_code,
                    Grading.platform_note,
                    Grading.report_json,
                    Grading.tries,
                ).join(Grading, Grading.submission_id == Submission.id)
            ).all()
        tail = "\n".join(
            p.name + ":\n" + p.read_text(errors="replace")[-1500:] for p in logs.values()
        )
        per_submission = {}
        for row in rows:
            per_submission.setdefault(row[0], []).append(row)
        assert sorted(per_submission) == sorted(ids), "a submission has no grading row"
        assert all(len(v) == 1 for v in per_submission.values()), "a submission graded twice"
        states = {}
        for _, _, status, code, note, report, _ in rows:
            states[(status, code)] = states.get((status, code), 0) + 1
            assert status in ("graded", "failed"), f"stuck: {status}\n{events}\n{tail}"
            assert report, "finished without a report"
            if code == "platform_error":
                assert note, "a platform_error without a reason"
        print(f"\nchaos: {SUBMISSIONS} submissions in {elapsed:.0f}s; {events}; {states}")
        assert not plan, f"the run ended before every disruption: {events}"
    finally:
        for proc in (*workers.values(), web):
            _stop(proc)
        redis.kill()
        redis.wait(10)
        engine.dispose()
