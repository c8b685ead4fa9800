"""Every ``ASSAY_*`` environment variable, declared once: its name, type, default, meaning and
the processes that read it. ``load(environ)`` parses them all into one frozen ``Settings``.

Why it lives in ``sandbox/``: the floors are ``server -> graders -> sandbox`` and a floor never
imports the one above it. The sandbox backends read some of these variables (the grader
image, the bwrap grader environment, the host uid the jobs run as), so the one list sits on
the lowest floor that needs it, and ``graders`` and ``server`` import it from here. This
module imports nothing of ours, so any module may import it.

When it is read: the web app (``create_app``) and the worker (``server.worker.main``) load it
once at start, refuse to start on a bad value with a message that names the variable and
what it takes (``ASSAY_LEASE_SECONDS must be a number of seconds, got 'abc'``), log a warning
for an ``ASSAY_*`` name nobody reads (with the nearest known name: typos), and keep the
object (``app.extensions["assay.settings"]``, the worker's ``settings``). Library code called
outside those two (the ``assay`` commands, the graders' functions, tests that set a variable
and then call one) asks ``current()``: the environment's settings, parsed again only when an
``ASSAY_*`` variable changed.

A declaration is a ``sandbox.envvar.Setting`` (type, parsing, the error's sentence); a bad
value raises ``SettingsError`` from there, which callers catch as ``settings.SettingsError``.
The settings table in ``docs/deploy.md`` is generated from ``SETTINGS`` and ``TOOLING``
(``scripts/settings_table.py``); a test fails when the two differ.
"""

from __future__ import annotations

import dataclasses
import difflib
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sandbox.envvar import PREFIX, Setting, SettingsError

REPO_ROOT = Path(__file__).resolve().parent.parent
#: Where the docs describe every variable (named in warnings and errors).
DOCS = "docs/deploy.md#settings"


def _seconds(name: str, default: float, meaning: str, readers=("worker",)) -> Setting:
    return Setting(name, "float", default, meaning, readers, minimum=0, unit="seconds")


