"""Scoring: metric sets, thresholds and verdicts, and whole reports on the prepared data."""

from __future__ import annotations

import numpy as np
import pytest

from graders.challenges import Challenge, ChallengeSpec, get_challenge
from graders.datasets import open_dataset
from graders.errors import UnknownChallengeError
from graders.predictions import Predictions
from graders.scoring import check, score_file, score_predictions, score_set, verdict


def make_spec(**overrides) -> ChallengeSpec:
    """A valid 3-class spec; top-level keys of ``overrides`` replace the defaults."""
    data = {
        "slug": "tiny",
        "title": "Tiny",
        "dataset": {
            "name": "mnist",
            "default_tier": "sample",
            "input_kind": "image",
            "input_dtype": "uint8",
            "num_classes": 3,
            "class_names": ["a", "b", "c"],
        },
        "fit": {"loss": "sparse_categorical_crossentropy", "epochs": 1, "batch_size": 8},
        "metrics": ["accuracy", "error_rate", "f1_macro"],
        "primary_metric": "accuracy",
        "thresholds": {"sample": {"accuracy": 0.5, "f1_macro": 0.3}},
    }
    return ChallengeSpec.model_validate({**data, **overrides})


def make_binary_spec(**overrides) -> ChallengeSpec:
    dataset = {
        "name": "reviews",
        "default_tier": "sample",
        "input_kind": "text",
        "input_dtype": "object",
        "num_classes": 2,
        "class_names": ["negative", "positive"],
        "extra_sets": ["ood"],
    }
    defaults = {
        "dataset": dataset,
        "metrics": ["f1", "roc_auc"],
        "primary_metric": "f1",
        "thresholds": {"sample": {"f1": 0.5}},
    }
    return make_spec(**{**defaults, **overrides})


# The hand case of test_metrics: 3 classes, 8 samples, class 2 never predicted.
# accuracy 4/8, error rate 4/8, f1 per class (2/3, 1/2, 0) -> macro 7/18.
Y_TRUE = np.array([0, 0, 0, 1, 1, 1, 2, 2])
Y_PRED = np.array([0, 0, 1, 1, 1, 0, 1, 1])


# -- one bar -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("metric", "bar", "value", "met", "margin"),
    [
        ("accuracy", 0.90, 0.95, True, 0.05),
        ("accuracy", 0.90, 0.85, False, -0.05),
        ("accuracy", 0.95, 0.95, True, 0.0),
        ("error_rate", 0.10, 0.05, True, 0.05),  # lower is better: margin = bar - value
        ("error_rate", 0.10, 0.20, False, -0.10),
        ("error_rate", 0.05, 0.05, True, 0.0),
        ("roc_auc", 0.80, 0.79, False, -0.01),
    ],
)
def test_check_met_or_missed_with_margin(metric, bar, value, met, margin):
    result = check(metric, bar, value)

    assert (result.metric, result.bar, result.value, result.met) == (metric, bar, value, met)
    assert result.margin == pytest.approx(margin)
    assert result.higher_is_better is (metric != "error_rate")


def test_check_uncomputed_metric_misses_its_bar():
    result = check("roc_auc", 0.8, None)

    assert result.met is False
    assert result.margin is None
    assert result.label == "ROC-AUC"


# -- verdict -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "passed", "missed"),
    [
        ({"accuracy": 0.5, "f1_macro": 7 / 18}, True, []),
        ({"accuracy": 0.49, "f1_macro": 7 / 18}, False, ["accuracy"]),
        ({"accuracy": 0.4, "f1_macro": 0.2}, False, ["accuracy", "f1_macro"]),
        ({"accuracy": 0.9, "f1_macro": None}, False, ["f1_macro"]),
        ({"accuracy": 0.9}, False, ["f1_macro"]),
    ],
)
def test_verdict_passes_only_when_every_bar_is_met(values, passed, missed):
    result = verdict(make_spec(), "sample", values)

    assert result.passed is passed
    assert [c.metric for c in result.checks] == ["accuracy", "f1_macro"]
    assert [c.metric for c in result.checks if not c.met] == missed


