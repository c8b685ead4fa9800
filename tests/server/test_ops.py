"""Operations: /healthz, /readyz, /metrics, structured logs, rate limits shared through Redis.

Real parts only: the app on SQLite and PostgreSQL, a real Redis (scripts/start-services.sh)
and a closed port on 127.0.0.1 for a queue that is down.
"""

from __future__ import annotations

import json
import logging
import os
from datetime import timedelta

import pytest
from prometheus_client.parser import text_string_to_metric_families

from graders.report import ErrorInfo, Report, Verdict
from server import create_app, leases, sweeper
from server import grading as g
from server.models import Submission, utcnow
from server.ops import ContextFilter, JsonFormatter, log_context
from server.queue import get_huey
from tests.server.conftest import drop_database

pytestmark = pytest.mark.databases

REDIS_URL = os.environ.get("ASSAY_TEST_REDIS_URL") or "redis://127.0.0.1:6379/0"
CLOSED_PORT_URL = "redis://127.0.0.1:9/0"  # discard port: nothing listens there


@pytest.fixture
def redis_url(skip_or_fail) -> str:
    """A Redis database of its own (15), emptied; fails under CI=true when Redis is down."""
    import redis

    url = REDIS_URL.rsplit("/", 1)[0] + "/15"
    try:
        redis.Redis.from_url(url).flushdb()
    except redis.RedisError as exc:
        skip_or_fail(f"Redis at {url} does not answer (scripts/start-services.sh): {exc}")
    return url


def test_healthz_and_readyz_answer_ok(client, database):
    assert client.get("/healthz").json == {"status": "ok"}
    assert client.get("/readyz").json == {"status": "ok"}


def test_readyz_says_the_queue_is_down(app_config):
    app_config.QUEUE_URL = CLOSED_PORT_URL
    app = create_app(app_config)
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert set(response.json["problems"]) == {"queue"}
    assert "Connection" in response.json["problems"]["queue"]


@pytest.mark.parametrize("database", ["postgresql"], indirect=True)
def test_readyz_says_the_database_is_gone(app, client, request):
    admin, _ = request.getfixturevalue("postgres_template")
    name = app.extensions["assay.engine"].url.database
    drop_database(admin, name)
    response = client.get("/readyz")
    assert response.status_code == 503
    assert set(response.json["problems"]) == {"database"}
    assert name in response.json["problems"]["database"]


def _report(status: str, passed: bool = True, code: str | None = None) -> Report:
    report = Report(
        challenge="lenet5-mnist", title="LeNet-5", dataset="mnist", tier="sample", status=status
    )
    if status == "graded":
        report.verdict = Verdict(passed=passed, checks=[])
    else:
        report.error = ErrorInfo(code=code, message=f"{code} happened")
    return report


def _queued(factory) -> int:
    with factory() as session:
        sub = Submission(
            challenge_slug="lenet5-mnist", filename="s.py", source=b"x", sha256="0" * 64, size=1
        )
        session.add(sub)
        grading = g.enqueue_submission(session, sub, {}, max_tries=2)
        session.commit()
        return grading.id


METRICS_TOKEN = "scraper-token-for-tests"


@pytest.fixture(autouse=True)
def metrics_token(app_config):
    """/metrics is served only with a token configured, and only to whoever sends it."""
    app_config.METRICS_TOKEN = METRICS_TOKEN


def _metrics(client) -> dict[str, dict[tuple, float]]:
    response = client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert response.status_code == 200
    assert response.content_type.startswith("text/plain")
    found: dict[str, dict[tuple, float]] = {}
    for family in text_string_to_metric_families(response.get_data(as_text=True)):
        for sample in family.samples:
            key = tuple(sorted(sample.labels.items()))
            found.setdefault(sample.name, {})[key] = sample.value
    return found


def test_metrics_count_the_queue_the_outcomes_the_durations_and_lease_expiries(
    app, client, database
):
    factory = app.extensions["assay.sessions"]
    ids = [_queued(factory) for _ in range(5)]
    start = utcnow() - timedelta(seconds=100)
    outcomes = [
        _report("graded", True),
        _report("graded", False),
        _report("failed", code="syntax_error"),
    ]
    for gid, report in zip(ids, outcomes, strict=False):
        with factory() as session:
            claim = leases.claim(session, gid, 30.0, now=start)
            assert leases.finish(session, claim, report, now=start + timedelta(seconds=42))
    # The fourth: its worker dies twice; the sweeper takes it back, then gives up on it.
    for _ in range(2):
        with factory() as session:
            assert leases.claim(session, ids[3], 1.0, now=utcnow() - timedelta(seconds=10))
        with factory() as session:
            sweeper.requeue_expired(session)
    # The fifth stays queued, its message waiting.
    m = _metrics(client)
    assert "assay_queue_depth" in m  # its value: test_queue_depth_is_what_waits_on_the_queue
    assert m["assay_gradings"][(("status", "queued"),)] == 1
    assert m["assay_gradings"][(("status", "failed"),)] == 2
    assert m["assay_gradings"][(("status", "graded"),)] == 2
    finished = m["assay_gradings_finished_total"]
    assert finished[(("outcome", "passed"),)] == 1
    assert finished[(("outcome", "below_bar"),)] == 1
    assert finished[(("outcome", "candidate_error"),)] == 1
    assert finished[(("outcome", "platform_error"),)] == 1
    assert m["assay_lease_expiries_total"][()] == 2
    histogram = m["assay_grading_duration_seconds_bucket"]
    assert histogram[(("le", "30.0"),)] == 0
    assert histogram[(("le", "60.0"),)] == 3
    assert m["assay_grading_duration_seconds_count"][()] == 3
    assert m["assay_grading_duration_seconds_sum"][()] == pytest.approx(126, abs=0.01)


