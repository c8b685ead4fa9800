"""The bwrap backend without a cgroup: rlimits still bound memory (forced here)."""

from __future__ import annotations

import pytest

from sandbox import bwrap_backend


@pytest.mark.bwrap
def test_rlimit_fallback_bounds_memory(bwrap_sandbox, make_job, monkeypatch):
    monkeypatch.setattr(bwrap_backend.Cgroup, "create", lambda *args: None)
    job = make_job(
        """
        print("started", flush=True)
        blocks = [b"x" * (64 << 20) for _ in range(32)]
        print("survived")
        """,
        memory_mb=512,
    )
    result = bwrap_sandbox.run(job)
    assert result.stdout == "started\n"
    assert "MemoryError" in result.stderr
    assert result.oom_killed
    assert result.peak_memory_mb is None
