"""Alembic, driven from code: the schema always comes from the migrations.

``upgrade(url)`` brings a database to the newest revision. Several gunicorn workers may start
at once on a fresh instance; a file lock beside the database lets one of them migrate while
the others wait, instead of racing to create the same tables.
"""

from __future__ import annotations

import fcntl
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(url: str) -> AlembicConfig:
    """An Alembic config for the database at ``url`` (no alembic.ini needed)."""
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("path_separator", "os")
    config.attributes["database_url"] = url
    return config


def upgrade(url: str, lock_folder: Path | None = None, revision: str = "head") -> None:
    """Migrate the database at ``url`` to ``revision``, one process at a time.

    On PostgreSQL the processes may be on several hosts (web and worker containers): a
    session-level advisory lock in the database itself serialises them there.
    """
    with _lock(lock_folder), _database_lock(url):
        command.upgrade(alembic_config(url), revision)


#: pg_advisory_lock key for migrations (any constant both sides agree on).
ADVISORY_KEY = 0x61737361  # "assa"


@contextmanager
def _database_lock(url: str):
    from server.db import make_engine, normalize_url

    if not normalize_url(url).startswith("postgresql"):
        yield
        return
    import sqlalchemy as sa

    engine = make_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT pg_advisory_lock(:key)"), {"key": ADVISORY_KEY})
            conn.commit()
            try:
                yield
            finally:
                conn.execute(sa.text("SELECT pg_advisory_unlock(:key)"), {"key": ADVISORY_KEY})
                conn.commit()
    finally:
        engine.dispose()


@contextmanager
def _lock(folder: Path | None):
    if folder is None:
        yield
        return
    with open(folder / "migrate.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
