"""Submissions that attack the host through what they leave behind or print (both backends).

Each must end in a written report with a specific error class (or a clean grade), never a
traceback of the grader, and nothing they print may reach a terminal or a page raw.
"""

from __future__ import annotations

import json

import pytest

from graders.challenges import get_challenge
from graders.cli import exit_code
from graders.report_text import render_text

from .conftest import HOSTILE, candidate_predicts

pytestmark = pytest.mark.slow

SMALL = {"train_limit": 200, "test_limit": 100, "train_seconds": 120, "predict_seconds": 60}


def assert_safe(report) -> None:
    """Storable as JSON (UTF-8, no surrogates) and free of raw control characters."""
    text = report.to_json() + render_text(report)
    text.encode("utf-8")
    assert not any(ch in text for ch in "\x1b\x07\r\x9b\u202e")


@pytest.mark.parametrize(
    ("name", "code", "phase", "fragment"),
    [
        ("claims_platform_error.py", "crashed", "train", ""),
        ("symlink_model.py", "invalid_output", "predict", "model.keras"),
        ("bad_history.py", "invalid_output", "train", "history.json"),
        ("huge_history.py", "invalid_output", "train", "history.json"),
        ("truncated_predictions.py", "invalid_predictions", "score", "predictions_test.npy"),
    ],
)
def test_hostile_output_is_a_candidate_error_with_a_report(grade_with, name, code, phase, fragment):
    # The candidate's code runs in the predict phase only where the challenge calls its
    # predict(): that is where it could patch numpy.save.
    challenge = candidate_predicts(get_challenge("lenet5-mnist"))
    report = grade_with(HOSTILE / name, challenge, **SMALL)

    assert report.status == "failed"
    assert (report.error.code, report.error.phase) == (code, phase), report.error
    assert fragment in report.error.message
    assert exit_code(report) == 2  # the submission's fault, never "platform failed" (3)
    assert len(report.to_json()) < 200_000  # a 48 MB history is not copied into the report
    assert_safe(report)


def test_printed_escapes_are_shown_escaped_and_progress_cannot_be_forged(grade_with):
    events = []
    report = grade_with(HOSTILE / "terminal_escapes.py", progress=events.append, **SMALL)

    assert report.status == "graded", report.error
    assert_safe(report)
    logs = report.logs["train stdout"] + report.logs["train stderr"]
    assert "\\x1b[2J" in logs and "\\x1b]52;c;" in logs
    epochs = [e for e in events if e["event"] == "epoch"]
    # Its chatty stdout filled the capture, yet progress (its own channel) kept every epoch,
    # and the line it printed to look like an event forged nothing.
    assert report.logs["train stdout"].endswith("truncated at the sandbox's output limit ...]")
    assert [(e["epoch"], e["epochs"]) for e in epochs] == [(1, 2), (2, 2)]
    assert report.history["loss"] and len(report.history["loss"]) == 2
    json.dumps(events)
