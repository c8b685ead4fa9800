"""Shared fixtures. Keep each section small; module-specific factories live in their tests."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

# -- prepared data -------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def prepared_data(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Every packaged dataset tier, prepared once per session; ``ASSAY_DATA_DIR`` points at it.

    Tests must not modify these files: copy a tier (or write a small one) to corrupt it.
    """
    from graders.dataset_build import prepare

    root = tmp_path_factory.mktemp("data")
    prepare(root=root)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ASSAY_DATA_DIR", str(root))
        yield root


# -- CI semantics --------------------------------------------------------------------------------

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def unavailable(reason: str) -> None:
    """The one rule for every suite: a missing part (docker, bwrap, a cgroup, a browser, a
    database) skips the test on a laptop, and fails it under ``CI=true``."""
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: a missing dependency is a failure, not a skip)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def skip_or_fail() -> Callable[[str], None]:
    """``unavailable`` as a fixture (session-scoped, so session fixtures can use it too)."""
    return unavailable


# -- leftovers -----------------------------------------------------------------------------------


class SandboxLeftover(UserWarning):
    """A test ended with a sandbox, cgroup or work folder still in the live registry."""


@pytest.fixture(autouse=True)
def _no_sandbox_outlives_its_test(request: pytest.FixtureRequest) -> Iterator[None]:
    # A warning, not a failure: the janitor and reaper remove owner-tagged leftovers anyway,
    # and a test's threads may still be finishing. The warnings summary names the test, so a
    # code path that tracks without untracking is found (it showed as 3 stray entries once).
    from sandbox import lifecycle

    before = set(lifecycle.live())
    yield
    left = [what for what in lifecycle.live() if what not in before]
    if left:
        import warnings

        warnings.warn(SandboxLeftover(f"{request.node.nodeid} left {left}"), stacklevel=1)