def test_queue_depth_is_what_waits_on_the_queue(app, client):
    factory = app.extensions["assay.sessions"]
    huey = get_huey(app.config["INSTANCE_PATH"], app.config["QUEUE_URL"])
    huey.flush()
    for _ in range(3):
        _queued(factory)
    assert _metrics(client)["assay_queue_depth"][()] == 3
    huey.dequeue()
    assert _metrics(client)["assay_queue_depth"][()] == 2


def test_json_logs_carry_the_grading_and_submission_ids():
    records = []

    class Keep(logging.Handler):
        def emit(self, record):
            records.append(self.format(record))

    handler = Keep()
    handler.addFilter(ContextFilter())
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("assay.test.ops")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        with log_context(submission_id=7, grading_id=11):
            logger.info("grading %s started", 11)
        logger.info("between gradings")
    finally:
        logger.removeHandler(handler)
    inside, outside = (json.loads(line) for line in records)
    assert inside["message"] == "grading 11 started"
    assert (inside["submission_id"], inside["grading_id"]) == (7, 11)
    assert "grading_id" not in outside and outside["level"] == "INFO"


def test_metrics_need_the_bearer_token(client, database):
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics").headers["WWW-Authenticate"].startswith("Bearer")
    wrong = {"Authorization": "Bearer " + METRICS_TOKEN[:-1] + "x"}
    assert client.get("/metrics", headers=wrong).status_code == 401
    basic = {"Authorization": "Basic " + METRICS_TOKEN}
    assert client.get("/metrics", headers=basic).status_code == 401
    assert "assay_gradings" in _metrics(client)


def test_metrics_without_a_configured_token_are_not_served(app_config):
    app_config.METRICS_TOKEN = ""
    client = create_app(app_config).test_client()
    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", headers={"Authorization": "Bearer "}).status_code == 404


def test_login_limits_are_shared_by_processes_through_redis(app_config, redis_url, make_user):
    """Two app objects stand for two gunicorn workers: the limit counts across both."""
    app_config.QUEUE_URL = redis_url
    app_config.RATELIMIT_STORAGE_URI = redis_url
    app_config.LOGIN_RATE_LIMIT = "3 per minute"
    first, second = create_app(app_config), create_app(app_config)
    codes = []
    for app in (first, second, first, second):
        response = app.test_client().post(
            "/login", data={"email": "x@example.test", "password": "no"}
        )
        codes.append(response.status_code)
    assert codes[:3].count(429) == 0 and codes[3] == 429
    assert int(response.headers["Retry-After"]) > 0


def test_the_queue_redis_is_the_limiter_storage_by_default(monkeypatch, tmp_path):
    from server.config import Config

    monkeypatch.setenv("ASSAY_QUEUE_URL", "redis://127.0.0.1:6379/3")
    monkeypatch.delenv("ASSAY_RATELIMIT_STORAGE", raising=False)
    assert Config(tmp_path).RATELIMIT_STORAGE_URI == "redis://127.0.0.1:6379/3"
    monkeypatch.delenv("ASSAY_QUEUE_URL")
    uri = Config(tmp_path).RATELIMIT_STORAGE_URI
    assert uri == f"assay+sqlite://{tmp_path.resolve()}/ratelimit.db"


_LIMITED_LOGIN = """
import sys
from server import create_app
from server.config import TestConfig
from pathlib import Path
config = TestConfig(Path(sys.argv[1]), DATABASE_URL=sys.argv[2], AUTO_MIGRATE=False,
                    WTF_CSRF_ENABLED=False, LOGIN_RATE_LIMIT="3 per minute")
client = create_app(config).test_client()
response = client.post("/login", data={"email": "x@example.test", "password": "no"})
print(response.status_code, response.headers.get("Retry-After", "-"))
"""


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
def test_without_redis_the_login_limit_is_shared_by_processes_through_the_instance(
    app_config, database
):
    """Four separate Python processes (gunicorn workers) on one instance folder, no Redis:
    the fourth login attempt is refused with 429 and a Retry-After, whichever process."""
    import subprocess
    import sys

    assert app_config.RATELIMIT_STORAGE_URI.startswith("assay+sqlite://")
    answers = []
    for _ in range(4):
        run = subprocess.run(
            [
                sys.executable,
                "-c",
                _LIMITED_LOGIN,
                app_config.INSTANCE_PATH,
                app_config.DATABASE_URL,
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        answers.append(run.stdout.split())
    assert [code for code, _ in answers] == ["200", "200", "200", "429"]
    assert 0 < int(answers[3][1]) <= 60


def test_a_429_page_says_when_to_come_back(app_config):
    app_config.LOGIN_RATE_LIMIT = "1 per minute"
    client = create_app(app_config).test_client()
    form = {"email": "x@example.test", "password": "no"}
    assert client.post("/login", data=form).status_code == 200
    response = client.post("/login", data=form)
    assert response.status_code == 429
    assert 0 < int(response.headers["Retry-After"]) <= 60
    assert "Traceback" not in response.get_data(as_text=True)
