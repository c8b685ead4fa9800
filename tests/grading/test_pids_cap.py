"""A fork bomb that swallows its errors never raises: sitting at the pids cap ends it."""

from __future__ import annotations

import time

import pytest

from .conftest import HOSTILE

pytestmark = pytest.mark.slow


def test_swallowing_fork_bomb_ends_as_too_many_processes_within_a_minute(grade_with):
    started = time.monotonic()
    # A generous train limit: the pids-cap watch must end it, not the wall limit.
    report = grade_with(
        HOSTILE / "fork_bomb_swallow.py",
        train_limit=300,
        test_limit=100,
        train_seconds=600,
        memory_mb=1536,
    )
    took = time.monotonic() - started
    assert report.status == "failed"
    assert (report.error.code, report.error.phase) == ("too_many_processes", "train"), report.error
    print(f"{report.reproducibility.get('backend')}: too_many_processes after {took:.1f} s")
    assert took < 60, f"took {took:.0f} s"
