"""The report model (JSON round trip), its text rendering and its SVG plots."""

from __future__ import annotations

import json

import pytest

from graders.plots import confusion_svg, history_svg, report_svgs, roc_svg
from graders.report import (
    MetricValue,
    Report,
    SetScore,
    ThresholdCheck,
    Verdict,
    failed_report,
)
from graders.report_text import render_text


def make_set(name: str = "test", **overrides) -> SetScore:
    data = {
        "name": name,
        "n": 8,
        "metrics": [
            MetricValue("f1", "F1 (positive class)", 0.75),
            MetricValue("error_rate", "Error rate", 0.25, higher_is_better=False),
            MetricValue("roc_auc", "ROC-AUC", 0.9375),
        ],
        "per_class": {
            "precision": [0.75, 0.75],
            "recall": [0.75, 0.75],
            "f1": [0.75, 0.75],
            "support": [4, 4],
            "predicted": [4, 4],
        },
        "confusion": [[3, 1], [1, 3]],
        "roc": {"fpr": [0.0, 0.0, 0.25, 0.25, 1.0], "tpr": [0.0, 0.75, 0.75, 1.0, 1.0]},
    }
    return SetScore(**{**data, **overrides})


def make_report(**overrides) -> Report:
    """A graded binary report with every part filled in; ``overrides`` replace fields."""
    data = {
        "challenge": "sentiment-bilstm",
        "title": "BiLSTM sentiment classifier",
        "dataset": "reviews",
        "tier": "sample",
        "status": "graded",
        "class_names": ["negative", "positive"],
        "primary_metric": "f1",
        "verdict": Verdict(
            passed=False,
            checks=[
                ThresholdCheck("f1", "F1 (positive class)", 0.7, 0.75, True, 0.05),
                ThresholdCheck("error_rate", "Error rate", 0.2, 0.25, False, -0.05, False),
            ],
            note="one bar missed",
        ),
        "test": make_set(),
        "extra": [make_set("ood", roc=None)],
        "history": {
            "loss": [0.7, 0.5, 0.4],
            "val_loss": [0.72, 0.6, 0.55],
            "accuracy": [0.6, 0.7, 0.8],
        },
        "warnings": ["test: something to know"],
        "logs": {"stdout": "epoch 1\nepoch 2\n", "stderr": ""},
        "reproducibility": {"dataset": "reviews/sample", "dataset_checksum": "abc123"},
        "runs": [{"seed": 1, "value": 0.75}],
    }
    return Report(**{**data, **overrides})


def round_trip(report: Report) -> Report:
    return Report.from_dict(json.loads(report.to_json()))


# -- model ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "report",
    [
        make_report(),
        make_report(verdict=None, test=None, extra=[], history={}, runs=[]),
        failed_report(make_report(), "invalid_predictions", "bad [not_finite]", "score", "tb"),
    ],
    ids=["graded", "bare", "failed"],
)
def test_round_trip_through_json(report):
    again = round_trip(report)

    assert again == report
    assert again.to_dict() == report.to_dict()


def test_round_trip_rebuilds_dataclasses():
    again = round_trip(make_report())

    assert isinstance(again.verdict, Verdict)
    assert isinstance(again.verdict.checks[1], ThresholdCheck)
    assert again.verdict.checks[1].higher_is_better is False
    assert isinstance(again.test.metrics[0], MetricValue)
    assert again.extra[0].value("f1") == 0.75


@pytest.mark.parametrize(
    ("overrides", "passed"),
    [
        ({}, False),
        ({"verdict": Verdict(passed=True, checks=[])}, True),
        ({"verdict": None}, False),
        ({"verdict": Verdict(passed=True, checks=[]), "status": "failed"}, False),
    ],
    ids=["missed", "met", "no verdict", "failed"],
)
def test_passed(overrides, passed):
    assert make_report(**overrides).passed is passed


def test_failed_report_drops_the_verdict():
    report = failed_report(make_report(), "timeout", "train took too long", phase="train")

    assert report.status == "failed"
    assert report.verdict is None
    assert (report.error.code, report.error.message, report.error.phase) == (
        "timeout",
        "train took too long",
        "train",
    )


