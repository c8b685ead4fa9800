"""``assay doctor`` against real parts: a migrated or stale database, a queue that is down,
a disk threshold no disk meets, the Docker engine and the grader image CI builds."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from server.doctor import check_database, check_disk, check_image, check_queue, run_checks
from server.migrate import upgrade

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.databases


def test_a_migrated_database_is_ok(database_url):
    check = check_database(database_url)
    assert check.ok, check.line()
    assert "assay:***@" in check.detail or database_url.startswith("sqlite")


def test_a_database_behind_the_code_says_to_migrate(tmp_path):
    url = f"sqlite:///{tmp_path / 'old.db'}"
    upgrade(url, revision="0003_api")
    check = check_database(url)
    assert not check.ok
    assert "at revision 0003" in check.detail and "migrate" in check.fix


def test_an_unreachable_queue_and_a_full_disk_fail_with_a_fix(tmp_path):
    queue = check_queue(str(tmp_path), "redis://127.0.0.1:9/0")
    assert not queue.ok and "Connection refused" in queue.detail and "Redis" in queue.fix
    disk = check_disk([tmp_path], min_free_gb=1e9)
    assert not disk.ok and "GB free" in disk.detail and "docker system prune" in disk.fix
    assert check_disk([tmp_path], min_free_gb=0).ok


@pytest.mark.docker
def test_the_grader_image_is_found_in_the_engine(skip_or_fail):
    import docker

    try:
        docker.from_env(timeout=10).ping()
    except Exception as exc:
        skip_or_fail(f"no Docker engine: {exc}")
    check = check_image()
    assert check.ok, check.line()


def test_run_checks_reports_every_part(app_config):
    names = [c.name for c in run_checks(app_config)]
    assert names == ["settings", "engine", "image", "data", "database", "queue", "disk"]


def test_the_command_exits_1_and_prints_the_fix(tmp_path):
    env = {
        **os.environ,
        "ASSAY_INSTANCE": str(tmp_path),
        "ASSAY_DATABASE_URL": f"sqlite:///{tmp_path / 'never-migrated.db'}",
        "ASSAY_QUEUE_URL": "redis://127.0.0.1:9/0",
    }
    done = subprocess.run(
        [sys.executable, "-m", "server.cli", "doctor"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "[FAIL] database" in done.stdout and "[FAIL] queue" in done.stdout
    assert "fix: start Redis" in done.stdout
