"""``assay doctor``: is this host ready to serve and grade? Each check says what to fix.

Checks: the settings (every ``ASSAY_*`` variable parses; unknown names are named), the sandbox engine (Docker answers, or bubblewrap can run), the grader image, the
prepared data tiers, the database (reachable, migrated to the newest revision), the queue
(reachable) and free disk (instance folder, data folder, Docker's root). Nothing is changed.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

#: Below this much free space a full-tier grading, its image layers or the database may fail.
MIN_FREE_GB = 5.0


@dataclass(frozen=True)
class Check:
    """One line of the doctor's answer."""

    name: str
    ok: bool
    detail: str
    fix: str = ""

    def line(self) -> str:
        mark = "ok  " if self.ok else "FAIL"
        text = f"[{mark}] {self.name}: {self.detail}"
        return text + (f"\n       fix: {self.fix}" if self.fix and not self.ok else "")


def check_settings() -> Check:
    """Every ``ASSAY_*`` variable parses (``sandbox.settings``); a name nobody reads is
    shown with the nearest known one, without failing."""
    from sandbox import settings

    try:
        settings.load()
    except settings.SettingsError as exc:
        return Check("settings", False, str(exc), f"correct the variable (see {settings.DOCS})")
    typos = settings.unknown()
    return Check("settings", True, "; ".join(typos) or "every ASSAY_* variable parses")


def check_engine(sandbox: str = "auto") -> Check:
    from sandbox.errors import SandboxUnavailable
    from sandbox.registry import pick_sandbox

    try:
        chosen = pick_sandbox(sandbox)
    except (SandboxUnavailable, ValueError) as exc:
        return Check(
            "engine",
            False,
            str(exc),
            "start the Docker engine (systemctl start docker) or install bubblewrap "
            "(scripts/system-deps.sh); see docs/sandbox.md",
        )
    return Check("engine", True, f"sandbox backend {chosen.name}")


def check_image() -> Check:
    from sandbox.docker_backend import default_image

    name = default_image()
    try:
        import docker

        client = docker.from_env(timeout=10)
        client.ping()
    except Exception as exc:
        return Check(
            "image", True, f"no Docker engine ({type(exc).__name__}): bubblewrap needs no image"
        )
    try:
        image = client.images.get(name)
    except Exception:
        return Check(
            "image",
            False,
            f"{name} is not in the engine",
            "make image  (or scripts/build-grader-image.sh; ASSAY_GRADER_IMAGE names another)",
        )
    return Check("image", True, f"{name} ({image.short_id})")


def check_data() -> Check:
    from graders.dataset_build import BUILDERS, _verified_tiers
    from graders.paths import data_dir

    missing = [name for name in BUILDERS if not _verified_tiers(name, None)]
    if missing:
        return Check(
            "data",
            False,
            f"tiers of {', '.join(missing)} missing or not verified under {data_dir()}",
            "assay data prepare  (ASSAY_DATA_DIR names the folder)",
        )
    return Check("data", True, f"packaged tiers verified under {data_dir()}")


def check_database(url: str) -> Check:
    import sqlalchemy as sa
    from alembic.script import ScriptDirectory

    from server.db import make_engine
    from server.migrate import alembic_config

    shown = sa.make_url(url).render_as_string(hide_password=True)
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT version_num FROM alembic_version")).all()
    except Exception as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return Check(
            "database",
            False,
            f"{shown}: {reason}",
            "check ASSAY_DATABASE_URL and that the server runs; a fresh database is "
            "migrated by `assay worker` or `assay serve`",
        )
    finally:
        engine.dispose()
    head = ScriptDirectory.from_config(alembic_config(url)).get_current_head()
    current = rows[0][0] if rows else None
    if current != head:
        return Check(
            "database",
            False,
            f"{shown}: at revision {current}, the code needs {head}",
            "start `assay worker` or `assay serve` once (they migrate), or ASSAY_AUTO_MIGRATE=1",
        )
    return Check("database", True, f"{shown} at {head}")


def check_queue(instance: str, url: str) -> Check:
    from server.ops import check_queue as ping
    from server.queue import get_huey

    try:
        huey = get_huey(instance, url)
    except ValueError as exc:
        return Check("queue", False, str(exc), "ASSAY_QUEUE_URL=redis://HOST:6379/0 or unset")
    why = ping(huey)
    where = url or f"SQLite in {instance}"
    if why is not None:
        return Check("queue", False, f"{where}: {why}", "start Redis, or check ASSAY_QUEUE_URL")
    return Check("queue", True, f"{where}, {huey.pending_count()} message(s) waiting")


def check_disk(folders: list[Path], min_free_gb: float = MIN_FREE_GB) -> Check:
    low, seen = [], []
    for folder in folders:
        if not folder.exists():
            continue
        free = shutil.disk_usage(folder).free / 1e9
        seen.append(f"{folder} {free:.1f} GB free")
        if free < min_free_gb:
            low.append(f"{folder} has {free:.1f} GB free")
    if low:
        return Check(
            "disk",
            False,
            "; ".join(low),
            f"free at least {min_free_gb:g} GB there (docker system prune removes "
            "unused images and stopped containers)",
        )
    return Check("disk", True, "; ".join(seen) or "no folder to check")


def run_checks(config=None, sandbox: str = "auto") -> list[Check]:
    """Every check, in order; one that crashes is a failed check, never a traceback."""
    from graders.paths import data_dir
    from server.config import Config

    settings = check_settings()
    if not settings.ok:
        return [settings]  # the other checks read the same settings
    config = config or Config()
    steps: list[tuple[str, Callable[[], Check]]] = [
        ("engine", lambda: check_engine(sandbox)),
        ("image", check_image),
        ("data", check_data),
        ("database", lambda: check_database(config.DATABASE_URL)),
        ("queue", lambda: check_queue(config.INSTANCE_PATH, config.QUEUE_URL)),
        (
            "disk",
            lambda: check_disk([Path(config.INSTANCE_PATH), data_dir(), Path("/var/lib/docker")]),
        ),
    ]
    checks = [settings]
    for name, step in steps:
        try:
            checks.append(step())
        except Exception as exc:
            checks.append(Check(name, False, f"the check itself failed: {exc!r}"))
    return checks