def test_set_value_of_unknown_metric():
    assert make_set().value("accuracy") is None


# -- text ----------------------------------------------------------------------------------------


def test_render_graded_report():
    text = render_text(make_report())

    assert text.startswith("BiLSTM sentiment classifier [sentiment-bilstm] on reviews/sample\n")
    assert "BELOW THE BAR" in text
    assert "  met    F1 (positive class): 0.7500 (bar >= 0.7)  margin +0.0500" in text
    assert "  missed Error rate: 0.2500 (bar <= 0.2)  margin -0.0500" in text
    assert "  one bar missed" in text
    assert "test set (8 examples)" in text and "ood set (8 examples)" in text
    assert "ROC-AUC" in text and "0.9375" in text
    assert "  positive        0.7500" in text
    assert "warnings:\n  - test: something to know" in text
    assert "dataset_checksum: abc123" in text
    assert "seed 1: 0.7500" in text
    assert "stdout (last 2 lines):\n  epoch 1\n  epoch 2" in text
    assert "stderr" not in text  # empty streams are left out


@pytest.mark.parametrize(
    ("verdict", "head"),
    [
        (Verdict(passed=True, checks=[]), "PASSED"),
        (Verdict(passed=True, checks=[], borderline=True), "PASSED  (borderline"),
        (Verdict(passed=False, checks=[]), "BELOW THE BAR"),
    ],
)
def test_render_verdict_head(verdict, head):
    assert f"\n\n{head}" in render_text(make_report(verdict=verdict))


def test_render_uncomputed_value():
    check = ThresholdCheck("roc_auc", "ROC-AUC", 0.8, None, False, None)
    report = make_report(verdict=Verdict(passed=False, checks=[check]))

    assert "  missed ROC-AUC: n/a (bar >= 0.8)\n" in render_text(report)


def test_render_failed_report():
    detail = "\n".join(f"frame {i}" for i in range(30))
    report = failed_report(
        make_report(test=None, extra=[]),
        "invalid_predictions",
        "3 prediction value(s) are NaN [not_finite]",
        phase="score",
        detail=detail,
    )

    text = render_text(report)

    assert "FAILED in score: invalid_predictions" in text
    assert "  3 prediction value(s) are NaN [not_finite]" in text
    assert "  frame 29" in text and "frame 9\n" not in text  # only the last 20 lines
    assert "PASSED" not in text and "BELOW THE BAR" not in text


# -- plots ---------------------------------------------------------------------------------------


def test_confusion_svg():
    svg = confusion_svg([[3, 1], [1, 3]], ["negative", "positive"])

    assert svg.startswith("<svg")
    assert svg.rstrip().endswith("</svg>")
    assert "positive" in svg and "Confusion matrix" in svg


def test_confusion_svg_many_classes():
    matrix = [[10 if i == j else 0 for j in range(10)] for i in range(10)]

    assert confusion_svg(matrix, [str(d) for d in range(10)]).startswith("<svg")


@pytest.mark.parametrize(("auc", "label"), [(0.9375, "AUC = 0.938"), (None, "model")])
def test_roc_svg(auc, label):
    svg = roc_svg(make_set().roc, auc)

    assert svg.startswith("<svg")
    assert label in svg and "false positive rate" in svg


def test_history_svg():
    svg = history_svg(make_report().history)

    assert svg.startswith("<svg")
    assert "val_loss" in svg and "accuracy" in svg


@pytest.mark.parametrize("history", [{}, {"loss": []}], ids=["empty", "empty series"])
def test_history_svg_without_curves(history):
    assert history_svg(history) is None


@pytest.mark.parametrize(
    ("overrides", "names"),
    [
        ({}, ["confusion", "history", "roc"]),
        ({"test": make_set(roc=None), "history": {}}, ["confusion"]),
        ({"test": None, "history": {}}, []),
    ],
    ids=["all", "ids only", "nothing scored"],
)
def test_report_svgs(overrides, names):
    svgs = report_svgs(make_report(**overrides))

    assert sorted(svgs) == names
    assert all(svg.startswith("<svg") for svg in svgs.values())
