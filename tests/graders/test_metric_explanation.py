"""The confusion-matrix explanation, on hand-made reports and on reports the scorer built."""

from __future__ import annotations

import numpy as np
import pytest

from graders import scoring
from graders.challenges import get_challenge
from graders.metric_explanation import explain_matrix, explain_report
from graders.predictions import Predictions
from graders.report import Report


def _report(matrix, names, status="graded"):
    return Report.from_dict({"status": status, "class_names": names, "test": {"confusion": matrix}})


def test_binary_counts_give_the_positive_class_precision_recall_and_f1():
    # rows true (negative, positive), columns predicted
    result = explain_report(_report([[50, 10], [5, 35]], ["negative", "positive"]))
    focus = result.focus
    assert (focus.name, focus.tp, focus.fp, focus.fn) == ("positive", 35, 10, 5)
    assert focus.precision == pytest.approx(35 / 45)
    assert focus.recall == pytest.approx(35 / 40)
    assert focus.f1 == pytest.approx(70 / 85)
    assert result.accuracy == pytest.approx(0.85)
    assert result.most_confused.true == "negative" and result.most_confused.count == 10
    assert result.accuracy_misleads == []


def test_a_class_never_predicted_has_no_precision_and_accuracy_is_called_misleading():
    matrix = [[40, 0, 0], [0, 40, 0], [0, 20, 0]]
    result = explain_matrix(matrix, ["a", "b", "c"])
    c = result.classes[2]
    assert (c.tp, c.fp, c.fn, c.predicted) == (0, 0, 20, 0)
    assert c.precision is None  # undefined, not 0: it was never predicted
    assert c.recall == 0.0 and c.f1 == 0.0
    assert result.never_predicted == ["c"]
    kinds = {r["kind"] for r in result.accuracy_misleads}
    assert "never_predicted" in kinds
    assert result.most_confused.true == "c" and result.most_confused.predicted == "b"
    assert result.most_confused.share_of_true == 1.0


def test_all_one_class_is_no_better_than_the_majority_baseline():
    matrix = [[0, 0, 10], [0, 0, 5], [0, 0, 85]]
    result = explain_matrix(matrix, ["x", "y", "z"])
    assert result.only_predicted == "z"
    assert result.accuracy == pytest.approx(0.85)
    baseline = next(r for r in result.accuracy_misleads if r["kind"] == "majority_baseline")
    assert baseline["class"] == "z" and baseline["baseline"] == pytest.approx(0.85)
    assert set(result.never_predicted) == {"x", "y"}


def test_a_perfect_model_has_no_confused_pair():
    result = explain_matrix([[3, 0], [0, 7]], ["n", "p"])
    assert result.most_confused is None and result.focus.f1 == 1.0


def test_empty_or_failed_reports_have_no_explanation():
    assert explain_report(_report([], [])) is None
    assert explain_report(_report([[1, 0], [0, 1]], ["a", "b"], status="failed")) is None
    assert explain_matrix([[0, 0], [0, 0]], ["a", "b"]) is None


def test_ten_classes_match_the_scorers_own_per_class_figures():
    """The counts reproduce exactly what graders.metrics computed with scikit-learn."""
    challenge = get_challenge("lenet5-mnist")
    rng = np.random.default_rng(7)
    y = rng.integers(0, 10, 500)
    pred = y.copy()
    pred[:60] = (pred[:60] + 1) % 10  # 1 taken for 2, 2 for 3, ...
    pred[60:100] = 7  # and a pile of sevens
    report = Report(
        challenge="lenet5-mnist",
        title="t",
        dataset="d",
        tier="sample",
        status="graded",
        class_names=list(challenge.spec.dataset.class_names),
        test=scoring.score_set(challenge.spec, "test", y, Predictions(ids=pred)),
    ).to_dict()
    result = explain_report(Report.from_dict(report))
    per_class = report["test"]["per_class"]
    assert len(result.classes) == 10
    for c in result.classes:
        assert c.support == per_class["support"][c.index]
        assert c.predicted == per_class["predicted"][c.index]
        assert c.recall == pytest.approx(per_class["recall"][c.index])
        assert c.precision == pytest.approx(per_class["precision"][c.index])
        assert c.f1 == pytest.approx(per_class["f1"][c.index])
    accuracy = next(m["value"] for m in report["test"]["metrics"] if m["name"] == "accuracy")
    assert result.accuracy == pytest.approx(accuracy)
    assert result.most_confused.predicted == result.classes[7].name
    assert result.focus is None and not result.binary
