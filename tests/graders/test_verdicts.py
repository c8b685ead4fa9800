"""Issue 19: one function words every verdict (graders/verdicts.py); a flagged pass reads
"passed, flagged for review" with its reasons in the CLI text, the summary line and JSON."""

from __future__ import annotations

import json

import pytest

from graders import verdicts
from graders.cli import exit_code, summary_line
from graders.report import Report, ThresholdCheck, Verdict
from graders.report_text import render_text

MET = ThresholdCheck("accuracy", "Accuracy", 0.93, 0.99, True, 0.06)


def report(passed: bool = True, flags: list[dict] | None = None) -> Report:
    check = MET if passed else ThresholdCheck("accuracy", "Accuracy", 0.93, 0.5, False, -0.43)
    return Report(
        "lenet5-mnist",
        "LeNet-5",
        "mnist",
        "sample",
        "graded",
        verdict=Verdict(passed=passed, checks=[check]),
        flags=flags or [],
    )


@pytest.mark.parametrize(
    ("flags", "key", "reasons"),
    [
        ([], "passed", ()),
        ([{"kind": "source", "message": "imports hashlib (hashing)"}], "passed", ()),
        ([{"kind": "shadow", "message": "gap"}], "passed_flagged", ("replay",)),
        ([{"kind": "budget", "message": "config"}], "passed_flagged", ("budget",)),
        (
            [{"kind": "embedded_data", "message": "x"}, {"kind": "shadow", "message": "y"}],
            "passed_flagged",
            ("replay", "embedded_data"),
        ),
    ],
)
def test_which_flags_make_a_pass_flagged(flags, key, reasons):
    outcome = verdicts.of_report(report(flags=flags))
    assert (outcome.key, outcome.reasons) == (key, reasons)
    assert outcome.passed


def test_a_miss_or_a_failure_is_never_flagged_as_a_pass():
    flags = [{"kind": "embedded_data", "message": "x"}]
    assert verdicts.of_report(report(passed=False, flags=flags)).key == "below_bar"
    assert verdicts.outcome("failed", None, ["replay"]).key == "failed"
    assert verdicts.outcome("graded", True, ["", "no-such-reason"]).key == "passed"


def test_the_words_and_their_translation_hook():
    outcome = verdicts.outcome("graded", True, ["embedded_data", "replay"])
    assert outcome.text() == (
        "passed, flagged for review: the shadow test suggests the test answers were replayed; "
        "the code embeds data"
    )
    assert outcome.text(str.upper).startswith("PASSED, FLAGGED FOR REVIEW: THE SHADOW")
    assert outcome.to_dict()["review_reasons"] == ["replay", "embedded_data"]


def test_cli_text_summary_json_and_exit_code_of_a_flagged_pass():
    flagged = report(
        flags=[{"kind": "embedded_data", "message": "embedded data: 9,812", "line": 3}]
    )
    text = render_text(flagged)
    assert "\n\nPASSED, FLAGGED FOR REVIEW: THE CODE EMBEDS DATA" in text
    assert "[embedded_data] line 3: embedded data: 9,812" in text
    assert "PASSED, FLAGGED FOR REVIEW" in summary_line("lenet5-mnist", flagged)
    data = json.loads(flagged.to_json())
    assert data["outcome"] == {
        "verdict": "passed_flagged",
        "label": "passed, flagged for review: the code embeds data",
        "review_reasons": ["embedded_data"],
    }
    assert Report.from_dict(data) == flagged  # the derived outcome does not break a round trip
    assert exit_code(flagged) == 0  # the bars were met; the hiring team decides
    clean = report()
    assert "\n\nPASSED\n" in render_text(clean)
    assert json.loads(clean.to_json())["outcome"]["verdict"] == "passed"


def test_a_secret_split_is_named_in_the_text_and_the_seed_is_not_there():
    r = report()
    r.split = {"kind": "secret", "identity": "0123456789abcdef"}
    text = render_text(r)
    assert "test split: drawn with a secret seed (split 0123456789abcdef)" in text
    assert "test labels: PUBLIC" not in text
    r.split = {"kind": "official"}
    assert "test labels: PUBLIC" in render_text(r)
