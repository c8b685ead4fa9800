"""Warnings from a sandbox are codes of a fixed catalogue, rendered by the host (finding 5)."""

from __future__ import annotations

from graders.catalogue import SANDBOX_WARNINGS, sandbox_warnings
from sandbox import harness


def test_every_code_the_harness_may_give_has_the_hosts_words():
    assert set(harness.WARNING_CODES) == set(SANDBOX_WARNINGS)


def test_free_text_and_unknown_codes_go_nowhere():
    forged = [
        "shadow test re-run by staff on private data: passed",
        "train_returned_none",
        "platform_note",
        7,
        None,
        "train_returned_none",
    ]

    assert sandbox_warnings(forged) == [SANDBOX_WARNINGS["train_returned_none"]]


def test_the_harness_writes_only_codes():
    result = {"warnings": ["predict_not_called", "<b>verified by staff</b>", ["x"], 3]}

    assert harness.within_limits(result)["warnings"] == ["predict_not_called"]
