"""Metrics, as a registry of small classes keyed by name.

All arithmetic is scikit-learn's; this module only names the metrics, says which
direction is better and what each needs (class ids, or probabilities of the
positive class for a binary task). ``zero_division=0``: a class that is never
predicted has precision 0, which is what a reviewer should see.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from sklearn import metrics as skm


@dataclass(frozen=True)
class Inputs:
    """What a metric is computed from: true ids, predicted ids, optional P(positive)."""

    y_true: np.ndarray
    y_pred: np.ndarray
    num_classes: int
    proba_positive: np.ndarray | None = None

    @property
    def labels(self) -> list[int]:
        return list(range(self.num_classes))


class Metric:
    """One named metric. ``compute`` returns None when it does not apply to the inputs."""

    name: ClassVar[str]
    label: ClassVar[str]
    higher_is_better: ClassVar[bool] = True
    binary_only: ClassVar[bool] = False
    needs_probabilities: ClassVar[bool] = False

    def applies(self, inputs: Inputs) -> bool:
        if self.binary_only and inputs.num_classes != 2:
            return False
        return not (self.needs_probabilities and inputs.proba_positive is None)

    def compute(self, inputs: Inputs) -> float | None:
        return float(self._compute(inputs)) if self.applies(inputs) else None

    def _compute(self, inputs: Inputs) -> float:
        raise NotImplementedError


class Accuracy(Metric):
    name, label = "accuracy", "Accuracy"

    def _compute(self, i: Inputs) -> float:
        return skm.accuracy_score(i.y_true, i.y_pred)


class ErrorRate(Metric):
    name, label, higher_is_better = "error_rate", "Error rate", False

    def _compute(self, i: Inputs) -> float:
        # errors / n, not 1 - accuracy: 1 - 0.95 is 0.05000000000000004, which misses a 0.05 bar.
        return skm.zero_one_loss(i.y_true, i.y_pred, normalize=False) / len(i.y_true)


class _Macro(Metric):
    score = staticmethod(skm.f1_score)

    def _compute(self, i: Inputs) -> float:
        return self.score(i.y_true, i.y_pred, labels=i.labels, average="macro", zero_division=0)


class PrecisionMacro(_Macro):
    name, label, score = "precision_macro", "Precision (macro)", staticmethod(skm.precision_score)


class RecallMacro(_Macro):
    name, label, score = "recall_macro", "Recall (macro)", staticmethod(skm.recall_score)


class F1Macro(_Macro):
    name, label = "f1_macro", "F1 (macro)"


class _Binary(Metric):
    binary_only = True
    score = staticmethod(skm.f1_score)

    def _compute(self, i: Inputs) -> float:
        return self.score(i.y_true, i.y_pred, pos_label=1, average="binary", zero_division=0)


class Precision(_Binary):
    name, label, score = (
        "precision",
        "Precision (positive class)",
        staticmethod(skm.precision_score),
    )


class Recall(_Binary):
    name, label, score = "recall", "Recall (positive class)", staticmethod(skm.recall_score)


class F1(_Binary):
    name, label = "f1", "F1 (positive class)"


class _Ranking(Metric):
    binary_only = needs_probabilities = True

    def applies(self, inputs: Inputs) -> bool:
        # Both ranking metrics are undefined when the truth holds a single class.
        return super().applies(inputs) and len(np.unique(inputs.y_true)) == 2


class RocAuc(_Ranking):
    name, label = "roc_auc", "ROC-AUC"

    def _compute(self, i: Inputs) -> float:
        return skm.roc_auc_score(i.y_true, i.proba_positive)


class PrAuc(_Ranking):
    name, label = "pr_auc", "PR-AUC (average precision)"

    def _compute(self, i: Inputs) -> float:
        return skm.average_precision_score(i.y_true, i.proba_positive)


METRICS: dict[str, Metric] = {
    cls.name: cls()
    for cls in (
        Accuracy,
        ErrorRate,
        PrecisionMacro,
        RecallMacro,
        F1Macro,
        Precision,
        Recall,
        F1,
        RocAuc,
        PrAuc,
    )
}


def per_class(inputs: Inputs) -> dict[str, list]:
    """Precision, recall, F1, support and count predicted, one entry per class id."""
    p, r, f, s = skm.precision_recall_fscore_support(
        inputs.y_true, inputs.y_pred, labels=inputs.labels, zero_division=0
    )
    predicted = np.bincount(inputs.y_pred, minlength=inputs.num_classes)
    return {
        "precision": p.tolist(),
        "recall": r.tolist(),
        "f1": f.tolist(),
        "support": s.tolist(),
        "predicted": predicted.tolist(),
    }


def confusion(inputs: Inputs) -> list[list[int]]:
    """Confusion matrix, rows = true class, columns = predicted class."""
    return skm.confusion_matrix(inputs.y_true, inputs.y_pred, labels=inputs.labels).tolist()


def roc_points(inputs: Inputs) -> dict[str, list[float]] | None:
    """ROC curve (FPR on x, TPR on y) for a binary task with probabilities, else None."""
    if not METRICS["roc_auc"].applies(inputs):
        return None
    fpr, tpr, _ = skm.roc_curve(inputs.y_true, inputs.proba_positive, drop_intermediate=True)
    return {"fpr": fpr.tolist(), "tpr": tpr.tolist()}