#: Every variable the web app, the worker and the ``assay`` commands read.
SETTINGS: tuple[Setting, ...] = (
    # -- where things are
    Setting(
        "ASSAY_INSTANCE",
        "path",
        None,
        "folder of the SQLite database, the queue and the secret key",
        ("web", "worker", "cli"),
        default_text="`var/instance` (under the working folder); `assay demo`: `var/demo`",
    ),
    Setting(
        "ASSAY_DATABASE_URL",
        "url",
        None,
        "SQLAlchemy URL, e.g. `postgresql://user:password@host:5432/db` (psycopg 3; a plain "
        "`postgresql://` gets it)",
        ("web", "worker", "cli"),
        default_text="`sqlite:///<instance>/assay.db`",
    ),
    Setting(
        "ASSAY_QUEUE_URL",
        "url",
        "",
        "`redis://host:6379/0` (RedisHuey, several hosts); set the same on every web "
        "container and worker",
        ("web", "worker", "cli"),
        default_text="an SQLite file in the instance folder",
        schemes=("redis", "rediss", "unix"),
    ),
    Setting(
        "ASSAY_CHALLENGES_DIR",
        "path",
        REPO_ROOT / "challenges",
        "folder with one sub-folder per challenge and `theory/`",
        ("web", "worker", "cli"),
        default_text="`challenges/` in the source tree",
    ),
    Setting(
        "ASSAY_DATA_DIR",
        "path",
        REPO_ROOT / "var" / "data",
        "folder of the prepared datasets (`assay data prepare`)",
        ("web", "worker", "cli"),
        default_text="`var/data` in the source tree",
    ),
    # -- the web app
    Setting(
        "ASSAY_SECRET_KEY",
        "str",
        None,
        "signs cookies; the same on every web container, never one per process",
        ("web",),
        default_text="a file `secret_key` made once in the instance folder",
        secret=True,
    ),
    Setting(
        "ASSAY_BASE_URL",
        "url",
        "http://127.0.0.1:8000",
        "the address put in mailed links (the request's host is not trusted for that)",
        ("web", "worker", "cli"),
        schemes=("http", "https"),
    ),
    Setting(
        "ASSAY_MAIL_URL",
        "url",
        "outbox",
        "`outbox` (kept in the database, shown at `/admin/outbox`, and each recruiter's own "
        "at `/recruiter/outbox`) or `smtp://host:port`",
        ("web", "worker"),
        choices=("outbox",),
        schemes=("smtp",),
    ),
    Setting("ASSAY_MAIL_SENDER", "str", "assay@localhost", "From address", ("web", "worker")),
    Setting(
        "ASSAY_HTTPS",
        "bool",
        False,
        "`1` marks cookies Secure (behind an HTTPS proxy)",
        ("web",),
        default_text="off",
    ),
    Setting(
        "ASSAY_AUTO_MIGRATE",
        "bool",
        True,
        "migrate the database when the app starts",
        ("web",),
        default_text="on",
    ),
    Setting(
        "ASSAY_LOGIN_RATE_LIMIT",
        "str",
        "10 per minute",
        "per client address, on login POSTs (Flask-Limiter's notation)",
        ("web",),
    ),
    Setting(
        "ASSAY_RATELIMIT_STORAGE",
        "url",
        None,
        "where login attempts are counted (Flask-Limiter storage); every gunicorn worker "
        "(and, with Redis, every host) shares the count",
        ("web",),
        default_text="the queue's Redis, else `assay+sqlite://<instance>/ratelimit.db`",
    ),
    Setting(
        "ASSAY_METRICS_TOKEN",
        "str",
        "",
        "the bearer token a Prometheus scraper sends to `/metrics`; without it `/metrics` "
        "answers 404",
        ("web",),
        default_text="none",
        secret=True,
    ),
    Setting(
        "ASSAY_WEBHOOK_ALLOW_HOSTS",
        "list",
        (),
        "comma-separated host names a webhook may target although they resolve to an internal "
        "address (tests, internal deployments); set it on the web app and the workers",
        ("web", "worker"),
        default_text="none",
    ),
    Setting(
        "ASSAY_UPLOAD_GRACE_SECONDS",
        "int",
        120,
        "an upload arriving this long after the time ran out is still taken",
        ("web",),
        minimum=0,
        unit="seconds",
    ),
    Setting(
        "ASSAY_INVITATION_DAYS",
        "int",
        14,
        "how long a new candidate link is valid",
        ("web",),
        minimum=1,
        unit="days",
    ),
    Setting(
        "ASSAY_LOG_FORMAT",
        "choice",
        "text",
        "the worker's log: `json` writes one object a line, with `submission_id` and `grading_id`",
        ("worker",),
        choices=("text", "json"),
    ),
    # -- the queue and the worker
    Setting(
        "ASSAY_QUEUE_ORDER",
        "choice",
        "fair",
        "`fair`: lanes, round-robin across assessments, one grading in flight per candidate "
        "(docs/grading.md); `fifo`: by arrival. Set the same on every worker and web container",
        ("web", "worker"),
        choices=("fair", "fifo"),
    ),
    Setting(
        "ASSAY_WORKER_THREADS",
        "int",
        1,
        "gradings one worker runs at once (each a train and a predict sandbox)",
        ("worker",),
        minimum=1,
        unit="threads",
    ),
    Setting(
        "ASSAY_WORKER_GPUS",
        "int",
        None,
        "GPUs this worker offers",
        ("worker",),
        default_text="what `nvidia-smi -L` lists, else 0",
        minimum=0,
        unit="GPUs",
    ),
    Setting(
        "ASSAY_SANDBOX",
        "choice",
        "auto",
        "the sandbox backend (`auto`: Docker when an engine answers, else bubblewrap)",
        ("worker",),
        choices=("auto", "docker", "bwrap"),
    ),
    _seconds(
        "ASSAY_LEASE_SECONDS",
        60.0,
        "a grading whose lease is not renewed for this long is taken as a dead worker's and "
        "handed to another (well above the 5 s heartbeat)",
    ),
    Setting(
        "ASSAY_MAX_TRIES",
        "int",
        3,
        "claims a grading gets: each try a worker takes counts, and after this many an "
        "expired lease fails it as a platform error (docs/grading.md)",
        ("web", "worker"),
        minimum=1,
        unit="tries",
    ),
    _seconds("ASSAY_SWEEP_SECONDS", 10.0, "how often a worker looks for expired leases"),
    _seconds(
        "ASSAY_POLL_SECONDS",
        0.05,
        "with the SQLite queue where no wake-up socket can be bound (a path too long for "
        "AF_UNIX), how often an idle worker polls",
        ("web", "worker"),
    ),
    _seconds(
        "ASSAY_WAKE_CHECK_SECONDS",
        1.0,
        "with the SQLite queue, an idle worker is woken by each enqueue (a datagram socket per "
        "worker in the instance's `queue-wake/`); it still looks this often for a message "
        "sent without a wake-up",
        ("web", "worker"),
    ),
    _seconds(
        "ASSAY_EPOCH_SECONDS",
        1.0,
        "progress: at most one epoch event per this many seconds (the last one always)",
    ),
    _seconds(
        "ASSAY_SHUTDOWN_SECONDS",
        20.0,
        "how long a stopping worker waits for cancelled gradings to hand back their sandboxes",
    ),
    Setting(
        "ASSAY_WARM",
        "bool",
        True,
        "`0`: no warm train sandbox per grading slot, nor one for the dry runs",
        ("worker",),
        default_text="on",
    ),
    _seconds(
        "ASSAY_WARM_SECONDS",
        600.0,
        "an idle warm sandbox waiting longer than this for a grading is replaced",
    ),
    # -- the sandbox backends
    Setting(
        "ASSAY_GRADER_IMAGE",
        "str",
        "assay-grader:latest",
        "the docker backend's grader image",
        ("worker", "cli"),
    ),
    Setting(
        "ASSAY_GRADER_ENV",
        "path",
        REPO_ROOT / "var" / "grader-env",
        "the bwrap backend's grader environment (`make grader-env`)",
        ("worker", "cli"),
        default_text="`var/grader-env` in the source tree",
    ),
    Setting(
        "ASSAY_SANDBOX_UID",
        "int",
        65533,
        "host uid bwrap jobs run as when the grader is root (one that owns nothing)",
        ("worker", "cli"),
        minimum=0,
    ),
    Setting(
        "ASSAY_SANDBOX_GID",
        "int",
        None,
        "host gid bwrap jobs run as when the grader is root",
        ("worker", "cli"),
        default_text="`ASSAY_SANDBOX_UID`",
        minimum=0,
    ),
    # -- the demo
    Setting(
        "ASSAY_DEMO_GRADE",
        "bool",
        False,
        "`assay demo` also submits the reference solutions as a demo candidate",
        ("cli",),
        default_text="off",
    ),
)

