"""Property tests: whatever a sandbox writes, the readers answer or refuse; nothing escapes.

Hypothesis feeds arbitrary JSON values (huge integers, NaN, deep nesting, odd keys) and
arbitrary bytes to ``result.json``, ``history.json``, the ``.npy`` reader, the saved model's
inspection and the progress channel. The only exception a reader may raise is
``OutputRejected`` (or ``ModelRejected``) with a candidate-side code; every value it returns
is storable as JSON and shows no raw control character.
"""

from __future__ import annotations

import io
import json
import math
import os
import time
import zipfile

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from graders.catalogue import error_info
from graders.modelfile import ModelRejected, inspect
from graders.progress import ProgressChannel, validate_event
from graders.readback import OutputRejected, read_history, read_predictions, read_result

SETTINGS = settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

big_ints = st.integers(min_value=-(10**400), max_value=10**400)
scalars = (
    st.none()
    | st.booleans()
    | big_ints
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=40)
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=6) | st.dictionaries(st.text(max_size=12), inner, max_size=6)
    ),
    max_leaves=40,
)
metric_names = st.sampled_from(["loss", "accuracy", "val_loss", "auc_1"]) | st.text(max_size=20)
histories = st.dictionaries(metric_names, st.lists(scalars | json_values, max_size=8), max_size=6)
results = st.fixed_dictionaries(
    {
        "phase": st.sampled_from(["train", "predict", "x"]),
        "status": st.sampled_from(["ok", "error", 1]),
    },
    optional={
        "code": json_values,
        "message": json_values,
        "warnings": st.lists(st.text(max_size=30) | big_ints, max_size=5),
        "seed": big_ints,
        "mode": json_values,
        "param_count": big_ints | st.floats(),
        "train_seconds": big_ints | st.floats(),
        "versions": st.dictionaries(st.text(max_size=10), json_values, max_size=3),
    },
)


def dumps(value) -> bytes:
    return json.dumps(value, allow_nan=True).encode()


def safe(value) -> None:
    text = json.dumps(value, allow_nan=False)  # storable: no NaN left, no int beyond JSON
    text.encode("utf-8")
    assert not any(ch in text for ch in "\x1b\x07\x9b\u202e")


def candidate_side(exc: Exception) -> None:
    assert isinstance(exc, OutputRejected | ModelRejected), repr(exc)
    assert error_info(exc.code).audience == "candidate"


def read(reader, folder, name: str, data: bytes, *args):
    (folder / name).write_bytes(data)
    try:
        return reader(folder, *args)
    except Exception as exc:
        candidate_side(exc)
        return None


@SETTINGS
@given(data=results | json_values)
def test_result_json_of_any_shape(tmp_path, data):
    result = read(read_result, tmp_path, "result.json", dumps(data), "train")
    if result is not None:
        safe(result)
        assert result["phase"] in ("train", "predict")  # classify() checks which


@SETTINGS
@given(data=st.binary(max_size=300))
def test_result_json_of_any_bytes(tmp_path, data):
    read(read_result, tmp_path, "result.json", data, "train")


@SETTINGS
@given(data=histories | json_values)
def test_history_json_of_any_shape(tmp_path, data):
    history = read(read_history, tmp_path, "history.json", dumps(data))
    if history is not None:
        safe(history)
        for values in history.values():
            assert all(v is None or math.isfinite(v) for v in values)


def test_the_401_digit_integer_of_the_issue_is_invalid_output(tmp_path):
    (tmp_path / "history.json").write_bytes(b'{"loss": [1' + b"0" * 400 + b"]}")

    with pytest.raises(OutputRejected) as info:
        read_history(tmp_path)

    assert info.value.code == "invalid_output"
    assert "'loss' holds an integer too large for a number (401 digits)" in str(info.value)


@SETTINGS
@given(data=st.binary(max_size=300))
def test_history_json_of_any_bytes(tmp_path, data):
    read(read_history, tmp_path, "history.json", data)


@SETTINGS
@given(data=st.binary(max_size=400))
def test_predictions_of_any_bytes(tmp_path, data):
    path = tmp_path / "predictions_test.npy"
    path.write_bytes(b"\x93NUMPY" + data)
    try:
        read_predictions(path, "predictions_test.npy")
    except Exception as exc:
        candidate_side(exc)


@SETTINGS
@given(config=json_values, asset=st.binary(max_size=200))
def test_saved_models_of_any_config(tmp_path, config, asset):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("config.json", dumps(config))
        z.writestr("assets/x.txt", asset)
    path = tmp_path / "model.keras"
    path.write_bytes(buffer.getvalue())
    try:
        carried = inspect(path)
    except Exception as exc:
        candidate_side(exc)
    else:
        assert carried.numbers >= 0


@SETTINGS
@given(
    event=json_values
    | st.fixed_dictionaries(
        {"event": st.just("epoch")},
        optional={
            "epoch": big_ints,
            "epochs": big_ints,
            "logs": st.dictionaries(metric_names, scalars),
        },
    )
)
def test_progress_events_of_any_shape(event):
    shown = validate_event(event, "train")
    if shown is not None:
        safe(shown)


@pytest.fixture(scope="module")
def channel(tmp_path_factory):
    """One channel for every example (closing one waits for its reader's 0.2 s poll)."""
    seen: list[dict] = []
    channel = ProgressChannel(tmp_path_factory.mktemp("fifo"), "train", seen.append)
    channel.seen = seen
    yield channel
    channel.close()


@SETTINGS
@given(lines=st.lists(st.binary(max_size=200) | json_values.map(dumps), min_size=1, max_size=8))
def test_the_progress_reader_survives_any_line(channel, lines):
    channel.seen.clear()
    channel.dropped, channel.accepted_bytes = 0, 0
    for line in lines:
        channel._line(line.replace(b"\n", b" "))
    good = {"event": "epoch", "epoch": 1, "epochs": 1, "logs": {"loss": 0.5}}
    channel._line(json.dumps(good).encode())  # still read after whatever came before
    assert channel.seen[-1] == good
    assert channel._thread.is_alive()
    assert channel.dropped + len(channel.seen) == len(lines) + 1
    for event in channel.seen:
        safe(event)


def test_the_reader_thread_survives_lines_through_the_fifo(tmp_path):
    seen = []
    channel = ProgressChannel(tmp_path, "train", seen.append)
    good = json.dumps({"event": "epoch", "epoch": 1, "epochs": 1, "logs": {"loss": 0.5}})
    bad = [
        b'{"event": "epoch", "epoch": 1, "epochs": 1, "logs": {"loss": 1' + b"0" * 400 + b"}}",
        b'{"event": "epoch", "epoch": 1' + b"0" * 5000 + b', "epochs": 1}',
        b"\xff\xfe not utf-8",
        b"[" * 3000 + b"]" * 3000,
    ]
    fd = os.open(channel.path, os.O_WRONLY | os.O_NONBLOCK)
    try:
        os.write(fd, b"\n".join(bad) + b"\n" + good.encode() + b"\n")
    finally:
        os.close(fd)
    deadline = time.monotonic() + 5
    while not seen and time.monotonic() < deadline:
        time.sleep(0.05)
    channel.close()

    # Every bad line is dropped and counted; the thread read on to the good one.
    assert seen == [json.loads(good)]
    assert channel.dropped == 4
