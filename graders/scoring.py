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
from graders.shadow import DESCRIPTIONS, gap_check
from graders.splits import split_record


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


#: The model budget's checks: (figure in the report's reproducibility record, budget key, label).
BUDGET = (
    ("param_count", "max_params", "parameters"),
    ("model_kb", "max_model_kb", "saved model size (KiB)"),
)


def budget_checks(spec: ChallengeSpec, figures: dict) -> list[ThresholdCheck]:
    """The model budget as checks beside the metric bars: at most ``bar``, margin = bar - value.

    A figure the grading could not measure is not checked (a failed phase fails anyway);
    a budget of 0 means no bar.
    """
    checks = []
    for key, limit_key, label in BUDGET:
        bar, value = getattr(spec.budget, limit_key), figures.get(key)
        if bar and value is not None:
            checks.append(
                ThresholdCheck(
                    key, label, float(bar), float(value), value <= bar, bar - value, False
                )
            )
    return checks


def verdict(
    spec: ChallengeSpec, tier: str, values: dict[str, float | None], model: dict | None = None
) -> Verdict:
    """Pass only when every bar of ``tier`` is met, and the model within its budget.

    ``model``: the trained model's figures (``param_count``, ``model_kb``), when measured.
    """
    checks = [check(metric, bar, values.get(metric)) for metric, bar in spec.bars(tier).items()]
    checks += budget_checks(spec, model or {})
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
        test_labels=test_labels(dataset),
        split=split_record(dataset),
    )


def test_labels(dataset: PreparedDataset) -> str:
    """``private`` for a test split an operator imported, else ``public``: the packaged and
    published test sets' labels are on the internet, so a pass there proves less."""
    return "private" if dataset.manifest.get("test_labels") == "private" else "public"


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
    report.verdict = verdict(spec, dataset.tier, values, report.reproducibility)
    return report


def score_shadow(
    challenge: Challenge, dataset: PreparedDataset, raw, report: Report, seed: int
) -> None:
    """Score the shadow copy of the test set against the same labels; flag a large gap.

    The metric is the tier's first bar (what a pass rests on). Never changes the verdict:
    a flag is for the reviewer. Shadow predictions that cannot be scored are flagged too,
    since only a submission that treats the two sets differently produces them.
    """
    spec = challenge.spec
    metric = next(iter(spec.bars(dataset.tier)))
    test_value = report.test.value(metric) if report.test else None
    base = {"seed": seed, "changes": DESCRIPTIONS[spec.dataset.input_kind]}
    try:
        score = _score_split(spec, dataset, "test", raw, [])
    except PredictionError as exc:
        report.shadow = {**gap_check(metric, test_value, None, spec.shadow.max_gap), **base}
        report.shadow["flagged"] = True
        report.flags.append(
            {
                "kind": "shadow",
                "message": f"the shadow set could not be scored: {exc}",
                "code": "shadow_unscored",
                "params": {"error": str(exc)},
            }
        )
        return
    shadow_value = score.value(metric)
    report.shadow = {**gap_check(metric, test_value, shadow_value, spec.shadow.max_gap), **base}
    if report.shadow["flagged"]:
        label = m.METRICS[metric].label
        report.flags.append(
            {
                "kind": "shadow",
                "message": f"{label} drops from {test_value:.4f} on the test set to "
                f"{shadow_value:.4f} on its slightly changed copy (gap "
                f"{report.shadow['gap']:.4f} > {spec.shadow.max_gap}): honest models do not "
                "lose that much; the model may recognise the public test inputs rather than "
                "classify them",
                "code": "shadow_gap",
                "params": {
                    "metric": metric,
                    "test": test_value,
                    "shadow": shadow_value,
                    "gap": report.shadow["gap"],
                    "max_gap": spec.shadow.max_gap,
                },
            }
        )


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
