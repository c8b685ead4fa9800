"""Validation of candidates' predictions: rejected forms by code, accepted forms, files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from graders.errors import PredictionError
from graders.predictions import load_file, validate, validate_loaded

N = 4


def softmax_rows(n: int = N, k: int = 10, seed: int = 0) -> np.ndarray:
    logits = np.random.default_rng(seed).normal(size=(n, k))
    exp = np.exp(logits - logits.max(axis=1, keepdims=True))
    return exp / exp.sum(axis=1, keepdims=True)


def with_value(arr: np.ndarray, index, value) -> np.ndarray:
    arr = np.array(arr, dtype=float)
    arr[index] = value
    return arr


BAD = [
    # (id, raw predictions for N inputs, num_classes, code, fragment of the message)
    ("too few ids", [1, 2, 3], 10, "wrong_length", "got 3 predictions for 4 test inputs"),
    ("too many rows", softmax_rows(5), 10, "wrong_length", "got 5 predictions"),
    ("3-d", np.zeros((N, 10, 2)), 10, "wrong_shape", "shape (4, 10, 2)"),
    ("scalar", 3, 10, "wrong_shape", "shape ()"),
    (
        "too few columns",
        softmax_rows(k=3),
        10,
        "wrong_shape",
        "3 columns; expected one per class (10)",
    ),
    ("strings", ["1", "2", "3", "4"], 10, "wrong_dtype", "dtype <U1"),
    ("objects", np.array([1, None, 2, 3], dtype=object), 10, "wrong_dtype", "dtype object"),
    ("ragged", [[1, 2], [3]], 10, "wrong_dtype", "not an array of numbers"),
    ("fractional 1-d floats", [0.5, 1.2, 3.0, 2.0], 10, "wrong_dtype", "not whole numbers"),
    (
        "NaN id",
        [0.0, np.nan, 1.0, 2.0],
        10,
        "not_finite",
        "1 prediction value(s) are NaN or infinite (first at row 1)",
    ),
    (
        "inf probability",
        with_value(softmax_rows(), (2, 3), np.inf),
        10,
        "not_finite",
        "first at row 2",
    ),
    (
        "NaN binary probability",
        [0.1, 0.2, np.nan, np.nan],
        2,
        "not_finite",
        "2 prediction value(s)",
    ),
    (
        "id 10 of 10 classes",
        [0, 10, 3, 10],
        10,
        "out_of_range",
        "2 class id(s) outside 0..9 (first: 10 at row 1)",
    ),
    ("negative id", [0, 1, -1, 2], 10, "out_of_range", "first: -1 at row 2"),
    ("id 2 of binary", np.array([0, 1, 2, 1]), 2, "out_of_range", "outside 0..1"),
    ("binary probability 1.5", [0.2, 1.5, 0.3, 0.9], 2, "out_of_range", "from 0.2 to 1.5"),
    (
        "row probability 1.5",
        with_value(softmax_rows(), (0, 0), 1.5),
        10,
        "out_of_range",
        "must lie in [0, 1]",
    ),
    (
        "logit rows",
        np.random.default_rng(0).normal(size=(N, 10)),
        10,
        "out_of_range",
        "these look like logits",
    ),
    ("binary logits", [-2.0, 3.1, 0.4, -0.1], 2, "out_of_range", "look like logits"),
    (
        "rows not summing to 1",
        np.full((N, 10), 0.5),
        10,
        "not_normalized",
        "4 probability row(s) do not sum to 1 (row 0 sums to 5)",
    ),
    (
        "one row off",
        with_value(softmax_rows(), (3, slice(None)), 0.01),
        10,
        "not_normalized",
        "row 3 sums to 0.1",
    ),
]


@pytest.mark.parametrize(
    ("raw", "num_classes", "code", "fragment"),
    [pytest.param(raw, k, code, frag, id=name) for name, raw, k, code, frag in BAD],
)
def test_bad_predictions_are_classified(raw, num_classes, code, fragment):
    with pytest.raises(PredictionError) as excinfo:
        validate(raw, n=N, num_classes=num_classes)

    assert excinfo.value.code == code
    assert fragment in str(excinfo.value)


SOFTMAX = softmax_rows()
BINARY_P = np.array([0.2, 0.7, 0.5, 0.49])  # 0.5 is positive
BINARY_P2 = np.array([0.2, 0.7, 0.9, 0.49])

GOOD = [
    # (id, raw predictions, num_classes, expected ids, expected P(positive) or None)
    ("int ids", [3, 1, 0, 9], 10, [3, 1, 0, 9], None),
    ("uint8 ids", np.array([3, 1, 0, 9], dtype=np.uint8), 10, [3, 1, 0, 9], None),
    ("whole-number float ids", [3.0, 1.0, 0.0, 9.0], 10, [3, 1, 0, 9], None),
    ("(n, 1) ids", np.array([[3], [1], [0], [9]]), 10, [3, 1, 0, 9], None),
    ("softmax (n, 10)", SOFTMAX, 10, SOFTMAX.argmax(axis=1), None),
    ("float32 softmax", SOFTMAX.astype(np.float32), 10, SOFTMAX.argmax(axis=1), None),
    ("one-hot ints", np.eye(10, dtype=int)[[3, 1, 0, 9]], 10, [3, 1, 0, 9], None),
    ("binary ids", [0, 1, 1, 0], 2, [0, 1, 1, 0], None),
    ("binary bool", [False, True, True, False], 2, [0, 1, 1, 0], None),
    ("binary (n,)", BINARY_P, 2, [0, 1, 1, 0], BINARY_P),
    ("binary (n, 1)", BINARY_P[:, None], 2, [0, 1, 1, 0], BINARY_P),
    ("binary (n, 2)", np.stack([1 - BINARY_P2, BINARY_P2], axis=1), 2, [0, 1, 1, 0], BINARY_P2),
    ("binary float32", BINARY_P.astype(np.float32), 2, [0, 1, 1, 0], BINARY_P),
]


@pytest.mark.parametrize(
    ("raw", "num_classes", "ids", "proba"),
    [pytest.param(raw, k, ids, p, id=name) for name, raw, k, ids, p in GOOD],
)
def test_good_predictions(raw, num_classes, ids, proba):
    preds = validate(raw, n=N, num_classes=num_classes)

    assert preds.ids.dtype == np.int64
    np.testing.assert_array_equal(preds.ids, ids)
    if proba is None:
        assert preds.proba_positive is None
    else:
        np.testing.assert_allclose(preds.proba_positive, proba, rtol=1e-6)
    assert preds.warnings == []


def test_rows_within_tolerance_are_normalized():
    rows = SOFTMAX * (1 + 5e-4)

    assert validate(rows, n=N, num_classes=10).ids.tolist() == SOFTMAX.argmax(axis=1).tolist()


# -- npz archives --------------------------------------------------------------------------------


def test_archive_ids_agreeing_with_probabilities():
    loaded = {"ids": SOFTMAX.argmax(axis=1), "probabilities": SOFTMAX}

    preds = validate_loaded(loaded, n=N, num_classes=10)

    assert preds.warnings == []


def test_archive_ids_disagreeing_with_probabilities_warn():
    ids = (SOFTMAX.argmax(axis=1) + 1) % 10

    preds = validate_loaded({"ids": ids, "probabilities": SOFTMAX}, n=N, num_classes=10)

    assert preds.ids.tolist() == SOFTMAX.argmax(axis=1).tolist()
    assert preds.warnings == [
        "ids disagree with the argmax of the probabilities; the probabilities were used"
    ]


def test_archive_of_ids_only():
    preds = validate_loaded({"ids": np.array([0, 1, 1, 0])}, n=N, num_classes=2)

    assert preds.ids.tolist() == [0, 1, 1, 0]
    assert preds.proba_positive is None


def test_archive_without_known_keys():
    with pytest.raises(
        PredictionError, match=r"has \['logits'\]; expected 'ids' or 'probabilities'"
    ):
        validate_loaded({"logits": SOFTMAX}, n=N, num_classes=10)


# -- files ---------------------------------------------------------------------------------------


def test_load_npy(tmp_path):
    np.save(tmp_path / "p.npy", SOFTMAX)

    np.testing.assert_array_equal(load_file(tmp_path / "p.npy"), SOFTMAX)


def test_load_npz(tmp_path):
    np.savez(tmp_path / "p.npz", ids=np.arange(N), probabilities=SOFTMAX)

    loaded = load_file(tmp_path / "p.npz")

    assert sorted(loaded) == ["ids", "probabilities"]
    np.testing.assert_array_equal(loaded["probabilities"], SOFTMAX)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("3\n1\n0\n9\n", [3, 1, 0, 9]),
        ("7\n", [7]),
        ("0.1,0.9\n0.8,0.2\n", [[0.1, 0.9], [0.8, 0.2]]),
    ],
    ids=["ids", "one id", "probability rows"],
)
def test_load_csv(tmp_path, text, expected):
    (tmp_path / "p.csv").write_text(text)

    np.testing.assert_array_equal(load_file(tmp_path / "p.csv"), expected)


def _truncated_npz(path: Path) -> None:
    np.savez(path, ids=np.arange(100))
    path.write_bytes(path.read_bytes()[:60])


UNREADABLE = [
    # (id, file name, how to write it, fragment of the message)
    (
        "garbage npy",
        "p.npy",
        lambda p: p.write_bytes(b"not numpy at all" * 4),
        "cannot read predictions from p.npy",
    ),
    (
        "pickled npy",
        "p.npy",
        lambda p: np.save(p, np.array([{}], dtype=object)),
        "cannot read predictions from p.npy",
    ),
    ("truncated npz", "p.npz", _truncated_npz, "cannot read predictions from p.npz"),
    (
        "text in csv",
        "p.csv",
        lambda p: p.write_text("cat\ndog\n"),
        "cannot read predictions from p.csv",
    ),
    ("missing file", "p.npy", lambda p: None, "cannot read predictions from p.npy"),
    (
        "unknown suffix",
        "p.json",
        lambda p: p.write_text("[1, 2]"),
        "must be a .npy, .npz or .csv file",
    ),
]


@pytest.mark.parametrize(
    ("name", "write", "fragment"),
    [pytest.param(name, write, frag, id=case) for case, name, write, frag in UNREADABLE],
)
def test_unreadable_file(tmp_path, name, write, fragment):
    write(tmp_path / name)

    with pytest.raises(PredictionError) as excinfo:
        load_file(tmp_path / name)

    assert excinfo.value.code == "unreadable"
    assert fragment in str(excinfo.value)
