"""Alembic environment: the URL comes from the caller (server.migrate) or the app's Config."""

from __future__ import annotations

from alembic import context

from server.db import make_engine
from server.models import Base

config = context.config


def _url() -> str:
    url = config.attributes.get("database_url")
    if url:
        return url
    from server.config import Config

    return Config().DATABASE_URL


def run_offline() -> None:
    context.configure(url=_url(), target_metadata=Base.metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    engine = make_engine(_url())
    with engine.connect() as connection:
        if connection.dialect.name == "sqlite":
            # Batch mode copies a table and drops the old one; with foreign keys on (every
            # connection of ours turns them on), dropping `assessments` to remove a column
            # cascades into every submission and grading. The pragma is ignored inside a
            # transaction, so it is set before the migrations' transaction begins.
            connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
            connection.commit()
        # Batch mode: SQLite cannot ALTER most things, so Alembic copies tables instead.
        context.configure(
            connection=connection, target_metadata=Base.metadata, render_as_batch=True
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