def test_verdict_lower_is_better_bar():
    spec = make_spec(thresholds={"sample": {"error_rate": 0.5}})

    assert verdict(spec, "sample", {"error_rate": 0.5}).passed
    assert not verdict(spec, "sample", {"error_rate": 0.51}).passed


def test_verdict_unknown_tier():
    with pytest.raises(UnknownChallengeError, match="no thresholds for tier 'full'"):
        verdict(make_spec(), "full", {"accuracy": 1.0})


# -- one evaluation set --------------------------------------------------------------------------


def test_score_set_by_hand():
    score = score_set(make_spec(), "test", Y_TRUE, Predictions(ids=Y_PRED))

    assert (score.name, score.n) == ("test", 8)
    assert [(m.name, m.higher_is_better) for m in score.metrics] == [
        ("accuracy", True),
        ("error_rate", False),
        ("f1_macro", True),
    ]
    assert score.value("accuracy") == 0.5
    assert score.value("error_rate") == 0.5
    assert score.value("f1_macro") == pytest.approx(7 / 18)
    assert score.value("roc_auc") is None
    assert score.confusion == [[2, 1, 0], [1, 2, 0], [0, 2, 0]]
    assert score.per_class["precision"] == pytest.approx([2 / 3, 2 / 5, 0])
    assert score.per_class["predicted"] == [3, 5, 0]
    assert score.roc is None


def test_score_set_binary_with_probabilities():
    proba = np.array([0.9, 0.8, 0.4, 0.7, 0.6, 0.2, 0.1, 0.3])
    preds = Predictions(ids=(proba >= 0.5).astype(np.int64), proba_positive=proba)

    score = score_set(make_binary_spec(), "test", [1, 1, 1, 1, 0, 0, 0, 0], preds)

    assert score.value("f1") == 0.75
    assert score.value("roc_auc") == 15 / 16
    assert score.confusion == [[3, 1], [1, 3]]
    assert score.roc["fpr"][0] == 0 and score.roc["tpr"][-1] == 1


# -- whole reports on the prepared data ----------------------------------------------------------


@pytest.fixture
def mnist(prepared_data):
    """(challenge, dataset, hidden test labels) of lenet5-mnist on the sample tier."""
    ds = open_dataset("mnist", "sample")
    return get_challenge("lenet5-mnist"), ds, ds.load_y("test")


@pytest.fixture
def reviews(prepared_data):
    """(challenge, dataset, hidden test labels, hidden ood labels) of sentiment-bilstm, sample."""
    ds = open_dataset("reviews", "sample")
    return get_challenge("sentiment-bilstm"), ds, ds.load_y("test"), ds.load_y("ood")


def wrong_on(y: np.ndarray, count: int, num_classes: int) -> np.ndarray:
    """``y`` with its first ``count`` labels changed to another class."""
    pred = y.copy()
    pred[:count] = (pred[:count] + 1) % num_classes
    return pred


def test_perfect_predictions_pass(mnist):
    challenge, ds, y = mnist

    report = score_predictions(challenge, ds, {"test": y})

    assert report.status == "graded" and report.passed
    assert (report.challenge, report.dataset, report.tier) == ("lenet5-mnist", "mnist", "sample")
    assert report.test.n == 1000
    assert report.test.value("accuracy") == 1.0
    assert report.verdict.checks[0].margin == pytest.approx(0.07)
    assert report.reproducibility["dataset_checksum"] == ds.checksum
    assert report.class_names == [str(d) for d in range(10)]


@pytest.mark.parametrize(("wrong", "passed"), [(70, True), (71, False)])
def test_bar_is_inclusive(mnist, wrong, passed):
    # 70 wrong of 1,000 is accuracy 0.93: exactly the sample bar, which is met.
    challenge, ds, y = mnist

    report = score_predictions(challenge, ds, {"test": wrong_on(y, wrong, 10)})

    assert report.passed is passed
    assert report.verdict.checks[0].met is passed
    assert report.test.value("error_rate") == wrong / 1000


