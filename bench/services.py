"""Servers a bench starts for itself: a private Redis and a fresh, migrated database.

Shared by ``bench/queue.py`` and ``bench/rush.py`` (both put the repository root first on
``sys.path`` and import this as ``bench.services``). Everything listens on 127.0.0.1 only.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

POSTGRES_URL = "postgresql://assay:assay@127.0.0.1:5432/assay"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_redis(folder: Path) -> tuple[subprocess.Popen, str]:
    """A redis-server of the bench's own on a free loopback port; returns it and its URL."""
    if shutil.which("redis-server") is None:
        sys.exit("redis-server is not installed (scripts/system-deps.sh)")
    port = free_port()
    proc = subprocess.Popen(
        ["redis-server", "--bind", "127.0.0.1", "--port", str(port), "--save", ""]
        + ["--appendonly", "no", "--dir", str(folder)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc, f"redis://127.0.0.1:{port}/0"
        except OSError:
            time.sleep(0.05)
    proc.kill()
    sys.exit("redis-server did not start")


class BenchDatabase:
    """A fresh, migrated database for one configuration; dropped by ``close``.

    ``kind`` is ``sqlite`` (a file in ``instance``) or ``postgresql`` (a new database on
    ``ASSAY_BENCH_POSTGRES_URL``, default the local server); ``label`` names the bench in the
    database's name and ``hint`` says what to pass instead when PostgreSQL does not answer.
    """

    def __init__(self, kind: str, instance: Path, *, label: str, hint: str):
        from server.db import make_engine
        from server.migrate import upgrade

        self.admin = None
        if kind == "sqlite":
            self.url = f"sqlite:///{instance / 'assay.db'}"
        else:
            import sqlalchemy as sa

            base = os.environ.get("ASSAY_BENCH_POSTGRES_URL") or POSTGRES_URL
            self.admin = make_engine(base, isolation_level="AUTOCOMMIT")
            self.name = f"assay_bench_{label}_{uuid.uuid4().hex[:10]}"
            try:
                with self.admin.connect() as conn:
                    conn.execute(sa.text(f"CREATE DATABASE {self.name}"))
            except Exception as exc:
                sys.exit(f"PostgreSQL at {base} does not answer ({exc}); {hint}")
            self.url = self.admin.url.set(database=self.name).render_as_string(hide_password=False)
        upgrade(self.url, instance)

    def close(self) -> None:
        if self.admin is not None:
            import sqlalchemy as sa

            with self.admin.connect() as conn:
                conn.execute(sa.text(f"DROP DATABASE IF EXISTS {self.name} WITH (FORCE)"))
            self.admin.dispose()
