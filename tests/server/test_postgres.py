"""PostgreSQL-only behaviour: several hosts migrating one database at once."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa

from tests.server.conftest import drop_database

ROOT = Path(__file__).resolve().parents[2]
MIGRATE = "import sys; from server.migrate import upgrade; upgrade(sys.argv[1]); print('ok')"


def test_three_processes_migrating_a_fresh_database_at_once_all_succeed(postgres_template):
    """No shared lock folder (as on separate hosts): the advisory lock serialises them."""
    admin, _ = postgres_template
    name = "assay_race_fresh"
    with admin.connect() as conn:
        conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        conn.execute(sa.text(f"CREATE DATABASE {name}"))
    url = admin.url.set(database=name).render_as_string(hide_password=False)
    try:
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", MIGRATE, url],
                cwd=ROOT,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            for _ in range(3)
        ]
        outputs = [proc.communicate(timeout=120)[0] for proc in procs]
        assert [proc.returncode for proc in procs] == [0, 0, 0], outputs
        engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
        with engine.connect() as conn:
            versions = conn.execute(sa.text("SELECT version_num FROM alembic_version")).all()
        engine.dispose()
        assert len(versions) == 1
    finally:
        drop_database(admin, name)
