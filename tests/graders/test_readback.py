"""What a sandbox leaves in /out is hostile: each file is checked before the host uses it."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from graders.readback import (
    HISTORY_MAX_BYTES,
    OutputRejected,
    read_history,
    read_predictions,
    read_result,
)

OK = {"phase": "train", "status": "ok", "warnings": [], "seed": 1}


def write(path, data) -> None:
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")


def test_a_good_result_is_read_and_cleaned(tmp_path):
    write(tmp_path / "result.json", {**OK, "warnings": ["\x1b]52;c;ZXZpbA==\x07 clipboard"]})

    result = read_result(tmp_path, "train")

    assert result["status"] == "ok"
    assert result["warnings"] == ["\\x1b]52;c;ZXZpbA==\\x07 clipboard"]


def test_no_result_file_is_none(tmp_path):
    assert read_result(tmp_path, "train") is None


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        ({**OK, "detail": 42}, "detail"),
        ({**OK, "warnings": 3}, "warnings"),
        ({**OK, "status": "passed"}, "status"),
        ({**OK, "param_count": True}, "param_count"),
        ({**OK, "train_seconds": "fast"}, "train_seconds"),
        ({**OK, "warnings": ["x"] * 1000}, "warnings"),
        ({**OK, "message": "m" * 100_000}, "message"),
        ([1, 2, 3], "top level"),
        ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
        ("{not json", "not valid JSON"),
    ],
)
def test_a_malformed_result_is_invalid_output(tmp_path, content, fragment):
    write(tmp_path / "result.json", content)

    with pytest.raises(OutputRejected) as info:
        read_result(tmp_path, "train")

    assert info.value.code == "invalid_output"
    assert fragment in str(info.value)


def test_a_lone_surrogate_in_a_warning_is_replaced(tmp_path):
    (tmp_path / "result.json").write_text(
        '{"phase": "train", "status": "ok", "warnings": ["bad \\ud800 text"]}'
    )

    result = read_result(tmp_path, "train")

    assert result["warnings"] == ["bad \ufffd text"]
    json.dumps(result, ensure_ascii=False).encode("utf-8")  # storable


def test_a_result_that_is_a_symlink_is_refused(tmp_path):
    target = tmp_path / "elsewhere.json"
    write(target, OK)
    (tmp_path / "result.json").symlink_to(target)

    with pytest.raises(OutputRejected, match="not a regular file"):
        read_result(tmp_path, "train")


def test_a_huge_history_is_refused_before_it_is_parsed(tmp_path):
    path = tmp_path / "history.json"
    with path.open("w") as f:
        f.write('{"loss": [')
        f.write("0.5, " * (HISTORY_MAX_BYTES // 4))
        f.write("0.5]}")

    with pytest.raises(OutputRejected, match="limit"):
        read_history(tmp_path)


@pytest.mark.parametrize(
    "history",
    [
        {"loss": ["0.5", 0.4]},
        {"loss": [True]},
        {"loss": 0.5},
        {"loss": [[0.5]]},
        {"loss": [0.1] * 5000},
        {f"m{i}": [0.1] for i in range(100)},
        [0.5, 0.4],
    ],
)
def test_a_history_of_the_wrong_shape_is_invalid_output(tmp_path, history):
    write(tmp_path / "history.json", history)

    with pytest.raises(OutputRejected) as info:
        read_history(tmp_path)

    assert info.value.code == "invalid_output"


def test_a_diverged_history_keeps_its_nans_as_gaps_and_drops_names_that_are_no_metric(tmp_path):
    (tmp_path / "history.json").write_text(
        '{"loss": [1.5, NaN, Infinity], "\\u001b[2J": [1], "<b>shadow re-run by staff</b>": [1]}'
    )

    history = read_history(tmp_path)

    assert history == {"loss": [1.5, None, None]}


def test_predictions_round_trip(tmp_path):
    path = tmp_path / "predictions_test.npy"
    np.save(path, np.arange(12, dtype=np.int64))

    assert read_predictions(path, path.name).tolist() == list(range(12))


def test_truncated_predictions_are_invalid_predictions(tmp_path):
    path = tmp_path / "predictions_test.npy"
    np.save(path, np.arange(1000, dtype=np.float32))
    path.write_bytes(path.read_bytes()[:-100])

    with pytest.raises(OutputRejected) as info:
        read_predictions(path, path.name)

    assert info.value.code == "invalid_predictions"
    assert "promises" in str(info.value)


def test_a_header_promising_a_huge_array_is_refused_without_allocating_it(tmp_path):
    path = tmp_path / "predictions_test.npy"
    np.save(path, np.zeros(4, dtype=np.float64))
    data = path.read_bytes().replace(b"(4,)", b"(999999999999,)".ljust(4)[:15])
    path.write_bytes(data)

    with pytest.raises(OutputRejected):
        read_predictions(path, path.name)


def test_object_arrays_are_refused(tmp_path):
    path = tmp_path / "predictions_test.npy"
    np.save(path, np.array([{"a": 1}], dtype=object), allow_pickle=True)

    with pytest.raises(OutputRejected, match="plain number"):
        read_predictions(path, path.name)


def test_a_fifo_in_place_of_predictions_is_refused(tmp_path):
    path = tmp_path / "predictions_test.npy"
    os.mkfifo(path)

    with pytest.raises(OutputRejected, match="not a regular file"):
        read_predictions(path, path.name)
