"""Fixtures for the web app, the worker and the queue: a migrated instance per test.

The schema comes from the Alembic migrations: they run once per session into a template
database, which each test copies (migrating per test would cost a second each).
Fixture names are a contract with the worker's tests: ``app``, ``db``, ``client``,
``make_user``, ``make_assessment``, ``make_invitation`` (returns ``(invitation, token)``)
and ``login(client, user)``.

Two databases: a test module marked ``pytest.mark.databases`` runs its fast tests on SQLite
and on PostgreSQL (``ASSAY_TEST_POSTGRES_URL``, default the cluster ``scripts/start-services.sh``
starts on 127.0.0.1); ``database_url`` is the test's own fresh, migrated database either way.
Its slow tests stay on SQLite unless ``ASSAY_TEST_ALL_DATABASES=1`` (CI time).
"""

from __future__ import annotations

import itertools
import os
import shutil
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from server import create_app
from server.config import TestConfig
from server.migrate import upgrade
from server.models import Assessment, AssessmentChallenge, Invitation, User, utcnow

PASSWORD = "correct horse battery staple"
#: Debian's chromium: Playwright's own browser download is not reachable here.
CHROMIUM = Path("/usr/bin/chromium")
_ids = itertools.count(1)


@pytest.fixture(scope="session", autouse=True)
def cheap_password_hashing() -> Iterator[None]:
    """argon2id with small costs: tests log in hundreds of times (production keeps the defaults)."""
    from argon2 import PasswordHasher

    from server import security

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(security, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024))
        yield


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database file migrated to head by Alembic, copied by each test."""
    folder = tmp_path_factory.mktemp("template")
    path = folder / "assay.db"
    upgrade(f"sqlite:///{path}", folder)
    return path


DATABASES = ("sqlite", "postgresql")
POSTGRES_URL = "postgresql://assay:assay@127.0.0.1:5432/assay"


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "database" not in metafunc.fixturenames:
        return
    if metafunc.definition.get_closest_marker("databases") is None:
        return
    for mark in metafunc.definition.iter_markers("parametrize"):
        if "database" in str(mark.args[0]):  # the test chose its database itself
            return
    slow = metafunc.definition.get_closest_marker("slow") is not None
    if slow and os.environ.get("ASSAY_TEST_ALL_DATABASES") != "1":
        return
    metafunc.parametrize("database", DATABASES, indirect=True)


@pytest.fixture
def database(request: pytest.FixtureRequest) -> str:
    """``sqlite`` or ``postgresql``: which database this test runs on (SQLite by default)."""
    return getattr(request, "param", "sqlite")


@pytest.fixture(scope="session")
def postgres_template(skip_or_fail) -> Iterator[tuple[sa.Engine, str]]:
    """A PostgreSQL database migrated to head by Alembic, copied by each test (``TEMPLATE``)."""
    from server.db import make_engine

    url = os.environ.get("ASSAY_TEST_POSTGRES_URL") or POSTGRES_URL
    admin = make_engine(url, isolation_level="AUTOCOMMIT", pool_pre_ping=True)
    try:
        with admin.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except Exception as exc:
        admin.dispose()
        skip_or_fail(f"PostgreSQL at {url} does not answer (scripts/start-services.sh): {exc}")
    name = f"assay_template_{os.getpid()}"
    with admin.connect() as conn:
        conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        conn.execute(sa.text(f"CREATE DATABASE {name}"))
    template_url = admin.url.set(database=name)
    upgrade(template_url.render_as_string(hide_password=False))
    yield admin, name
    drop_database(admin, name)
    admin.dispose()


def drop_database(admin: sa.Engine, name: str) -> None:
    """``DROP DATABASE ... WITH (FORCE)``, retried while PostgreSQL's autovacuum works on it.

    FORCE ends the other sessions on the database, but an autovacuum worker belongs to the
    server's superuser, which the test role may not signal: the drop then fails with
    InsufficientPrivilege until the worker is done with it (a fraction of a second)."""
    import psycopg

    for attempt in itertools.count():
        try:
            with admin.connect() as conn:
                conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            return
        except sa.exc.DBAPIError as exc:
            if not isinstance(exc.orig, psycopg.errors.InsufficientPrivilege) or attempt >= 60:
                raise
            time.sleep(0.25)


@pytest.fixture
def database_url(database: str, tmp_path: Path, migrated_template: Path, request) -> Iterator[str]:
    """A fresh database migrated to head, on the test's ``database``; dropped afterwards."""
    if database == "sqlite":
        folder = tmp_path / "instance"
        folder.mkdir(exist_ok=True)
        shutil.copyfile(migrated_template, folder / "assay.db")
        yield f"sqlite:///{folder / 'assay.db'}"
        return
    admin, template = request.getfixturevalue("postgres_template")
    name = f"assay_test_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(sa.text(f"CREATE DATABASE {name} TEMPLATE {template}"))
    yield admin.url.set(database=name).render_as_string(hide_password=False)
    drop_database(admin, name)