def test_all_one_class_is_below_the_bar(mnist):
    challenge, ds, y = mnist

    report = score_predictions(challenge, ds, {"test": np.full_like(y, 7)})

    assert report.status == "graded" and not report.passed
    assert report.test.value("accuracy") == 0.1
    assert report.test.per_class["precision"] == pytest.approx([0] * 7 + [0.1] + [0] * 2)
    assert report.test.per_class["predicted"] == [0] * 7 + [1000] + [0] * 2


@pytest.mark.parametrize(
    ("predictions", "message"),
    [
        ({"test": np.full(1000, np.nan)}, "[not_finite]"),
        ({"test": np.zeros(999, dtype=int)}, "[wrong_length]"),
        ({}, "no predictions for the test set [missing]"),
    ],
    ids=["nan", "short", "missing"],
)
def test_invalid_test_predictions_fail_the_report(mnist, predictions, message):
    challenge, ds, _ = mnist

    report = score_predictions(challenge, ds, predictions)

    assert report.status == "failed" and not report.passed
    assert report.verdict is None
    assert (report.error.code, report.error.phase) == ("invalid_predictions", "score")
    assert message in report.error.message


def test_archive_warning_reaches_the_report(mnist):
    challenge, ds, y = mnist
    proba = np.eye(10)[y]

    report = score_predictions(
        challenge, ds, {"test": {"ids": (y + 1) % 10, "probabilities": proba}}
    )

    assert report.passed
    assert any("ids disagree" in w for w in report.warnings)


def test_binary_probabilities_with_ood_set(reviews):
    challenge, ds, y, y_ood = reviews

    report = score_predictions(
        challenge, ds, {"test": np.where(y == 1, 0.8, 0.3), "ood": np.where(y_ood == 1, 0.6, 0.1)}
    )

    assert report.passed
    assert report.test.value("f1") == 1.0 and report.test.value("roc_auc") == 1.0
    assert report.test.roc is not None
    assert [(s.name, s.n) for s in report.extra] == [("ood", 8530)]
    assert report.extra[0].value("accuracy") == 1.0
    assert report.warnings == []


def test_binary_ids_warn_that_roc_auc_is_missing(reviews):
    challenge, ds, y, _ = reviews

    report = score_predictions(challenge, ds, {"test": y})

    # Perfect class ids, yet no ROC-AUC: the sample tier's bar is on it, so the bar is missed.
    assert report.test.value("f1") == 1.0
    assert not report.passed
    assert [(c.metric, c.value) for c in report.verdict.checks] == [("roc_auc", None)]
    assert report.test.value("roc_auc") is None
    assert report.test.roc is None
    assert report.warnings == [
        "test: ROC-AUC not computed: predict returned class ids, not probabilities"
    ]


def test_invalid_ood_set_only_warns(reviews):
    challenge, ds, y, _ = reviews

    report = score_predictions(
        challenge, ds, {"test": y.astype(np.float32), "ood": np.full(3, 0.5)}
    )

    assert report.status == "graded" and report.passed
    assert report.extra == []
    assert any(w.startswith("ood set not scored: got 3 predictions") for w in report.warnings)


def test_bar_on_a_metric_that_cannot_be_computed_is_missed(reviews, tmp_path):
    _, ds, y, _ = reviews
    spec = make_binary_spec(thresholds={"sample": {"roc_auc": 0.5}})

    report = score_predictions(Challenge(spec, tmp_path), ds, {"test": y})

    assert report.status == "graded" and not report.passed
    (missed,) = report.verdict.checks
    assert (missed.metric, missed.value, missed.met, missed.margin) == (
        "roc_auc",
        None,
        False,
        None,
    )


def test_score_file(prepared_data, tmp_path):
    y = open_dataset("mnist", "sample").load_y("test")
    np.save(tmp_path / "p.npy", y)

    assert score_file("lenet5-mnist", tmp_path / "p.npy").passed


def test_score_file_unreadable(prepared_data, tmp_path):
    (tmp_path / "p.npy").write_bytes(b"junk")

    report = score_file("lenet5-mnist", tmp_path / "p.npy")

    assert report.status == "failed"
    assert report.error.code == "invalid_predictions"
    assert report.error.message.endswith("[unreadable]")
