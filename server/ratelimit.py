"""A rate-limit store that every gunicorn worker of one instance shares: a SQLite file.

Flask-Limiter's ``memory://`` counts per process, so with four gunicorn workers a login limit
of 10 a minute was really 40, and a restart forgot it. Redis is the store when the queue uses
Redis (``server.config``); without Redis, this storage keeps the counters in
``<instance>/ratelimit.db``, which every worker on the machine opens. It registers the scheme
``assay+sqlite`` with the ``limits`` library (a ``Storage`` subclass is registered by its
``STORAGE_SCHEME``), so ``RATELIMIT_STORAGE_URI = "assay+sqlite:////abs/path/ratelimit.db"``.

It implements what the fixed-window strategy (Flask-Limiter's default) needs: ``incr`` with
the window's expiry, ``get``, ``get_expiry``, ``clear``, ``reset`` and ``check``. Each call
opens its own connection (cheap for a file, and safe across threads and forks); ``incr``
runs in one ``BEGIN IMMEDIATE`` transaction, so two workers never lose a count.
"""

from __future__ import annotations

import sqlite3
import time
from contextlib import closing, contextmanager
from pathlib import Path
from urllib.parse import urlsplit

from limits.storage import Storage

SCHEME = "assay+sqlite"
FILENAME = "ratelimit.db"


def instance_uri(folder: Path | str) -> str:
    """The storage URI of the instance folder's shared counters file."""
    return f"{SCHEME}://{Path(folder).resolve() / FILENAME}"


class SqliteStorage(Storage):
    """Fixed-window counters in one SQLite file: ``assay+sqlite:///<absolute path>``."""

    STORAGE_SCHEME = [SCHEME]

    def __init__(self, uri: str, wrap_exceptions: bool = False, **options) -> None:
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)
        path = urlsplit(uri).path
        if not path.startswith("/"):
            raise ValueError(f"{uri}: the rate-limit file must be an absolute path")
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._transaction() as conn:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS counters ("
                " key TEXT PRIMARY KEY, value INTEGER NOT NULL, expires REAL NOT NULL)"
            )

    @property
    def base_exceptions(self) -> type[Exception]:
        return sqlite3.Error

    @contextmanager
    def _transaction(self):
        # The timeout waits for another worker's write instead of failing at once.
        with closing(sqlite3.connect(self.path, timeout=10, isolation_level=None)) as conn:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def incr(self, key: str, expiry: float, amount: int = 1) -> int:
        now = time.time()
        with self._transaction() as conn:
            conn.execute("DELETE FROM counters WHERE key = ? AND expires <= ?", (key, now))
            conn.execute(
                "INSERT INTO counters (key, value, expires) VALUES (?, ?, ?)"
                " ON CONFLICT(key) DO UPDATE SET value = value + excluded.value",
                (key, amount, now + expiry),
            )
            return conn.execute("SELECT value FROM counters WHERE key = ?", (key,)).fetchone()[0]

    def _row(self, key: str) -> tuple[int, float] | None:
        with self._transaction() as conn:
            row = conn.execute(
                "SELECT value, expires FROM counters WHERE key = ? AND expires > ?",
                (key, time.time()),
            ).fetchone()
        return row

    def get(self, key: str) -> int:
        row = self._row(key)
        return row[0] if row else 0

    def get_expiry(self, key: str) -> float:
        row = self._row(key)
        return row[1] if row else time.time()

    def check(self) -> bool:
        try:
            with self._transaction() as conn:
                conn.execute("SELECT 1")
        except sqlite3.Error:
            return False
        return True

    def reset(self) -> int | None:
        with self._transaction() as conn:
            return conn.execute("DELETE FROM counters").rowcount

    def clear(self, key: str) -> None:
        with self._transaction() as conn:
            conn.execute("DELETE FROM counters WHERE key = ?", (key,))
