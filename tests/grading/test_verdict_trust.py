"""Issue 19, findings 2-6, end to end on both backends: the budget sees everything the saved
model carries, the candidate's bytes never read as the platform's failure, only the host
states facts, and sources load as editors save them.
"""

from __future__ import annotations

import json

import pytest

from graders.catalogue import SANDBOX_WARNINGS
from graders.challenges import get_challenge
from graders.cli import exit_code
from graders.report_text import render_text

from .conftest import HOSTILE
from .test_hostile_output import assert_safe

pytestmark = pytest.mark.slow

LENET = get_challenge("lenet5-mnist")
SMALL = {"train_limit": 300, "test_limit": 100, "train_seconds": 120, "predict_seconds": 60}


def test_numbers_kept_in_layer_settings_are_refused_naming_the_layer(grade_with):
    report = grade_with(HOSTILE / "config_array_budget.py", **SMALL)

    assert report.status == "failed"
    assert (report.error.code, report.error.phase) == ("unsafe_model", "predict"), report.error
    assert "'lookup_table' (Rescaling)" in report.error.message
    assert "784 values" in report.error.message and "'offset'" in report.error.message
    assert exit_code(report) == 2  # the candidate's, costs an attempt
    assert_safe(report)


def test_a_401_digit_integer_is_the_candidates_error_and_the_progress_reader_reads_on(grade_with):
    events = []
    report = grade_with(HOSTILE / "huge_int_history.py", progress=events.append, **SMALL)

    assert report.status == "failed"
    assert (report.error.code, report.error.phase) == ("invalid_output", "train"), report.error
    assert "too large" in report.error.message and "history.json" in report.error.message
    assert exit_code(report) == 2  # never platform_error (3), which is retried for free
    epochs = [(e["epoch"], e["epochs"]) for e in events if e["event"] == "epoch"]
    # The forged first line shows (it is well formed), the 401-digit one is dropped, and the
    # reader lived on: the real epochs came after it.
    assert epochs == [(1, 1), (1, 2), (2, 2)], epochs  # the real two, after the forged one
    assert_safe(report)


def test_what_the_sandbox_claims_is_not_stated_as_the_platforms(grade_with):
    report = grade_with(HOSTILE / "forged_claims.py", **SMALL)

    assert report.status == "graded", report.error
    text = report.to_json() + render_text(report)
    forged = "shadow test re-run by staff"
    assert forged not in text  # free text from the sandbox goes nowhere
    assert report.warnings == [SANDBOX_WARNINGS["predict_not_called"]]  # a code: host's words
    rec = report.reproducibility
    assert rec["mode"] == "function"  # the host's parse, not the forged "script"
    assert rec["train_wall_seconds"] < 120  # the host's clock
    assert rec["reported_by_sandbox"]["train_code_seconds"] == 287.0  # kept only as a claim
    assert "train_code_seconds" not in rec
    assert len(report.history["loss"]) == 20  # the textbook curve is there, labelled as such
    assert "as reported by the candidate's code" in render_text(report)
    assert not [f for f in report.flags if f["kind"] == "budget"]  # a 1-epoch model may drift


def test_a_notebook_saved_on_windows_with_assignment_magics_grades(grade_with, tmp_path):
    nb = json.loads(LENET.path("reference/solution.ipynb").read_text(encoding="utf-8"))
    nb["cells"].append(
        {
            "cell_type": "code",
            "id": "magics",
            "metadata": {},
            "execution_count": None,
            "outputs": [],
            "source": ["files = !ls /data\n", "t = %time 1 + 1\n", "model_summary = 1\n"],
        }
    )
    raw = json.dumps(nb, indent=1).replace("\n", "\r\n").encode("utf-8")
    path = tmp_path / "solution.ipynb"
    path.write_bytes(b"\xef\xbb\xbf" + raw)  # a byte-order mark, CRLF line ends

    report = grade_with(path, **SMALL)

    assert report.status == "graded", report.error
    assert report.reproducibility["file"] == "notebook"
    assert any("'files = !ls /data'" in w for w in report.warnings), report.warnings
    assert any("'t = %time 1 + 1'" in w for w in report.warnings), report.warnings
    assert not [f for f in report.flags if f["kind"] == "budget"]


def test_a_python_file_with_a_byte_order_mark_and_crlf_grades(grade_once, tmp_path):
    data = LENET.path("reference/solution.py").read_bytes().replace(b"\n", b"\r\n")
    path = tmp_path / "solution.py"
    path.write_bytes(b"\xef\xbb\xbf" + data)

    report = grade_once(path, **SMALL)

    assert report.status == "graded", report.error
    assert report.reproducibility["mode"] == "function"