#: Variables only the tests, the benchmarks and the scripts read (never the app): declared
#: so that the unknown-name warning knows them and the docs list them.
TOOLING: tuple[Setting, ...] = (
    Setting(
        "ASSAY_TEST_POSTGRES_URL",
        "url",
        None,
        "the PostgreSQL cluster the database tests use",
        ("tests",),
        default_text="the cluster `scripts/start-services.sh` starts",
    ),
    Setting(
        "ASSAY_TEST_REDIS_URL",
        "url",
        "redis://127.0.0.1:6379/0",
        "the Redis the queue tests use",
        ("tests",),
    ),
    Setting(
        "ASSAY_TEST_ALL_DATABASES",
        "bool",
        False,
        "`1`: slow database tests run on PostgreSQL too",
        ("tests",),
        default_text="off",
    ),
    Setting(
        "ASSAY_SCREENSHOTS",
        "path",
        None,
        "folder the browser tests write screenshots to (`docs/screenshots` refreshes the docs)",
        ("tests",),
        default_text="the test's temporary folder",
    ),
    Setting(
        "ASSAY_CHAOS_SUBMISSIONS",
        "int",
        24,
        "submissions in `tests/server/test_chaos.py`",
        ("tests",),
    ),
    Setting(
        "ASSAY_SERVER_IMAGE",
        "str",
        "assay-server:latest",
        "the server image the image tests start",
        ("tests",),
    ),
    Setting(
        "ASSAY_PROBE_PORT",
        "int",
        9,
        "port the hostile test submissions probe (set inside their sandbox)",
        ("tests",),
    ),
    Setting(
        "ASSAY_BENCH_POSTGRES_URL",
        "url",
        None,
        "the PostgreSQL cluster the benchmarks use",
        ("bench",),
        default_text="the local cluster",
    ),
    Setting("ASSAY_PG_PORT", "int", 5432, "PostgreSQL's port", ("scripts/start-services.sh",)),
    Setting("ASSAY_REDIS_PORT", "int", 6379, "Redis's port", ("scripts/start-services.sh",)),
)

