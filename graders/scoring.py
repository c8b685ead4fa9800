"""Scoring on the trusted side: predictions + hidden labels -> metrics, verdict, report.

Nothing here runs candidate code. Predictions are validated first; a prediction
problem becomes a failed report with the ``PredictionError`` code.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from graders import metrics as m
from graders.challenges import Challenge, ChallengeSpec, get_challenge
from graders.datasets import PreparedDataset, open_dataset
from graders.errors import PredictionError
from graders.predictions import Predictions, load_file, validate_loaded
from graders.report import MetricValue, Report, SetScore, ThresholdCheck, Verdict, failed_report


def score_set(spec: ChallengeSpec, name: str, y_true: np.ndarray, preds: Predictions) -> SetScore:
    """Every reported metric, per-class table, confusion matrix and ROC points for one set."""
    inputs = m.Inputs(
        y_true=np.asarray(y_true, dtype=np.int64),
        y_pred=preds.ids,
        num_classes=spec.dataset.num_classes,
        proba_positive=preds.proba_positive,
    )
    values = [
        MetricValue(
            key,
            m.METRICS[key].label,
            m.METRICS[key].compute(inputs),
            m.METRICS[key].higher_is_better,
        )
        for key in spec.metrics
    ]
    return SetScore(
        name=name,
        n=int(len(inputs.y_true)),
        metrics=values,
        per_class=m.per_class(inputs),
        confusion=m.confusion(inputs),
        roc=m.roc_points(inputs),
    )


def check(metric: str, bar: float, value: float | None) -> ThresholdCheck:
    """One bar against one value; a metric that could not be computed misses its bar."""
    meta = m.METRICS[metric]
    if value is None:
        return ThresholdCheck(metric, meta.label, bar, None, False, None, meta.higher_is_better)
    margin = value - bar if meta.higher_is_better else bar - value
    return ThresholdCheck(
        metric, meta.label, bar, value, margin >= 0, margin, meta.higher_is_better
    )


def verdict(spec: ChallengeSpec, tier: str, values: dict[str, float | None]) -> Verdict:
    """Pass only when every bar of ``tier`` is met."""
    checks = [check(metric, bar, values.get(metric)) for metric, bar in spec.bars(tier).items()]
    return Verdict(passed=all(c.met for c in checks), checks=checks)


def blank_report(challenge: Challenge, dataset: PreparedDataset) -> Report:
    """A report with the challenge and dataset filled in and nothing scored yet."""
    spec = challenge.spec
    return Report(
        challenge=spec.slug,
        title=spec.title,
        dataset=dataset.name,
        tier=dataset.tier,
        status="graded",
        class_names=list(spec.dataset.class_names),
        primary_metric=spec.primary_metric,
        reproducibility={
            "dataset": f"{dataset.name}/{dataset.tier}",
            "dataset_checksum": dataset.checksum,
        },
    )


def score_predictions(
    challenge: Challenge,
    dataset: PreparedDataset,
    predictions: dict[str, object],
    report: Report | None = None,
) -> Report:
    """Score ``predictions`` (split name -> raw array or npz dict) into ``report``.

    ``test`` decides the verdict; other splits given (``ood``) are scored beside
    it. Invalid ``test`` predictions fail the report; an invalid extra set
    only adds a warning.
    """
    spec = challenge.spec
    report = report or blank_report(challenge, dataset)
    try:
        report.test = _score_split(spec, dataset, "test", predictions.get("test"), report.warnings)
    except PredictionError as exc:
        return failed_report(report, "invalid_predictions", f"{exc} [{exc.code}]", phase="score")
    for split in [s for s in dataset.splits if s not in ("train", "test") and s in predictions]:
        try:
            report.extra.append(
                _score_split(spec, dataset, split, predictions.get(split), report.warnings)
            )
        except PredictionError as exc:
            report.warnings.append(f"{split} set not scored: {exc}")
    values = {mv.name: mv.value for mv in report.test.metrics}
    for metric in spec.bars(dataset.tier):
        values.setdefault(metric, report.test.value(metric))
    report.verdict = verdict(spec, dataset.tier, values)
    return report


def _score_split(
    spec: ChallengeSpec, dataset: PreparedDataset, split: str, raw, warnings: list[str]
) -> SetScore:
    if raw is None:
        raise PredictionError("missing", f"no predictions for the {split} set")
    y_true = dataset.load_y(split)
    preds = validate_loaded(raw, n=len(y_true), num_classes=spec.dataset.num_classes)
    warnings += preds.warnings
    if spec.dataset.num_classes == 2 and preds.proba_positive is None and "roc_auc" in spec.metrics:
        warnings.append(
            f"{split}: ROC-AUC not computed: predict returned class ids, not probabilities"
        )
    return score_set(spec, split, y_true, preds)


def open_challenge_dataset(challenge: Challenge, tier: str | None = None) -> PreparedDataset:
    """The verified dataset tier a challenge is graded on (its default tier unless ``tier``)."""
    tier = tier or challenge.spec.dataset.default_tier
    challenge.spec.bars(tier)  # an unknown tier is a usage error, not missing data
    return open_dataset(challenge.spec.dataset.name, tier)


def score_file(slug: str, path: Path, tier: str | None = None) -> Report:
    """``assay score``: score a predictions file for the ``test`` set of a challenge's tier."""
    challenge = get_challenge(slug)
    dataset = open_challenge_dataset(challenge, tier)
    report = blank_report(challenge, dataset)
    try:
        loaded = load_file(path)
    except PredictionError as exc:
        return failed_report(report, "invalid_predictions", f"{exc} [{exc.code}]", phase="score")
    return score_predictions(challenge, dataset, {"test": loaded}, report)
