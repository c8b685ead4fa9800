"""Fixtures for the sandbox tests: the real backends and a job factory.

A backend that cannot run here is skipped on a laptop, but fails the run when CI=true:
CI must exercise both.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from sandbox.base import Job, Limits, Sandbox
from sandbox.errors import SandboxUnavailable
from sandbox.registry import get_sandbox

TEST_LIMITS = Limits(
    wall_seconds=60, memory_mb=512, cpus=1.0, processes=128, output_bytes=100_000, disk_mb=32
)


def _sandbox_or_skip(name: str, skip_or_fail) -> Sandbox:
    try:
        return get_sandbox(name)
    except SandboxUnavailable as exc:
        skip_or_fail(f"{name} sandbox unavailable: {exc}")


@pytest.fixture(scope="session")
def docker_sandbox(skip_or_fail) -> Sandbox:
    """The docker backend with the default grader image."""
    return _sandbox_or_skip("docker", skip_or_fail)


@pytest.fixture(scope="session")
def bwrap_sandbox(skip_or_fail) -> Sandbox:
    """The bubblewrap backend with its grader environment."""
    return _sandbox_or_skip("bwrap", skip_or_fail)


@pytest.fixture(
    params=[
        pytest.param("docker", marks=pytest.mark.docker),
        pytest.param("bwrap", marks=pytest.mark.bwrap),
    ]
)
def sandbox(request) -> Sandbox:
    """Each backend in turn, for the behaviour both must share."""
    return request.getfixturevalue(f"{request.param}_sandbox")


@pytest.fixture
def make_job(tmp_path: Path):
    """``make_job(code, **limit_overrides)``: a job running ``code`` as /job/x.py."""

    def make(code: str, env: dict | None = None, on_stdout_line=None, cancel=None, **limits):
        input_dir, output_dir = tmp_path / "in", tmp_path / "out"
        input_dir.mkdir(exist_ok=True)
        output_dir.mkdir(exist_ok=True)
        (input_dir / "x.py").write_text(textwrap.dedent(code))
        fields = {**TEST_LIMITS.__dict__, **limits}
        return Job(
            argv=["/job/x.py"],
            input_dir=input_dir,
            output_dir=output_dir,
            limits=Limits(**fields),
            env=env or {},
            on_stdout_line=on_stdout_line,
            cancel=cancel,
        )

    return make
