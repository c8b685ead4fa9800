"""The invitation state machine (``server.stages``), the one copy that ``invitations.state``,
the candidates' summaries and the SQL page use: a stage from plain values, then the state
at a time."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from server.stages import SETTLED, stage_of, state_at

NOW = datetime(2026, 3, 1, 12, 0)


def _stage(**values) -> str:
    given = {"revoked": False, "gradings": [], "answered": False, "opened": False}
    return stage_of(**{**given, "viewed": False, **values})


@pytest.mark.parametrize(
    ("values", "stage"),
    [
        ({}, "sent"),
        ({"viewed": True}, "opened"),
        ({"viewed": True, "opened": True}, "working"),
        ({"opened": True, "answered": True}, "submitted"),
        # A submission not yet graded (no grading, queued or running) is "submitted".
        ({"opened": True, "gradings": [None]}, "submitted"),
        ({"opened": True, "gradings": ["queued"]}, "submitted"),
        ({"opened": True, "gradings": ["graded", "running"]}, "submitted"),
        # Graded once every started grading has finished; a failed run is never a success.
        ({"opened": True, "gradings": ["graded"]}, "graded"),
        ({"opened": True, "gradings": ["graded", None]}, "graded"),
        ({"opened": True, "gradings": ["graded", "failed"]}, "failed"),
        # Submissions decide, answers only count without them.
        ({"opened": True, "gradings": ["graded"], "answered": True}, "graded"),
        # Revoked wins over everything.
        ({"revoked": True, "opened": True, "gradings": ["graded"]}, "revoked"),
    ],
)
def test_the_stage_from_the_rows_values(values, stage):
    assert _stage(**values) == stage


def test_the_gradings_may_be_any_iterable():
    assert (
        stage_of(revoked=False, gradings=iter(["graded"]), answered=False, opened=True, viewed=True)
        == "graded"
    )


@pytest.mark.parametrize("stage", ["sent", "opened", "working"])
def test_an_unsettled_stage_expires_at_its_end_and_not_before(stage):
    ends = NOW + timedelta(minutes=5)
    assert state_at(stage, ends, NOW) == stage
    assert state_at(stage, ends, ends - timedelta(microseconds=1)) == stage
    assert state_at(stage, ends, ends) == "expired"
    assert state_at(stage, None, NOW + timedelta(days=999)) == stage  # no end known


@pytest.mark.parametrize("stage", SETTLED)
def test_a_settled_stage_never_expires(stage):
    assert state_at(stage, NOW - timedelta(days=1), NOW) == stage
