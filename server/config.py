"""The web app's Flask configuration, made from the settings (``sandbox.settings``, where every
``ASSAY_*`` variable is declared), with safe development defaults.

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

from sandbox import settings as declared
from server import ratelimit

DEFAULT_INSTANCE = "var/instance"
SECRET_FILE = "secret_key"


def instance_folder(settings=None) -> Path:
    """The instance folder named by ``ASSAY_INSTANCE`` (default ``var/instance``), created.

    ``settings``: the process's (default: the environment's, ``declared.current()``)."""
    settings = settings or declared.current()
    folder = Path(settings.instance or DEFAULT_INSTANCE).resolve()
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


class Config:
    """Flask's keys, made from ``settings`` (default: the environment's, parsed now).

    ``settings`` stays on the object (lower case, so Flask does not copy it into
    ``app.config``): ``create_app`` keeps it as ``app.extensions["assay.settings"]``."""

    TESTING = False

    def __init__(self, instance: Path | None = None, settings=None):
        self.settings = s = settings or declared.load()
        self.INSTANCE_PATH = str(instance.resolve() if instance else instance_folder(s))
        folder = Path(self.INSTANCE_PATH)
        folder.mkdir(parents=True, exist_ok=True)
        self.SECRET_KEY = s.secret_key or load_or_create_secret(folder)
        self.DATABASE_URL = s.database_url or f"sqlite:///{folder / 'assay.db'}"
        self.QUEUE_URL = s.queue_url
        #: Used in links sent by mail (the request's host is not trusted for that).
        self.BASE_URL = s.base_url.rstrip("/")
        #: ``outbox`` (stored, shown on an admin page) or ``smtp://host:port``.
        self.MAIL_URL = s.mail_url
        self.MAIL_SENDER = s.mail_sender
        self.AUTO_MIGRATE = s.auto_migrate
        # Uploads are checked against graders.submissions.MAX_BYTES (2 MB) with a clear
        # message; anything much larger is cut off by Werkzeug and gets the 413 page.
        self.MAX_CONTENT_LENGTH = 3 * 1024 * 1024
        self.SESSION_COOKIE_HTTPONLY = True
        self.SESSION_COOKIE_SAMESITE = "Lax"
        self.SESSION_COOKIE_SECURE = s.https
        self.REMEMBER_COOKIE_SECURE = self.SESSION_COOKIE_SECURE
        self.REMEMBER_COOKIE_HTTPONLY = True
        self.WTF_CSRF_TIME_LIMIT = None  # a candidate may keep a page open for hours
        # Limits must count across every gunicorn worker (memory:// counts per process): the
        # queue's Redis when there is one (several hosts share it), else a SQLite file in the
        # instance folder that every worker on this machine shares (server.ratelimit).
        redis_queue = self.QUEUE_URL if self.QUEUE_URL.startswith(("redis://", "rediss://")) else ""
        self.RATELIMIT_STORAGE_URI = (
            s.ratelimit_storage or redis_queue or ratelimit.instance_uri(folder)
        )
        #: X-RateLimit-* on limited routes and ``Retry-After`` on a 429.
        self.RATELIMIT_HEADERS_ENABLED = True
        self.LOGIN_RATE_LIMIT = s.login_rate_limit
        #: The bearer token a Prometheus scraper sends to ``/metrics``; without one the
        #: endpoint answers 404 to everybody (it is never public).
        self.METRICS_TOKEN = s.metrics_token
        #: Host names (comma-separated) a webhook may target although they resolve to a
        #: loopback, private or otherwise internal address: tests and internal deployments.
        self.WEBHOOK_ALLOW_HOSTS = ",".join(s.webhook_allow_hosts)
        self.BABEL_DEFAULT_LOCALE = "en"
        #: Seconds an upload that started before the time ran out may still arrive.
        self.UPLOAD_GRACE_SECONDS = s.upload_grace_seconds
        self.INVITATION_DAYS = s.invitation_days


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
