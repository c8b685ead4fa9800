"""Fixtures for the web app, the worker and the queue: a migrated instance per test.

The schema comes from the Alembic migrations: they run once per session into a template
database, which each test copies (migrating per test would cost a second each).
Fixture names are a contract with the worker's tests: ``app``, ``db``, ``client``,
``make_user``, ``make_assessment``, ``make_invitation`` (returns ``(invitation, token)``)
and ``login(client, user)``.
"""

from __future__ import annotations

import itertools
import shutil
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from server import create_app
from server.config import TestConfig
from server.migrate import upgrade
from server.models import Assessment, AssessmentChallenge, Invitation, User, utcnow

PASSWORD = "correct horse battery staple"
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


@pytest.fixture
def app_config(
    tmp_path: Path, migrated_template: Path, monkeypatch: pytest.MonkeyPatch
) -> TestConfig:
    """The test app's config; change it before the first use of ``app``.

    ``ASSAY_INSTANCE`` points at the test's instance too, so the queue (``server.queue``
    reads the environment) lives beside the test's database, not in var/instance.
    """
    instance = tmp_path / "instance"
    instance.mkdir()
    monkeypatch.setenv("ASSAY_INSTANCE", str(instance))
    monkeypatch.delenv("ASSAY_QUEUE_URL", raising=False)
    monkeypatch.delenv("ASSAY_DATABASE_URL", raising=False)
    shutil.copyfile(migrated_template, instance / "assay.db")
    return TestConfig(
        instance,
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
