"""The one list of ``ASSAY_*`` variables (``sandbox/settings.py``): parsing, errors that name
the variable, typo help, the docs' table, and no module reading a variable behind its back."""

from __future__ import annotations

import dataclasses
import importlib.util
import re
from pathlib import Path

import pytest

from sandbox import envvar, settings
from sandbox.registry import BACKENDS

ROOT = Path(__file__).resolve().parents[2]
#: Names the docs show on purpose although nothing reads them (the typo example).
DOC_EXAMPLES = {"ASSAY_LEASE_SECOND"}
TOKEN = re.compile(r"ASSAY_[A-Z0-9_]*[A-Z0-9]")
#: A read of an ASSAY_* variable (get, getenv, a subscript not assigned to); writes for child
#: processes (``os.environ[...] = ``, ``setdefault``, ``{**os.environ, ...}``) are not reads.
READS = re.compile(
    r"""(?:environ\.get|getenv)\(\s*[^)]*ASSAY_"""
    r"""|environ\[\s*["']ASSAY_[A-Z0-9_]+["']\s*\](?!\s*=[^=])"""
)


def test_every_declaration_is_complete_and_its_default_fits_its_type():
    names = [s.name for s in (*settings.SETTINGS, *settings.TOOLING)]
    assert len(names) == len(set(names))
    for s in settings.SETTINGS:
        assert s.name.startswith("ASSAY_") and s.name == s.name.upper(), s.name
        assert s.kind in envvar.KINDS, s.name
        assert s.meaning and s.readers and set(s.readers) <= set(envvar.READERS), s.name
        assert (s.kind == "choice") <= bool(s.choices), s.name
        if s.default is None:
            assert s.default_text, f"{s.name}: a worked-out default must say how"
        elif s.kind == "choice":
            assert s.default in s.choices
        elif s.kind in ("int", "float", "bool", "path", "list"):
            expected = {"int": int, "float": float, "bool": bool, "path": Path, "list": tuple}
            assert isinstance(s.default, expected[s.kind]), s.name


def test_the_sandbox_choices_are_the_registered_backends():
    assert set(settings.BY_NAME["ASSAY_SANDBOX"].choices) == {"auto", *BACKENDS}


@pytest.mark.parametrize(
    ("attr", "value"),
    [
        ("lease_seconds", 60.0),
        ("max_tries", 3),
        ("sweep_seconds", 10.0),
        ("worker_threads", 1),
        ("poll_seconds", 0.05),
        ("wake_check_seconds", 1.0),
        ("epoch_seconds", 1.0),
        ("shutdown_seconds", 20.0),
        ("sandbox", "auto"),
        ("queue_order", "fair"),
        ("warm", True),
        ("warm_seconds", 600.0),
        ("grader_image", "assay-grader:latest"),
        ("grader_env", settings.REPO_ROOT / "var" / "grader-env"),
        ("sandbox_uid", 65533),
        ("sandbox_gid", None),
        ("challenges_dir", settings.REPO_ROOT / "challenges"),
        ("data_dir", settings.REPO_ROOT / "var" / "data"),
        ("queue_url", ""),
        ("base_url", "http://127.0.0.1:8000"),
        ("mail_url", "outbox"),
        ("mail_sender", "assay@localhost"),
        ("auto_migrate", True),
        ("https", False),
        ("login_rate_limit", "10 per minute"),
        ("metrics_token", ""),
        ("webhook_allow_hosts", ()),
        ("upload_grace_seconds", 120),
        ("invitation_days", 14),
        ("log_format", "text"),
        ("worker_gpus", None),
        ("instance", None),
        ("database_url", None),
        ("secret_key", None),
        ("demo_grade", False),
    ],
)
def test_an_empty_environment_gets_the_defaults(attr, value):
    assert getattr(settings.load({}), attr) == value


