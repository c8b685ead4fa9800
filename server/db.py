"""Engine and sessions, for the web app, the worker and the CLI alike.

SQLite (the embedded default) gets WAL, a busy timeout and foreign keys on every
connection, so several gunicorn workers and the grading worker can share one file.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

BUSY_TIMEOUT_MS = 15_000


def make_engine(url: str, **kwargs) -> sa.Engine:
    """An engine for ``url``; SQLite connections are set up for concurrent use.

    A plain ``postgresql://`` (or ``postgres://``) URL gets the psycopg 3 driver: SQLAlchemy's
    default for it is psycopg2, which is not installed. Connections are checked before use
    (``pool_pre_ping``), so a restarted PostgreSQL costs one reconnect, not an error page.
    """
    url = normalize_url(url)
    if url.startswith("postgresql"):
        kwargs.setdefault("pool_pre_ping", True)
    engine = sa.create_engine(url, **kwargs)
    if engine.dialect.name == "sqlite":
        sa.event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def normalize_url(url: str) -> str:
    """``url`` with the psycopg 3 driver named when it is a PostgreSQL URL without one."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def make_session_factory(engine: sa.Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session that commits on success and rolls back on any exception."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def after_commit(
    session: Session, key: str, items: list, send: Callable[[Session, list], None]
) -> None:
    """Hold ``items`` under ``key`` in ``session`` and call ``send(session, held)`` once the
    session commits; a rollback drops them. What is queued (gradings, dry runs, webhook
    deliveries) must exist in the database before a worker looks for it, hence after commit.
    """
    held = session.info.setdefault(key, [])
    if not session.info.get(key + ".hooked"):

        def _send(committed: Session) -> None:
            ready, committed.info[key] = committed.info.get(key, []), []
            if ready:
                send(committed, ready)

        def _drop(rolled_back: Session, _previous) -> None:
            rolled_back.info[key] = []

        sa.event.listen(session, "after_commit", _send)
        sa.event.listen(session, "after_soft_rollback", _drop)
        session.info[key + ".hooked"] = True
    held.extend(items)
