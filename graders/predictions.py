"""Validation of a candidate's predictions before they are scored.

``predict(model, x)`` may return class ids ``(n,)``, probabilities ``(n, C)``, or for
a binary task the probability of the positive class ``(n,)``/``(n, 1)``. Anything
else is rejected with a ``PredictionError`` whose ``code`` classifies the problem and
whose message tells the candidate what was expected and what arrived.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from graders.errors import PredictionError

ROW_SUM_TOLERANCE = 1e-3


@dataclass(frozen=True)
class Predictions:
    """Validated predictions: class ids, and P(positive) for binary tasks when given."""

    ids: np.ndarray
    proba_positive: np.ndarray | None = None
    warnings: list[str] = field(default_factory=list)


def validate(raw: object, *, n: int, num_classes: int) -> Predictions:
    """Check ``raw`` against ``n`` test inputs and ``num_classes``; return ids (+ probabilities)."""
    arr = _as_numeric(raw)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim not in (1, 2):
        raise PredictionError(
            "wrong_shape",
            f"predictions have shape {arr.shape}; expected ({n},) class ids or ({n}, {num_classes}) probabilities",
        )
    if arr.shape[0] != n:
        raise PredictionError(
            "wrong_length",
            f"got {arr.shape[0]} predictions for {n} test inputs; return exactly one per input",
        )
    if arr.dtype.kind == "f":
        _check_finite(arr)
    if arr.ndim == 2:
        return _from_matrix(arr, num_classes)
    if arr.dtype.kind == "f" and num_classes == 2:
        return _from_binary_probabilities(arr)
    return Predictions(ids=_as_ids(arr, num_classes))


def load_file(path: Path) -> np.ndarray | dict[str, np.ndarray]:
    """Read predictions from ``.npy``, ``.npz`` (``ids`` and/or ``probabilities``) or ``.csv``."""
    suffix = path.suffix.lower()
    try:
        if suffix == ".npy":
            return np.load(path, allow_pickle=False)
        if suffix == ".npz":
            with np.load(path, allow_pickle=False) as data:
                return {k: data[k] for k in data.files}
        if suffix in (".csv", ".txt"):
            return np.loadtxt(path, delimiter=",", ndmin=1)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise PredictionError(
            "unreadable", f"cannot read predictions from {path.name}: {exc}"
        ) from None
    raise PredictionError(
        "unreadable", f"{path.name}: predictions must be a .npy, .npz or .csv file"
    )


def validate_loaded(
    loaded: np.ndarray | dict[str, np.ndarray], *, n: int, num_classes: int
) -> Predictions:
    """``validate`` for what ``load_file`` (or the predict phase) produced."""
    if not isinstance(loaded, dict):
        return validate(loaded, n=n, num_classes=num_classes)
    if "probabilities" in loaded:
        preds = validate(loaded["probabilities"], n=n, num_classes=num_classes)
        if "ids" in loaded and not np.array_equal(
            _as_ids(np.asarray(loaded["ids"]), num_classes), preds.ids
        ):
            preds.warnings.append(
                "ids disagree with the argmax of the probabilities; the probabilities were used"
            )
        return preds
    if "ids" in loaded:
        return validate(loaded["ids"], n=n, num_classes=num_classes)
    raise PredictionError(
        "unreadable", f"predictions archive has {sorted(loaded)}; expected 'ids' or 'probabilities'"
    )


def _as_numeric(raw: object) -> np.ndarray:
    try:
        arr = np.asarray(raw)
    except (ValueError, TypeError) as exc:
        raise PredictionError(
            "wrong_dtype", f"predictions are not an array of numbers: {exc}"
        ) from None
    if arr.dtype == bool:
        arr = arr.astype(np.int64)
    if arr.dtype.kind not in "iuf":
        raise PredictionError(
            "wrong_dtype",
            f"predictions have dtype {arr.dtype}; expected integer class ids or float probabilities",
        )
    return arr


def _check_finite(arr: np.ndarray) -> None:
    bad = ~np.isfinite(arr)
    if bad.any():
        first = int(np.argwhere(bad)[0][0])
        raise PredictionError(
            "not_finite",
            f"{int(bad.sum())} prediction value(s) are NaN or infinite (first at row {first}); "
            "check for a diverged model or a division by zero",
        )


def _check_probability_range(arr: np.ndarray) -> None:
    low, high = float(arr.min()), float(arr.max())
    if low < 0 or high > 1:
        raise PredictionError(
            "out_of_range",
            f"probabilities must lie in [0, 1]; got values from {low:.4g} to {high:.4g} "
            "(these look like logits: apply sigmoid/softmax, or return class ids)",
        )


def _as_ids(arr: np.ndarray, num_classes: int) -> np.ndarray:
    if arr.dtype.kind == "f" and not np.all(arr == np.round(arr)):
        raise PredictionError(
            "wrong_dtype",
            f"1-D float predictions that are not whole numbers; for {num_classes} classes return "
            f"class ids (n,) or probabilities (n, {num_classes})",
        )
    ids = arr.astype(np.int64)
    bad = (ids < 0) | (ids >= num_classes)
    if bad.any():
        first = int(np.argmax(bad))
        raise PredictionError(
            "out_of_range",
            f"{int(bad.sum())} class id(s) outside 0..{num_classes - 1} (first: {int(ids[first])} at row {first})",
        )
    return ids


def _from_matrix(arr: np.ndarray, num_classes: int) -> Predictions:
    if arr.shape[1] != num_classes:
        raise PredictionError(
            "wrong_shape",
            f"probabilities have {arr.shape[1]} columns; expected one per class ({num_classes})",
        )
    arr = arr.astype(np.float64)
    _check_probability_range(arr)
    sums = arr.sum(axis=1)
    off = np.abs(sums - 1) > ROW_SUM_TOLERANCE
    if off.any():
        first = int(np.argmax(off))
        raise PredictionError(
            "not_normalized",
            f"{int(off.sum())} probability row(s) do not sum to 1 (row {first} sums to {sums[first]:.4g}); "
            "apply softmax or return class ids",
        )
    if num_classes == 2:  # the same 0.5 cut as (n,) probabilities, so ties go the same way
        return _from_binary_probabilities(arr[:, 1])
    return Predictions(ids=arr.argmax(axis=1).astype(np.int64))


def _from_binary_probabilities(arr: np.ndarray) -> Predictions:
    arr = arr.astype(np.float64)
    _check_probability_range(arr)
    return Predictions(ids=(arr >= 0.5).astype(np.int64), proba_positive=arr)