@pytest.mark.parametrize(
    ("name", "raw", "attr", "value"),
    [
        ("ASSAY_LEASE_SECONDS", " 2.5 ", "lease_seconds", 2.5),
        ("ASSAY_WORKER_THREADS", "4", "worker_threads", 4),
        ("ASSAY_WARM", "0", "warm", False),
        ("ASSAY_WARM", "off", "warm", False),
        ("ASSAY_HTTPS", "YES", "https", True),
        ("ASSAY_QUEUE_ORDER", " FIFO", "queue_order", "fifo"),
        ("ASSAY_LOG_FORMAT", "JSON", "log_format", "json"),
        (
            "ASSAY_WEBHOOK_ALLOW_HOSTS",
            "a.internal, ,b.internal",
            "webhook_allow_hosts",
            ("a.internal", "b.internal"),
        ),
        ("ASSAY_DATA_DIR", "/srv/data", "data_dir", Path("/srv/data")),
        ("ASSAY_QUEUE_URL", "redis://h:6379/0", "queue_url", "redis://h:6379/0"),
        ("ASSAY_MAIL_URL", "smtp://mail:25", "mail_url", "smtp://mail:25"),
        ("ASSAY_WORKER_GPUS", "0", "worker_gpus", 0),
        ("ASSAY_SECRET_KEY", " padded key ", "secret_key", " padded key "),
        ("ASSAY_MAX_TRIES", "", "max_tries", 3),  # empty: the default, as unset
    ],
)
def test_values_parse_to_their_type(name, raw, attr, value):
    assert getattr(settings.load({name: raw}), attr) == value


@pytest.mark.parametrize(
    ("name", "raw", "message"),
    [
        (
            "ASSAY_LEASE_SECONDS",
            "abc",
            "ASSAY_LEASE_SECONDS must be a number of seconds, got 'abc'",
        ),
        (
            "ASSAY_UPLOAD_GRACE_SECONDS",
            "2.5",
            "ASSAY_UPLOAD_GRACE_SECONDS must be a whole number of seconds, got '2.5'",
        ),
        ("ASSAY_WORKER_THREADS", "0", "ASSAY_WORKER_THREADS must be at least 1, got '0'"),
        ("ASSAY_SWEEP_SECONDS", "-1", "ASSAY_SWEEP_SECONDS must be at least 0, got '-1'"),
        (
            "ASSAY_WARM",
            "maybe",
            "ASSAY_WARM must be one of 1, true, yes, on or 0, false, no, off, got 'maybe'",
        ),
        (
            "ASSAY_QUEUE_ORDER",
            "lottery",
            "ASSAY_QUEUE_ORDER must be one of fair, fifo, got 'lottery'",
        ),
        (
            "ASSAY_QUEUE_URL",
            "http://h",
            "ASSAY_QUEUE_URL must be one of redis://..., rediss://..., unix://..., got 'http://h'",
        ),
        (
            "ASSAY_MAIL_URL",
            "mail.example",
            "ASSAY_MAIL_URL must be one of outbox, smtp://..., got 'mail.example'",
        ),
        (
            "ASSAY_DATABASE_URL",
            "assay.db",
            "ASSAY_DATABASE_URL must be one of a URL (scheme://...), got 'assay.db'",
        ),
        (
            "ASSAY_SANDBOX",
            "podman",
            "ASSAY_SANDBOX must be one of auto, docker, bwrap, got 'podman'",
        ),
    ],
)
def test_a_bad_value_is_refused_with_a_sentence_that_names_it(name, raw, message):
    with pytest.raises(settings.SettingsError) as caught:
        settings.load({name: raw})
    assert str(caught.value) == message
    assert isinstance(caught.value, ValueError)


def test_every_bad_value_is_named_at_once():
    with pytest.raises(settings.SettingsError) as caught:
        settings.load({"ASSAY_MAX_TRIES": "many", "ASSAY_WARM": "2", "ASSAY_HTTPS": "1"})
    assert [p.split()[0] for p in caught.value.problems] == ["ASSAY_MAX_TRIES", "ASSAY_WARM"]


def test_an_unknown_name_gets_the_nearest_known_one():
    env = {
        "ASSAY_LEASE_SECOND": "5",
        "ASSAY_WOKRER_THREADS": "2",
        "ASSAY_XYZZY": "1",
        "ASSAY_LEASE_SECONDS": "5",  # known: no warning
        "ASSAY_TEST_POSTGRES_URL": "postgresql://x/y",  # the tests': no warning
        "PATH": "/usr/bin",
    }
    lines = settings.unknown(env)
    assert lines == [
        "ASSAY_LEASE_SECOND is not an Assay setting and is ignored "
        "(did you mean ASSAY_LEASE_SECONDS?)",
        "ASSAY_WOKRER_THREADS is not an Assay setting and is ignored "
        "(did you mean ASSAY_WORKER_THREADS?)",
        f"ASSAY_XYZZY is not an Assay setting and is ignored (the known ones are in {settings.DOCS})",
    ]


