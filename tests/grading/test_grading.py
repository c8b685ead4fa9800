"""End to end: real submissions graded in a real sandbox (each backend), train -> predict -> score."""

from __future__ import annotations

import pytest

from graders.challenges import get_challenge

from .conftest import HOSTILE

pytestmark = pytest.mark.slow

LENET = get_challenge("lenet5-mnist")
SENTIMENT = get_challenge("sentiment-bilstm")
# Small limits so hostile submissions hit them quickly; TensorFlow needs ~1 GB to import.
TIGHT = {"train_seconds": 60, "predict_seconds": 60, "memory_mb": 1536}


def lenet_example(name: str):
    return LENET.path(f"examples/{name}")


def test_reference_lenet_passes_with_progress_and_record(grade_with):
    events = []
    report = grade_with(LENET.path("reference/solution.py"), progress=events.append)
    assert report.status == "graded", report.error
    assert report.passed, report.verdict
    assert report.test.value("accuracy") >= 0.93
    assert [e["epoch"] for e in events if e["event"] == "epoch"][:3] == [1, 2, 3]
    rec = report.reproducibility
    assert rec["backend"] in ("docker", "bwrap")
    assert rec["param_count"] > 40_000
    assert rec["versions"]["tensorflow"].startswith("2.")
    assert rec["dataset"] == "mnist/sample" and len(rec["dataset_checksum"]) == 64
    assert rec["seed"] == 1234 and rec["train_wall_seconds"] > 0
    assert len(report.history["loss"]) >= 5


def test_reference_sentiment_passes_on_sample_tier(grade_with):
    report = grade_with(SENTIMENT.path("reference/solution.py"), "sentiment-bilstm")
    assert report.status == "graded", report.error
    assert report.passed, report.verdict
    assert report.test.roc is not None and report.test.value("roc_auc") > 0.75
    assert [s.name for s in report.extra] == ["ood"]
    assert report.extra[0].n == 8530


# -- backend-independent behaviour (harness, pipeline): graded in one backend ------------------


def test_script_mode_and_notebook_grade(grade_once):
    script = grade_once(
        LENET.path("reference/solution_script.py"), train_limit=1500, test_limit=300
    )
    assert script.status == "graded", script.error
    assert script.reproducibility["mode"] == "script"
    assert script.test.value("accuracy") > 0.85
    notebook = grade_once(LENET.path("reference/solution.ipynb"), train_limit=1500, test_limit=300)
    assert notebook.status == "graded", notebook.error
    assert any("%matplotlib" in w for w in notebook.warnings)
    assert any("!pip" in w for w in notebook.warnings)


def test_undertrained_example_misses_the_bar(grade_once):
    report = grade_once(lenet_example("undertrained.py"))
    assert report.status == "graded", report.error
    assert not report.passed
    assert report.verdict.checks[0].margin < 0


@pytest.mark.parametrize(
    ("example", "code"),
    [
        ("missing_build_model.py", "missing_build_model"),
        ("crashes_in_train.py", "train_exception"),
        ("wrong_shape.py", "invalid_predictions"),
    ],
)
def test_known_bad_examples_are_classified(grade_once, example, code):
    report = grade_once(lenet_example(example), train_limit=500, test_limit=200)
    assert report.status == "failed"
    assert report.error.code == code, report.error
    assert report.error.message


@pytest.mark.parametrize(
    ("example", "code"),
    [
        ("missing_build_model.py", "missing_build_model"),
        ("uses_tensorflow_addons.py", "import_error"),
        ("per_token_outputs.py", "invalid_predictions"),
    ],
)
def test_known_bad_sentiment_examples_are_classified(grade_once, example, code):
    report = grade_once(
        SENTIMENT.path(f"examples/{example}"), "sentiment-bilstm", train_limit=200, test_limit=100
    )
    assert report.status == "failed"
    assert report.error.code == code, report.error
    if code == "import_error":
        assert "tensorflow_addons" in report.error.message


def test_undertrained_sentiment_misses_the_bar(grade_once):
    report = grade_once(SENTIMENT.path("examples/undertrained.py"), "sentiment-bilstm")
    assert report.status == "graded", report.error
    assert not report.passed


def test_seed_repeats_report_each_run_and_the_spread(grade_once):
    report = grade_once(
        lenet_example("undertrained.py"), repeats=2, train_limit=800, test_limit=200
    )
    assert report.status == "graded", report.error
    assert [r["seed"] for r in report.runs] == [1234, 1235]
    assert "mean of 2 runs" in report.verdict.note


# -- hostile submissions: the sandbox matters, so each backend --------------------------------


@pytest.mark.parametrize(
    ("name", "codes"),
    [
        ("network.py", {"network_blocked"}),
        ("name_lookup.py", {"network_blocked"}),
        ("fork_bomb.py", {"too_many_processes"}),
        ("memory_hog.py", {"out_of_memory"}),
        ("infinite_loop.py", {"timeout"}),
        ("print_flood.py", {"output_too_large"}),
        ("fill_disk.py", {"output_too_large"}),
        ("killpg.py", {"crashed"}),
    ],
)
def test_hostile_submissions_get_their_error_class(grade_with, name, codes):
    limits = {**TIGHT, "train_seconds": 20} if name == "infinite_loop.py" else TIGHT
    report = grade_with(HOSTILE / name, train_limit=300, test_limit=100, **limits)
    assert report.status == "failed", report.test
    assert report.error.code in codes, report.error
    if report.error.code == "timeout":
        assert report.reproducibility.get("train_wall_seconds", 0) < 20 + 15


@pytest.mark.parametrize("name", ["write_outside.py", "find_labels.py"])
def test_sandbox_hides_the_host_and_the_labels(grade_with, name):
    report = grade_with(HOSTILE / name, train_limit=300, test_limit=100, **TIGHT)
    logs = "\n".join(report.logs.values())
    assert "WROTE:" not in logs
    assert "FOUND:" not in logs
    assert report.status == "graded", report.error


def test_next_submission_grades_normally_after_a_fork_bomb(grade_with):
    grade_with(HOSTILE / "fork_bomb.py", train_limit=300, test_limit=100, **TIGHT)
    report = grade_with(lenet_example("undertrained.py"), train_limit=500, test_limit=100)
    assert report.status == "graded", report.error


def test_nan_predictions_are_invalid(grade_once):
    report = grade_once(HOSTILE / "nan_predictions.py", train_limit=300, test_limit=100, **TIGHT)
    assert report.status == "failed"
    assert report.error.code == "invalid_predictions"
    assert "NaN" in report.error.message
