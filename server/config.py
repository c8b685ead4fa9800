"""Configuration from the environment, with safe development defaults.

The instance folder (database, queue, secret key) is ``var/instance`` unless
``ASSAY_INSTANCE`` names another. The secret key comes from ``ASSAY_SECRET_KEY`` or from a
file created once in the instance folder: never one per process, or several gunicorn workers
would each sign cookies with their own key and log people out at random.
"""

from __future__ import annotations

import os
import secrets
import time
from pathlib import Path

from server import ratelimit

DEFAULT_INSTANCE = "var/instance"
SECRET_FILE = "secret_key"


def instance_folder() -> Path:
    """The instance folder named by ``ASSAY_INSTANCE`` (default ``var/instance``), created."""
    folder = Path(os.environ.get("ASSAY_INSTANCE") or DEFAULT_INSTANCE).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def load_or_create_secret(folder: Path) -> str:
    """The secret key stored in ``folder``; the first caller creates it, atomically."""
    path = folder / SECRET_FILE
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(32))
    # A racing process may still be writing: wait for the 64 hex characters.
    for _ in range(100):
        key = path.read_text().strip()
        if len(key) >= 64:
            return key
        time.sleep(0.01)
    raise RuntimeError(f"{path}: secret key file is empty or truncated")


def _flag(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    return default if value is None else value.lower() in ("1", "true", "yes", "on")


class Config:
    """Settings read from the environment when the object is made."""

    TESTING = False

    def __init__(self, instance: Path | None = None):
        env = os.environ
        self.INSTANCE_PATH = str(instance.resolve() if instance else instance_folder())
        folder = Path(self.INSTANCE_PATH)
        folder.mkdir(parents=True, exist_ok=True)
        self.SECRET_KEY = env.get("ASSAY_SECRET_KEY") or load_or_create_secret(folder)
        self.DATABASE_URL = env.get("ASSAY_DATABASE_URL") or f"sqlite:///{folder / 'assay.db'}"
        self.QUEUE_URL = env.get("ASSAY_QUEUE_URL") or ""
        #: Used in links sent by mail (the request's host is not trusted for that).
        self.BASE_URL = (env.get("ASSAY_BASE_URL") or "http://127.0.0.1:8000").rstrip("/")
        #: ``outbox`` (stored, shown on an admin page) or ``smtp://host:port``.
        self.MAIL_URL = env.get("ASSAY_MAIL_URL") or "outbox"
        self.MAIL_SENDER = env.get("ASSAY_MAIL_SENDER") or "assay@localhost"
        self.AUTO_MIGRATE = _flag("ASSAY_AUTO_MIGRATE", True)
        # Uploads are checked against graders.submissions.MAX_BYTES (2 MB) with a clear
        # message; anything much larger is cut off by Werkzeug and gets the 413 page.
        self.MAX_CONTENT_LENGTH = 3 * 1024 * 1024
        self.SESSION_COOKIE_HTTPONLY = True
        self.SESSION_COOKIE_SAMESITE = "Lax"
        self.SESSION_COOKIE_SECURE = _flag("ASSAY_HTTPS")
        self.REMEMBER_COOKIE_SECURE = self.SESSION_COOKIE_SECURE
        self.REMEMBER_COOKIE_HTTPONLY = True
        self.WTF_CSRF_TIME_LIMIT = None  # a candidate may keep a page open for hours
        # Limits must count across every gunicorn worker (memory:// counts per process): the
        # queue's Redis when there is one (several hosts share it), else a SQLite file in the
        # instance folder that every worker on this machine shares (server.ratelimit).
        redis_queue = self.QUEUE_URL if self.QUEUE_URL.startswith(("redis://", "rediss://")) else ""
        self.RATELIMIT_STORAGE_URI = (
            env.get("ASSAY_RATELIMIT_STORAGE") or redis_queue or ratelimit.instance_uri(folder)
        )
        #: X-RateLimit-* on limited routes and ``Retry-After`` on a 429.
        self.RATELIMIT_HEADERS_ENABLED = True
        self.LOGIN_RATE_LIMIT = env.get("ASSAY_LOGIN_RATE_LIMIT") or "10 per minute"
        #: The bearer token a Prometheus scraper sends to ``/metrics``; without one the
        #: endpoint answers 404 to everybody (it is never public).
        self.METRICS_TOKEN = env.get("ASSAY_METRICS_TOKEN") or ""
        #: Host names (comma-separated) a webhook may target although they resolve to a
        #: loopback, private or otherwise internal address: tests and internal deployments.
        self.WEBHOOK_ALLOW_HOSTS = env.get("ASSAY_WEBHOOK_ALLOW_HOSTS") or ""
        self.BABEL_DEFAULT_LOCALE = "en"
        #: Seconds an upload that started before the time ran out may still arrive.
        self.UPLOAD_GRACE_SECONDS = int(env.get("ASSAY_UPLOAD_GRACE_SECONDS") or 120)
        self.INVITATION_DAYS = int(env.get("ASSAY_INVITATION_DAYS") or 14)


class TestConfig(Config):
    """A throwaway instance for tests: real migrations, CSRF on unless a test turns it off."""

    TESTING = True
    __test__ = False  # not a pytest test class, despite the name

    def __init__(self, instance: Path, **overrides):
        super().__init__(instance)
        self.SECRET_KEY = "test-secret-key-" + "0" * 48
        self.MAIL_URL = "outbox"
        for key, value in overrides.items():
            setattr(self, key, value)
