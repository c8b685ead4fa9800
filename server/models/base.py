"""The declarative base every model derives from, and the time helper rows use.

Plain SQLAlchemy 2 (typed ``Mapped[...]`` columns), not Flask-SQLAlchemy: the worker, the
CLI and periodic tasks use the same models outside any Flask request (``server.db``).
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase

# Stable constraint names, so Alembic migrations run the same on SQLite and PostgreSQL.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = sa.MetaData(naming_convention=NAMING)


def utcnow() -> datetime:
    """Now, in UTC, without tzinfo (SQLite stores naive datetimes; every time here is UTC)."""
    return datetime.now(UTC).replace(tzinfo=None)