@pytest.fixture
def app_config(tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch) -> TestConfig:
    """The test app's config; change it before the first use of ``app``.

    ``ASSAY_INSTANCE`` points at the test's instance too, so the queue (``server.queue``
    reads the environment) lives beside the test's database, not in var/instance;
    ``ASSAY_DATABASE_URL`` names the test's database.
    """
    instance = tmp_path / "instance"
    instance.mkdir(exist_ok=True)
    monkeypatch.setenv("ASSAY_INSTANCE", str(instance))
    monkeypatch.delenv("ASSAY_QUEUE_URL", raising=False)
    # Processes the test starts (a worker) find the same database through the environment.
    monkeypatch.setenv("ASSAY_DATABASE_URL", database_url)
    return TestConfig(
        instance,
        DATABASE_URL=database_url,
        AUTO_MIGRATE=False,
        WTF_CSRF_ENABLED=False,
        LOGIN_RATE_LIMIT="1000 per minute",
    )


@pytest.fixture
def app(app_config: TestConfig) -> Iterator[Flask]:
    app = create_app(app_config)
    yield app
    app.extensions["assay.engine"].dispose()


@pytest.fixture
def db(app: Flask) -> Iterator[Session]:
    session = app.extensions["assay.sessions"]()
    yield session
    session.close()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def make_user(db: Session) -> Callable[..., User]:
    from server.security import hash_password

    hashed = hash_password(PASSWORD)  # argon2 is slow on purpose: hash once per test

    def make(**overrides) -> User:
        n = next(_ids)
        password = overrides.pop("password", None)
        fields = {"email": f"user{n}@example.test", "name": f"User {n}", "role": "recruiter"}
        fields.update(overrides)
        user = User(password_hash=hash_password(password) if password else hashed, **fields)
        db.add(user)
        db.commit()
        return user

    return make


@pytest.fixture
def make_assessment(db: Session, make_user) -> Callable[..., Assessment]:
    def make(**overrides) -> Assessment:
        owner = overrides.pop("owner", None) or make_user(role="recruiter")
        slugs = overrides.pop("challenges", ["lenet5-mnist"])
        fields = {
            "title": f"Assessment {next(_ids)}",
            "time_limit_minutes": 120,
            "attempt_limit": 3,
            "theory_question_ids": ["class-imbalance", "evaluation-metrics"],
        }
        fields.update(overrides)
        assessment = Assessment(
            owner_id=owner.id,
            challenges=[
                AssessmentChallenge(challenge_slug=slug, position=i) for i, slug in enumerate(slugs)
            ],
            **fields,
        )
        db.add(assessment)
        db.commit()
        return assessment

    return make


@pytest.fixture
def make_invitation(db: Session, make_assessment) -> Callable[..., tuple[Invitation, str]]:
    from server.invitations import new_token

    def make(**overrides) -> tuple[Invitation, str]:
        assessment = overrides.pop("assessment", None) or make_assessment()
        token, digest = new_token()
        n = next(_ids)
        fields = {
            "candidate_name": f"Candidate {n}",
            "candidate_email": f"candidate{n}@example.test",
            "expires_at": utcnow() + timedelta(days=14),
        }
        fields.update(overrides)
        invitation = Invitation(assessment_id=assessment.id, token_hash=digest, **fields)
        db.add(invitation)
        db.commit()
        return invitation, token

    return make


@pytest.fixture
def login() -> Callable[[FlaskClient, User], None]:
    """Log ``user`` in through the real login form (password: ``PASSWORD``)."""

    def do(client: FlaskClient, user: User, password: str = PASSWORD) -> None:
        response = client.post("/login", data={"email": user.email, "password": password})
        assert response.status_code == 302, response.get_data(as_text=True)[:500]

    return do


@pytest.fixture
def live(app: Flask, skip_or_fail) -> Iterator[str]:
    """The test's app served on a free 127.0.0.1 port in a thread, for Playwright in
    Debian's chromium (``CHROMIUM``); its base URL. A missing browser or playwright package
    fails under CI=true."""
    if not CHROMIUM.exists():
        skip_or_fail("Debian's chromium is not installed (apt-get install chromium)")
    try:
        import playwright  # noqa: F401
    except ImportError:
        skip_or_fail("the playwright package is not installed")
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
