"""The web app, the worker and the commands read the settings once at start: a bad value stops
them with its sentence (no traceback), an unknown ``ASSAY_*`` name is warned about, and the
Flask keys the pages use still come from the environment."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from sandbox import settings
from server import create_app
from server.config import Config
from server.doctor import run_checks

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def instance_env(tmp_path, monkeypatch):
    """A fresh instance on SQLite, named by the environment alone."""
    monkeypatch.setenv("ASSAY_INSTANCE", str(tmp_path / "instance"))
    for name in ("ASSAY_DATABASE_URL", "ASSAY_QUEUE_URL", "ASSAY_SECRET_KEY"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path / "instance"


def test_create_app_reads_the_environment_once_into_its_settings(instance_env, monkeypatch):
    monkeypatch.setenv("ASSAY_UPLOAD_GRACE_SECONDS", "30")
    monkeypatch.setenv("ASSAY_WEBHOOK_ALLOW_HOSTS", "hooks.internal, ci.internal")
    monkeypatch.setenv("ASSAY_HTTPS", "on")
    monkeypatch.setenv("ASSAY_AUTO_MIGRATE", "0")
    app = create_app()
    try:
        found = app.extensions["assay.settings"]
        assert found.upload_grace_seconds == 30 and found.https is True
        # The Flask keys that views and tests use keep their names and types.
        assert app.config["UPLOAD_GRACE_SECONDS"] == 30
        assert app.config["WEBHOOK_ALLOW_HOSTS"] == "hooks.internal,ci.internal"
        assert app.config["SESSION_COOKIE_SECURE"] is True
        assert app.config["INSTANCE_PATH"] == str(instance_env.resolve())
        # Read once: a later change of the environment does not reach this app.
        monkeypatch.setenv("ASSAY_UPLOAD_GRACE_SECONDS", "99")
        assert app.extensions["assay.settings"].upload_grace_seconds == 30
    finally:
        app.extensions["assay.engine"].dispose()


def test_a_bad_value_stops_create_app_with_its_sentence(instance_env, monkeypatch):
    monkeypatch.setenv("ASSAY_UPLOAD_GRACE_SECONDS", "soon")
    with pytest.raises(settings.SettingsError) as caught:
        create_app()
    assert str(caught.value) == (
        "ASSAY_UPLOAD_GRACE_SECONDS must be a whole number of seconds, got 'soon'"
    )
    assert not (instance_env / "assay.db").exists()  # refused before touching the database


def test_an_unknown_name_is_logged_when_the_app_starts(instance_env, monkeypatch, caplog):
    monkeypatch.setenv("ASSAY_AUTO_MIGRATE", "0")
    monkeypatch.setenv("ASSAY_METRIC_TOKEN", "x")
    with caplog.at_level(logging.WARNING, logger="server"):
        app = create_app()
    app.extensions["assay.engine"].dispose()
    assert "ASSAY_METRIC_TOKEN is not an Assay setting" in caplog.text
    assert "did you mean ASSAY_METRICS_TOKEN?" in caplog.text


def test_a_given_config_keeps_its_own_settings(tmp_path):
    mine = settings.load({"ASSAY_INVITATION_DAYS": "3"})
    config = Config(tmp_path, settings=mine)
    assert config.INVITATION_DAYS == 3 and config.settings is mine


def test_doctor_names_a_bad_value_and_stops_there(instance_env, monkeypatch):
    monkeypatch.setenv("ASSAY_QUEUE_ORDER", "lottery")
    checks = run_checks()
    assert [c.name for c in checks] == ["settings"]
    assert not checks[0].ok
    assert "ASSAY_QUEUE_ORDER must be one of fair, fifo, got 'lottery'" in checks[0].line()


def _run(*argv: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *argv],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_worker_refuses_a_bad_value_without_a_traceback(instance_env):
    proc = _run("-m", "server.cli", "worker", ASSAY_LEASE_SECONDS="abc")
    assert proc.returncode != 0
    assert "ASSAY_LEASE_SECONDS must be a number of seconds, got 'abc'" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_the_assay_command_warns_about_a_typo_and_refuses_a_bad_value(instance_env, monkeypatch):
    from click.testing import CliRunner

    from graders.cli import main

    monkeypatch.setenv("ASSAY_DATA_DIRS", "/tmp")
    typo = CliRunner().invoke(main, ["challenges", "list"])
    assert typo.exit_code == 0, typo.output
    assert "warning: ASSAY_DATA_DIRS is not an Assay setting" in typo.stderr
    assert "did you mean ASSAY_DATA_DIR?" in typo.stderr
    monkeypatch.setenv("ASSAY_DATA_DIR", "")  # empty: the default
    monkeypatch.setenv("ASSAY_CHALLENGES_DIR", "~/nowhere")
    monkeypatch.setenv("ASSAY_SANDBOX_UID", "nobody")
    bad = CliRunner().invoke(main, ["challenges", "list"])
    assert bad.exit_code == 3 and not isinstance(bad.exception, settings.SettingsError)
    assert "error: ASSAY_SANDBOX_UID must be a whole number, got 'nobody'" in (bad.stderr)


def test_the_declared_queue_orders_are_the_ones_the_queue_knows():
    from server import fairqueue

    assert settings.BY_NAME["ASSAY_QUEUE_ORDER"].choices == fairqueue.ORDERS
    assert settings.BY_NAME["ASSAY_QUEUE_ORDER"].default == fairqueue.FAIR
