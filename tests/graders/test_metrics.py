"""Metrics: hand-computed small cases, and agreement with direct scikit-learn calls."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as skm

from graders.metrics import METRICS, Inputs, confusion, per_class, roc_points


def make_inputs(y_true, y_pred, num_classes: int | None = None, proba=None) -> Inputs:
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    k = num_classes or int(max(y_true.max(), y_pred.max())) + 1
    return Inputs(y_true, y_pred, k, None if proba is None else np.asarray(proba, dtype=float))


# Hand-computed cases. Rows of each confusion matrix are true classes, columns predictions.
#
# THREE: 3 classes, 8 samples, class 2 is never predicted.
#   true 0: predicted 0, 0, 1    -> [2, 1, 0]
#   true 1: predicted 1, 1, 0    -> [1, 2, 0]
#   true 2: predicted 1, 1       -> [0, 2, 0]
#   precision: 0 -> 2/3 (2 of 3 predicted 0), 1 -> 2/5, 2 -> 0 (never predicted: zero_division)
#   recall:    0 -> 2/3, 1 -> 2/3, 2 -> 0
#   f1:        0 -> 2/3, 1 -> 2*(2/5)(2/3)/(2/5+2/3) = 1/2, 2 -> 0
THREE = make_inputs([0, 0, 0, 1, 1, 1, 2, 2], [0, 0, 1, 1, 1, 0, 1, 1])

# ONE_CLASS: everything predicted as class 1.
#   precision 1 -> 2/6, others 0; recall 1 -> 1, others 0; f1 1 -> 2(1/3)(1)/(4/3) = 1/2
ONE_CLASS = make_inputs([0, 1, 2, 0, 1, 2], [1, 1, 1, 1, 1, 1])

# BINARY: P(positive) thresholded at 0.5 gives predictions 1 1 0 1 | 1 0 0 0: TP 3, FN 1, FP 1, TN 3.
#   ROC-AUC: of the 16 (positive, negative) pairs only 0.4 < 0.6 is misordered -> 15/16
#   PR-AUC (average precision), positives ranked 1, 2, 3, 5: (1 + 1 + 1 + 4/5) / 4 = 0.95
BINARY_PROBA = [0.9, 0.8, 0.4, 0.7, 0.6, 0.2, 0.1, 0.3]
BINARY = make_inputs(
    [1, 1, 1, 1, 0, 0, 0, 0], [1, 1, 0, 1, 1, 0, 0, 0], num_classes=2, proba=BINARY_PROBA
)
BINARY_IDS = make_inputs([1, 1, 1, 1, 0, 0, 0, 0], [1, 1, 0, 1, 1, 0, 0, 0], num_classes=2)
BINARY_ALL_NEGATIVE = make_inputs([1, 1, 0, 0], [0, 0, 0, 0], num_classes=2, proba=[0.4] * 4)
BINARY_ONE_TRUE_CLASS = make_inputs([1, 1, 1], [1, 0, 1], num_classes=2, proba=[0.9, 0.2, 0.8])
# THREE scored as a 4-class task: class 3 is in neither truth nor predictions but still averaged.
THREE_OF_FOUR = make_inputs(THREE.y_true, THREE.y_pred, num_classes=4)

HAND_VALUES = [
    # (case id, inputs, metric, expected value; None = does not apply)
    ("three", THREE, "accuracy", 4 / 8),
    ("three", THREE, "error_rate", 4 / 8),
    ("three", THREE, "precision_macro", (2 / 3 + 2 / 5 + 0) / 3),
    ("three", THREE, "recall_macro", (2 / 3 + 2 / 3 + 0) / 3),
    ("three", THREE, "f1_macro", (2 / 3 + 1 / 2 + 0) / 3),
    ("three", THREE, "f1", None),
    ("three", THREE, "precision", None),
    ("three", THREE, "roc_auc", None),
    ("three of four", THREE_OF_FOUR, "precision_macro", (2 / 3 + 2 / 5) / 4),
    ("three of four", THREE_OF_FOUR, "accuracy", 4 / 8),
    ("one class", ONE_CLASS, "accuracy", 2 / 6),
    ("one class", ONE_CLASS, "error_rate", 4 / 6),
    ("one class", ONE_CLASS, "precision_macro", (1 / 3) / 3),
    ("one class", ONE_CLASS, "recall_macro", 1 / 3),
    ("one class", ONE_CLASS, "f1_macro", (1 / 2) / 3),
    ("binary", BINARY, "accuracy", 6 / 8),
    ("binary", BINARY, "precision", 3 / 4),
    ("binary", BINARY, "recall", 3 / 4),
    ("binary", BINARY, "f1", 3 / 4),
    ("binary", BINARY, "f1_macro", 3 / 4),
    ("binary", BINARY, "roc_auc", 15 / 16),
    ("binary", BINARY, "pr_auc", 0.95),
    ("binary ids", BINARY_IDS, "f1", 3 / 4),
    ("binary ids", BINARY_IDS, "roc_auc", None),
    ("binary ids", BINARY_IDS, "pr_auc", None),
    ("all negative", BINARY_ALL_NEGATIVE, "precision", 0.0),
    ("all negative", BINARY_ALL_NEGATIVE, "recall", 0.0),
    ("all negative", BINARY_ALL_NEGATIVE, "f1", 0.0),
    ("all negative", BINARY_ALL_NEGATIVE, "accuracy", 0.5),
    ("all negative", BINARY_ALL_NEGATIVE, "roc_auc", 0.5),
    ("one true class", BINARY_ONE_TRUE_CLASS, "roc_auc", None),
    ("one true class", BINARY_ONE_TRUE_CLASS, "pr_auc", None),
    ("one true class", BINARY_ONE_TRUE_CLASS, "recall", 2 / 3),
]


@pytest.mark.parametrize(
    ("inputs", "metric", "expected"),
    [pytest.param(i, m, e, id=f"{case}-{m}") for case, i, m, e in HAND_VALUES],
)
def test_hand_computed_value(inputs, metric, expected):
    value = METRICS[metric].compute(inputs)

    if expected is None:
        assert value is None
    else:
        assert isinstance(value, float)
        assert value == pytest.approx(expected, abs=1e-12)


def test_error_rate_is_exact_errors_over_n():
    # 1 error in 20 is exactly 0.05, so it meets an error_rate bar of 0.05.
    inputs = make_inputs([0] * 20, [0] * 19 + [1], num_classes=2)

    assert METRICS["error_rate"].compute(inputs) == 0.05
    assert METRICS["accuracy"].compute(inputs) == 0.95


@pytest.mark.parametrize(
    ("inputs", "expected"),
    [
        pytest.param(THREE, [[2, 1, 0], [1, 2, 0], [0, 2, 0]], id="three"),
        pytest.param(ONE_CLASS, [[0, 2, 0], [0, 2, 0], [0, 2, 0]], id="one class"),
        pytest.param(BINARY, [[3, 1], [1, 3]], id="binary"),
        pytest.param(
            THREE_OF_FOUR,
            [[2, 1, 0, 0], [1, 2, 0, 0], [0, 2, 0, 0], [0, 0, 0, 0]],
            id="three of four",
        ),
    ],
)
def test_confusion_matrix_by_hand(inputs, expected):
    assert confusion(inputs) == expected


def test_per_class_by_hand():
    table = per_class(THREE)

    assert table["precision"] == pytest.approx([2 / 3, 2 / 5, 0])
    assert table["recall"] == pytest.approx([2 / 3, 2 / 3, 0])
    assert table["f1"] == pytest.approx([2 / 3, 1 / 2, 0])
    assert table["support"] == [3, 3, 2]
    assert table["predicted"] == [3, 5, 0]


def test_per_class_all_one_class():
    table = per_class(ONE_CLASS)

    assert table["precision"] == pytest.approx([0, 1 / 3, 0])
    assert table["recall"] == pytest.approx([0, 1, 0])
    assert table["predicted"] == [0, 6, 0]


def test_roc_points_by_hand():
    # Thresholds from the top: corners (0, .25), (0, .75), (.25, .75), (.25, 1), (1, 1) are kept,
    # points on a straight run are dropped; the curve starts at (0, 0).
    points = roc_points(BINARY)

    assert points == {
        "fpr": pytest.approx([0, 0, 0, 0.25, 0.25, 1]),
        "tpr": pytest.approx([0, 0.25, 0.75, 0.75, 1, 1]),
    }


@pytest.mark.parametrize(
    "inputs", [THREE, BINARY_IDS, BINARY_ONE_TRUE_CLASS], ids=["multiclass", "ids", "one class"]
)
def test_roc_points_need_binary_probabilities_and_both_classes(inputs):
    assert roc_points(inputs) is None


# -- agreement with scikit-learn -----------------------------------------------------------------


def random_inputs(seed: int, num_classes: int, n: int = 200) -> Inputs:
    """Random truth, predictions right about 60% of the time, and P(positive) when binary."""
    rng = np.random.default_rng(seed)
    y_true = rng.integers(0, num_classes, n)
    y_pred = np.where(rng.random(n) < 0.6, y_true, rng.integers(0, num_classes, n))
    proba = None
    if num_classes == 2:
        proba = np.clip(0.5 * y_true + 0.5 * rng.random(n), 0, 1)
        y_pred = (proba >= 0.5).astype(np.int64)
    return Inputs(y_true, y_pred, num_classes, proba)


def sklearn_value(metric: str, i: Inputs) -> float:
    labels = list(range(i.num_classes))
    macro = {"labels": labels, "average": "macro", "zero_division": 0}
    return {
        "accuracy": lambda: skm.accuracy_score(i.y_true, i.y_pred),
        "error_rate": lambda: 1 - skm.accuracy_score(i.y_true, i.y_pred),
        "precision_macro": lambda: skm.precision_score(i.y_true, i.y_pred, **macro),
        "recall_macro": lambda: skm.recall_score(i.y_true, i.y_pred, **macro),
        "f1_macro": lambda: skm.f1_score(i.y_true, i.y_pred, **macro),
        "precision": lambda: skm.precision_score(i.y_true, i.y_pred, zero_division=0),
        "recall": lambda: skm.recall_score(i.y_true, i.y_pred, zero_division=0),
        "f1": lambda: skm.f1_score(i.y_true, i.y_pred, zero_division=0),
        "roc_auc": lambda: skm.roc_auc_score(i.y_true, i.proba_positive),
        "pr_auc": lambda: skm.average_precision_score(i.y_true, i.proba_positive),
    }[metric]()


RANDOM_CASES = [(seed, k) for k in (2, 3, 10) for seed in (0, 1, 2)]


@pytest.mark.parametrize(("seed", "num_classes"), RANDOM_CASES)
@pytest.mark.parametrize("metric", sorted(METRICS))
def test_metric_matches_sklearn(seed, num_classes, metric):
    inputs = random_inputs(seed, num_classes)
    value = METRICS[metric].compute(inputs)

    if METRICS[metric].binary_only and num_classes != 2:
        assert value is None
    else:
        assert value == pytest.approx(sklearn_value(metric, inputs), abs=1e-12)


@pytest.mark.parametrize(("seed", "num_classes"), RANDOM_CASES)
def test_tables_match_sklearn(seed, num_classes):
    inputs = random_inputs(seed, num_classes)
    labels = list(range(num_classes))
    p, r, f, s = skm.precision_recall_fscore_support(
        inputs.y_true, inputs.y_pred, labels=labels, zero_division=0
    )

    table = per_class(inputs)

    assert (
        confusion(inputs)
        == skm.confusion_matrix(inputs.y_true, inputs.y_pred, labels=labels).tolist()
    )
    assert table["precision"] == pytest.approx(p.tolist())
    assert table["recall"] == pytest.approx(r.tolist())
    assert table["f1"] == pytest.approx(f.tolist())
    assert table["support"] == s.tolist()
    assert table["predicted"] == np.bincount(inputs.y_pred, minlength=num_classes).tolist()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_roc_points_match_sklearn(seed):
    inputs = random_inputs(seed, 2)
    fpr, tpr, _ = skm.roc_curve(inputs.y_true, inputs.proba_positive)

    points = roc_points(inputs)

    assert points == {"fpr": pytest.approx(fpr.tolist()), "tpr": pytest.approx(tpr.tolist())}
    assert points["fpr"][0] == 0 and points["tpr"][-1] == 1


# -- registry ------------------------------------------------------------------------------------


def test_registry_keys_are_metric_names():
    assert all(metric.name == key and metric.label for key, metric in METRICS.items())


@pytest.mark.parametrize(
    ("metric", "higher_is_better", "binary_only", "needs_probabilities"),
    [
        ("accuracy", True, False, False),
        ("error_rate", False, False, False),
        ("f1_macro", True, False, False),
        ("f1", True, True, False),
        ("roc_auc", True, True, True),
        ("pr_auc", True, True, True),
    ],
)
def test_metric_properties(metric, higher_is_better, binary_only, needs_probabilities):
    m = METRICS[metric]

    assert (m.higher_is_better, m.binary_only, m.needs_probabilities) == (
        higher_is_better,
        binary_only,
        needs_probabilities,
    )
