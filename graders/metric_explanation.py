"""The metrics explained with the candidate's own confusion matrix.

Pure functions on a ``graders.report.Report``: no Flask, no database. The
review page turns the result into sentences ("of the 120 images this model called 7, 12 were
not 7s: precision 0.90"), so a reviewer who is not an ML expert sees where each figure comes
from in this very model's counts, not in a textbook's.

Rules, in order:

1. The confusion matrix's rows are true classes, its columns predicted classes (as
   ``graders.metrics.confusion`` builds it). For class ``k``: TP is the diagonal cell, FP the
   rest of column ``k``, FN the rest of row ``k``.
2. precision = TP / (TP + FP), recall = TP / (TP + FN), F1 = 2TP / (2TP + FP + FN). A zero
   denominator gives None ("undefined"), never 0: a class the model never predicts has no
   precision at all, and saying 0 would hide that it was never tried.
3. The most confused pair is the largest off-diagonal cell (ties: the first in row order).
4. Accuracy misleads when a model that always answers the most common class would come
   within :data:`BASELINE_GAP` of it, when a class with examples is never predicted, or when
   some class's recall lies :data:`WEAK_GAP` or more below accuracy. Each reason is listed.
5. In a binary task the explanation is about the positive class (index 1), as the
   challenge's F1 is.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from graders.report import Report

#: Accuracy within this of the majority-class baseline is no evidence of learning.
BASELINE_GAP = 0.05
#: A class whose recall is this far below accuracy is hidden by the average.
WEAK_GAP = 0.15


@dataclass
class ClassCounts:
    """One class's counts out of the confusion matrix and the figures they give."""

    index: int
    name: str
    tp: int
    fp: int
    fn: int
    support: int
    predicted: int
    precision: float | None
    recall: float | None
    f1: float | None


@dataclass
class Confusion:
    """The most confused pair: ``count`` examples of ``true`` predicted as ``predicted``."""

    true: str
    predicted: str
    count: int
    share_of_true: float


@dataclass
class Explanation:
    """Everything the review page says about one evaluation set's confusion matrix."""

    n: int
    correct: int
    accuracy: float | None
    binary: bool
    classes: list[ClassCounts]
    #: The class the challenge's headline precision/recall/F1 are about (binary: positive).
    focus: ClassCounts | None
    most_confused: Confusion | None
    majority_class: str | None
    majority_share: float | None
    never_predicted: list[str] = field(default_factory=list)
    only_predicted: str | None = None
    #: Why accuracy alone would mislead here: ``{"kind": ..., ...}`` items (rule 4).
    accuracy_misleads: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _ratio(num: int, den: int) -> float | None:
    return num / den if den else None


def class_counts(matrix: list[list[int]], names: list[str]) -> list[ClassCounts]:
    """Per class TP, FP, FN and the precision, recall and F1 they give (rules 1-2)."""
    size = len(matrix)
    rows = [sum(row) for row in matrix]
    cols = [sum(matrix[i][k] for i in range(size)) for k in range(size)]
    result = []
    for k in range(size):
        tp = matrix[k][k]
        fp, fn = cols[k] - tp, rows[k] - tp
        result.append(
            ClassCounts(
                index=k,
                name=names[k] if k < len(names) else str(k),
                tp=tp,
                fp=fp,
                fn=fn,
                support=rows[k],
                predicted=cols[k],
                precision=_ratio(tp, tp + fp),
                recall=_ratio(tp, tp + fn),
                f1=_ratio(2 * tp, 2 * tp + fp + fn),
            )
        )
    return result


def most_confused(matrix: list[list[int]], names: list[str]) -> Confusion | None:
    """The largest off-diagonal cell (rule 3); None when the model made no mistake."""
    best: tuple[int, int, int] | None = None
    for i, row in enumerate(matrix):
        for j, count in enumerate(row):
            if i != j and count > 0 and (best is None or count > best[2]):
                best = (i, j, count)
    if best is None:
        return None
    i, j, count = best
    return Confusion(
        true=_name(names, i),
        predicted=_name(names, j),
        count=count,
        share_of_true=count / sum(matrix[i]),
    )


def _name(names: list[str], k: int) -> str:
    return names[k] if k < len(names) else str(k)


def explain_matrix(matrix: list[list[int]], names: list[str]) -> Explanation | None:
    """The explanation of one confusion matrix; None for an empty one."""
    if not matrix or not any(any(row) for row in matrix):
        return None
    classes = class_counts(matrix, names)
    n = sum(c.support for c in classes)
    correct = sum(c.tp for c in classes)
    accuracy = correct / n
    binary = len(classes) == 2
    majority = max(classes, key=lambda c: c.support)
    never = [c.name for c in classes if c.predicted == 0 and c.support > 0]
    predicted_classes = [c for c in classes if c.predicted > 0]
    only = predicted_classes[0].name if len(predicted_classes) == 1 and len(classes) > 1 else None
    result = Explanation(
        n=n,
        correct=correct,
        accuracy=accuracy,
        binary=binary,
        classes=classes,
        focus=classes[1] if binary else None,
        most_confused=most_confused(matrix, names),
        majority_class=majority.name,
        majority_share=majority.support / n,
        never_predicted=never,
        only_predicted=only,
    )
    result.accuracy_misleads = _misleads(result, classes)
    return result


def _misleads(result: Explanation, classes: list[ClassCounts]) -> list[dict[str, Any]]:
    reasons: list[dict[str, Any]] = []
    accuracy, baseline = result.accuracy, result.majority_share
    if baseline is not None and len(classes) > 1 and accuracy - baseline < BASELINE_GAP:
        reasons.append(
            {
                "kind": "majority_baseline",
                "class": result.majority_class,
                "baseline": baseline,
                "accuracy": accuracy,
            }
        )
    if result.never_predicted:
        reasons.append({"kind": "never_predicted", "classes": list(result.never_predicted)})
    weak = [
        c
        for c in classes
        if c.support > 0 and c.recall is not None and c.predicted > 0
        if accuracy - c.recall >= WEAK_GAP
    ]
    for c in sorted(weak, key=lambda c: c.recall)[:3]:
        reasons.append(
            {"kind": "weak_class", "class": c.name, "recall": c.recall, "accuracy": accuracy}
        )
    return reasons


def explain_report(report: Report) -> Explanation | None:
    """The explanation of a report's hidden test set; None when it was not scored."""
    if report.status != "graded" or report.test is None or not report.test.confusion:
        return None
    return explain_matrix(report.test.confusion, list(report.class_names))