def test_load_at_start_logs_the_unknown_names(caplog):
    import logging

    log = logging.getLogger("test.settings")
    with caplog.at_level(logging.WARNING, logger="test.settings"):
        found = settings.load_at_start(log, {"ASSAY_WARM_SECOND": "3"})
    assert found.warm_seconds == 600.0
    assert "did you mean ASSAY_WARM_SECONDS?" in caplog.text


def test_current_follows_the_environment_and_parses_once_per_change(monkeypatch):
    monkeypatch.setenv("ASSAY_EPOCH_SECONDS", "3")
    first = settings.current()
    assert first.epoch_seconds == 3.0
    assert settings.current() is first  # unchanged environment: the same object
    monkeypatch.setenv("ASSAY_EPOCH_SECONDS", "4")
    assert settings.current().epoch_seconds == 4.0
    monkeypatch.setenv("ASSAY_EPOCH_SECONDS", "soon")
    with pytest.raises(settings.SettingsError, match="ASSAY_EPOCH_SECONDS"):
        settings.current()


def test_settings_are_frozen_and_keep_secrets_out_of_their_repr():
    found = settings.load({"ASSAY_SECRET_KEY": "s3cret-value", "ASSAY_METRICS_TOKEN": "t0ken"})
    with pytest.raises(dataclasses.FrozenInstanceError):
        found.lease_seconds = 1.0
    assert "s3cret-value" not in repr(found) and "t0ken" not in repr(found)
    assert dataclasses.replace(found, lease_seconds=5.0).lease_seconds == 5.0


def _python_files(*tops: str) -> list[Path]:
    return [p for top in tops for p in sorted((ROOT / top).rglob("*.py"))]


def test_no_module_reads_an_assay_variable_but_the_settings():
    found = []
    for path in _python_files("server", "graders", "sandbox"):
        if path == ROOT / "sandbox" / "settings.py":
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if READS.search(line):
                found.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert found == [], "read through sandbox.settings instead:\n" + "\n".join(found)


def test_the_check_sees_a_read_behind_the_settings_back():
    assert READS.search('x = os.environ.get("ASSAY_WARM", "1")')
    assert READS.search("x = os.getenv('ASSAY_DATA_DIR')")
    assert READS.search('if os.environ["ASSAY_HTTPS"] == "1":')
    assert not READS.search('os.environ["ASSAY_INSTANCE"] = str(folder)')  # a write
    assert not READS.search('os.environ.setdefault("ASSAY_BASE_URL", base)')  # for a child
    assert not READS.search('env = {**os.environ, "ASSAY_SANDBOX": sandbox}')  # a child's


def test_every_assay_name_in_the_tree_is_declared():
    files = [
        *_python_files("server", "graders", "sandbox", "bench", "scripts"),
        *sorted((ROOT / "docs").glob("*.md")),
        *sorted((ROOT / "scripts").glob("*.sh")),
        ROOT / "README.md",
        ROOT / "Dockerfile",
        ROOT / "docker-compose.yml",
        ROOT / "Makefile",
    ]
    undeclared = {
        f"{name} ({path.relative_to(ROOT)})"
        for path in files
        for name in TOKEN.findall(path.read_text(encoding="utf-8"))
        if name not in settings.KNOWN | DOC_EXAMPLES
    }
    assert undeclared == set(), "declare them in sandbox/settings.py"


def test_the_docs_table_is_generated_from_the_declarations():
    spec = importlib.util.spec_from_file_location(
        "settings_table", ROOT / "scripts/settings_table.py"
    )
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    text = script.DOC.read_text(encoding="utf-8")
    assert script.rewritten(text) == text, "run: .venv/bin/python scripts/settings_table.py"
    for setting in (*settings.SETTINGS, *settings.TOOLING):
        assert f"| `{setting.name}` |" in text
    assert script.main(["--check"]) == 0
