"""Operations: ``/readyz`` and ``/metrics`` for the web app, and structured logs.

``/healthz`` (in ``server/__init__``) says the process is up; ``/readyz`` says it can work:
the database answers a query and the queue answers a ping. A load balancer sends traffic
to a ready instance only; an orchestrator restarts one that is not healthy.

Logs: ``ASSAY_LOG_FORMAT=json`` writes one JSON object a line with ``submission_id`` and
``grading_id`` whenever the line was logged while a grading was being handled
(``log_context``), so a log store can follow one submission across web and workers.
"""

from __future__ import annotations

import contextvars
import hmac
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from flask import Blueprint, Response, abort, current_app, request

from sandbox import settings as declared

bp = Blueprint("ops", __name__)

_context: contextvars.ContextVar[dict | None] = contextvars.ContextVar(
    "assay_log_context", default=None
)


def _huey():
    from server.queue import get_huey

    return get_huey(current_app.config["INSTANCE_PATH"], current_app.config["QUEUE_URL"])


def check_database(engine: sa.Engine) -> str | None:
    """None when the database answers ``SELECT 1``, else why not."""
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except Exception as exc:
        return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
    return None


def check_queue(huey) -> str | None:
    """None when the queue answers (Redis: PING; SQLite: a count), else why not."""
    try:
        conn = getattr(huey.storage, "conn", None)
        if conn is not None and hasattr(conn, "ping"):
            conn.ping()
        else:
            huey.pending_count()
    except Exception as exc:
        return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
    return None


@bp.get("/readyz")
def readyz():
    problems = {}
    if (why := check_database(current_app.extensions["assay.engine"])) is not None:
        problems["database"] = why
    if (why := check_queue(_huey())) is not None:
        problems["queue"] = why
    if problems:
        return {"status": "unavailable", "problems": problems}, 503
    return {"status": "ok"}


def metrics_allowed(token: str, authorization: str) -> bool:
    """Whether ``authorization`` is ``Bearer <token>``; never with no token configured."""
    scheme, _, given = authorization.partition(" ")
    if not token or scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(given.strip().encode(), token.encode())


@bp.get("/metrics")
def metrics():
    from prometheus_client import CONTENT_TYPE_LATEST

    token = current_app.config.get("METRICS_TOKEN", "")
    if not token:
        abort(404)  # not configured: not served at all
    if not metrics_allowed(token, request.headers.get("Authorization", "")):
        return Response(
            "a bearer token is required\n",
            status=401,
            content_type="text/plain; charset=utf-8",
            headers={"WWW-Authenticate": 'Bearer realm="assay-metrics"'},
        )

    from server.prometheus import render

    body = render(current_app.extensions["assay.sessions"], _huey())
    return Response(body, content_type=CONTENT_TYPE_LATEST)


# -- structured logs -----------------------------------------------------------------------------


@contextmanager
def log_context(**ids) -> Iterator[None]:
    """Add ``ids`` (``grading_id=``, ``submission_id=``) to every log line inside the block."""
    current = _context.get() or {}
    token = _context.set({**current, **{k: v for k, v in ids.items() if v is not None}})
    try:
        yield
    finally:
        _context.reset(token)


class ContextFilter(logging.Filter):
    """Copies the current ``log_context`` ids onto each record."""

    def filter(self, record: logging.LogRecord) -> bool:
        for key, value in (_context.get() or {}).items():
            setattr(record, key, value)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message, ids, exception."""

    IDS = ("grading_id", "submission_id")

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in self.IDS:
            if hasattr(record, key):
                line[key] = getattr(record, key)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def configure_logging(level: int = logging.INFO, log_format: str | None = None) -> None:
    """Root logging for a server process: text, or JSON when ``log_format`` (default:
    ``ASSAY_LOG_FORMAT``) is ``json``."""
    handler = logging.StreamHandler()
    handler.addFilter(ContextFilter())
    if (log_format or declared.current().log_format) == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
