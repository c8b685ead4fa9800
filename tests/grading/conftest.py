"""Fixtures for end-to-end grading: a real sandbox of each backend, and a grader."""

from __future__ import annotations

from pathlib import Path

import pytest

from graders.challenges import Challenge, get_challenge
from graders.datasets import open_dataset
from graders.pipeline import GradeOptions, grade

HOSTILE = Path(__file__).resolve().parent.parent / "data" / "hostile"


def make_sandbox(name: str, skip_or_fail):
    """A real backend, or skip (on a laptop) / fail (in CI) when it cannot run here."""
    from sandbox.registry import BACKENDS, get_sandbox

    ok, reason = BACKENDS[name].available()
    if not ok:
        skip_or_fail(f"{name} sandbox unavailable: {reason}")
    return get_sandbox(name)


@pytest.fixture(
    scope="session",
    params=[
        pytest.param("docker", marks=pytest.mark.docker),
        pytest.param("bwrap", marks=pytest.mark.bwrap),
    ],
)
def sandbox(request, skip_or_fail):
    return make_sandbox(request.param, skip_or_fail)


@pytest.fixture(scope="session")
def bwrap_only(skip_or_fail):
    """For behaviour of the harness and pipeline that does not depend on the backend."""
    return make_sandbox("bwrap", skip_or_fail)


def grader(sandbox):
    def run(path: Path, slug: str | Challenge = "lenet5-mnist", progress=None, **options):
        challenge = slug if isinstance(slug, Challenge) else get_challenge(slug)
        dataset = open_dataset(challenge.spec.dataset.name, options.pop("tier", None) or "sample")
        return grade(challenge, dataset, path, sandbox, GradeOptions(**options), progress)

    return run


def candidate_predicts(challenge: Challenge) -> Challenge:
    """``challenge`` as if it let the candidate's own predict() run (``predict = "candidate"``),
    for tests of what such a challenge must still withstand."""
    spec = challenge.spec
    contract = spec.contract.model_copy(
        update={"predict": "candidate", "optional": ["train", "predict"]}
    )
    return Challenge(spec.model_copy(update={"contract": contract}), challenge.folder)


@pytest.fixture
def grade_with(sandbox, prepared_data):
    """grade_with(path, slug, **options) -> Report, in each backend (parametrized)."""
    return grader(sandbox)


@pytest.fixture
def grade_in_docker(skip_or_fail, prepared_data):
    """grade_with in the production backend only, for the slowest end-to-end runs (the
    BiLSTM reference trains ~2.5 min); the LeNet reference covers both backends."""
    return grader(make_sandbox("docker", skip_or_fail))


@pytest.fixture
def grade_once(bwrap_only, prepared_data):
    """grade_with for tests of backend-independent behaviour: one backend is enough."""
    return grader(bwrap_only)