BY_NAME: dict[str, Setting] = {s.name: s for s in SETTINGS}
KNOWN: frozenset[str] = frozenset(BY_NAME) | {s.name for s in TOOLING}

#: The parsed settings: one attribute per declaration (``Setting.attr``), frozen.
Settings = dataclasses.make_dataclass(
    "Settings",
    [(s.attr, Any, dataclasses.field(repr=not s.secret)) for s in SETTINGS],
    frozen=True,
    namespace={"__doc__": "Every setting's value (``sandbox.settings.SETTINGS``), frozen."},
)
Settings.__module__ = __name__


def load(environ: Mapping[str, str] | None = None) -> Any:
    """The ``Settings`` of ``environ`` (default ``os.environ``), every variable parsed.

    Raises ``SettingsError`` listing every bad value at once, each named."""
    env = os.environ if environ is None else environ
    values, problems = {}, []
    for setting in SETTINGS:
        try:
            values[setting.attr] = setting.parse(env.get(setting.name))
        except ValueError as exc:
            problems.append(str(exc))
    if problems:
        raise SettingsError(problems)
    return Settings(**values)


def unknown(environ: Mapping[str, str] | None = None) -> list[str]:
    """A warning for each ``ASSAY_*`` variable in ``environ`` that nothing reads, naming the
    nearest known one (a typo's likely meaning)."""
    env = os.environ if environ is None else environ
    lines = []
    for name in sorted(n for n in env if n.startswith(PREFIX) and n not in KNOWN):
        near = difflib.get_close_matches(name, sorted(KNOWN), n=1, cutoff=0.6)
        hint = f"did you mean {near[0]}?" if near else f"the known ones are in {DOCS}"
        lines.append(f"{name} is not an Assay setting and is ignored ({hint})")
    return lines


def load_at_start(log: logging.Logger, environ: Mapping[str, str] | None = None) -> Any:
    """``load(environ)`` for a process that starts (web app, worker, a command), logging a
    warning for each unknown ``ASSAY_*`` name first."""
    for line in unknown(environ):
        log.warning("%s", line)
    return load(environ)


_cached: tuple[tuple[tuple[str, str], ...], Any] | None = None


def current() -> Any:
    """The process environment's ``Settings``, parsed again only when an ``ASSAY_*``
    variable changed (a test's ``monkeypatch.setenv``, the demo naming its instance).

    A call costs a walk over the environment (about 40 us; a parse costs about 100)."""
    global _cached
    key = tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith(PREFIX)))
    cached = _cached
    if cached is None or cached[0] != key:
        cached = (key, load(dict(key)))
        _cached = cached
    return cached[1]
