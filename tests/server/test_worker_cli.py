"""The server commands: ``assay serve``, ``assay admin create-user``, ``assay demo``'s setup.

Each runs against a fresh instance folder named by ``ASSAY_INSTANCE``, migrated on first use
as an operator's would be.
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
from click.testing import CliRunner

from graders.cli import main as assay
from server.db import make_engine

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def instance(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "instance"
    monkeypatch.setenv("ASSAY_INSTANCE", str(folder))
    monkeypatch.delenv("ASSAY_DATABASE_URL", raising=False)
    monkeypatch.delenv("ASSAY_QUEUE_URL", raising=False)
    return folder


def _rows(folder: Path, sql: str) -> list[tuple]:
    engine = make_engine(f"sqlite:///{folder / 'assay.db'}")
    try:
        with engine.connect() as conn:
            return [tuple(row) for row in conn.execute(sa.text(sql))]
    finally:
        engine.dispose()


def test_admin_create_user_migrates_a_fresh_instance_and_prints_a_generated_password(instance):
    result = CliRunner().invoke(
        assay, ["admin", "create-user", "--email", "Boss@Example.test", "--role", "admin"]
    )
    assert result.exit_code == 0, result.output
    assert "created admin boss@example.test" in result.output
    password = result.output.split("password: ")[1].strip()
    assert len(password) >= 10
    assert _rows(instance, "select email, role, active from users") == [
        ("boss@example.test", "admin", 1)
    ]
    from server.accounts import authenticate
    from server.db import make_session_factory

    engine = make_engine(f"sqlite:///{instance / 'assay.db'}")
    with make_session_factory(engine)() as session:
        assert authenticate(session, "boss@example.test", password) is not None
    engine.dispose()


def test_admin_create_user_refuses_a_duplicate_with_a_message_not_a_traceback(instance):
    args = ["admin", "create-user", "--email", "a@example.test", "--password", "long enough pw"]
    assert CliRunner().invoke(assay, args).exit_code == 0
    again = CliRunner().invoke(assay, args)
    assert again.exit_code == 1
    assert "already exists" in again.output and "Traceback" not in again.output


def test_demo_setup_creates_staff_an_assessment_and_queues_the_reference_solutions_dry_runs(
    instance, prepared_data
):
    from server.cli import fresh_instance, prepare_demo
    from server.queue import get_dry_run_huey, pending_dry_run_ids

    fresh_instance(instance)
    setup = prepare_demo(grade=True)
    assert sorted(setup.logins) == ["admin", "recruiter", "reviewer"]
    assert _rows(instance, "select role from users order by role") == [
        ("admin",),
        ("recruiter",),
        ("reviewer",),
    ]
    slugs = _rows(instance, "select challenge_slug from assessment_challenges order by position")
    assert sorted(s for (s,) in slugs) == ["lenet5-mnist", "sentiment-bilstm"]
    assert setup.candidate_path.startswith("/c/")
    # Each upload's dry run first; the worker's lane queues the gradings once they pass.
    queued = _rows(instance, "select id, status from dry_runs order by id")
    assert [status for _, status in queued] == ["queued", "queued"]
    assert pending_dry_run_ids(get_dry_run_huey()) == {i for i, _ in queued}


def test_demo_wipes_only_an_instance_folder_it_made(tmp_path):
    import click

    from server.cli import DEMO_MARKER, fresh_instance

    theirs = tmp_path / "theirs"
    theirs.mkdir()
    (theirs / "assay.db").write_text("precious")
    with pytest.raises(click.ClickException):
        fresh_instance(theirs)
    assert (theirs / "assay.db").read_text() == "precious"
    ours = fresh_instance(tmp_path / "ours")
    (ours / "old.db").write_text("from the last demo")
    fresh_instance(ours)
    assert sorted(p.name for p in ours.iterdir()) == [DEMO_MARKER]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_serve_runs_gunicorn_on_127_0_0_1_and_answers_healthz(instance, tmp_path):
    port = _free_port()
    log = open(tmp_path / "serve.log", "wb")  # noqa: SIM115 (closed below)
    proc = subprocess.Popen(
        [sys.executable, "-m", "server.cli", "serve", "--port", str(port), "--workers", "2"],
        env=os.environ.copy(),
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=ROOT,
    )
    try:
        deadline, status = time.monotonic() + 60, None
        while time.monotonic() < deadline and status != 200:
            assert proc.poll() is None, (tmp_path / "serve.log").read_text()
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
                    status = r.status
            except OSError:
                time.sleep(0.3)
        assert status == 200, (tmp_path / "serve.log").read_text()
        assert (instance / "assay.db").exists()  # a fresh instance is migrated on first start
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
        log.close()
