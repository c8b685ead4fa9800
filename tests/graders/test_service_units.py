"""The grading service's parts that need no sandbox: catalogue, cleaning, progress, refusals."""

from __future__ import annotations

import json
import os
import threading
import time

import pytest

from graders.catalogue import SANDBOX_CODES, ErrorCode, error_info, from_sandbox, is_platform
from graders.progress import BUDGET_BYTES, ProgressChannel, validate_event
from graders.service import grade_submission
from graders.submissions import strip_identity
from graders.text import clean

# -- catalogue -----------------------------------------------------------------------------------


def test_every_code_has_an_audience_and_messages_in_both_languages():
    for member in ErrorCode:
        assert member.audience in ("candidate", "platform")
        assert member.message("en") and member.message("zh-CN")
        assert member.message("zh") != member.message("en")


def test_the_sandbox_cannot_claim_a_platform_failure():
    assert from_sandbox("platform_error") is ErrorCode.CRASHED
    assert from_sandbox("harness_error") is ErrorCode.CRASHED
    assert from_sandbox(["list"]) is ErrorCode.CRASHED
    assert from_sandbox("train_exception") is ErrorCode.TRAIN_EXCEPTION
    assert "platform_error" not in SANDBOX_CODES and "sandbox_unavailable" not in SANDBOX_CODES


def test_platform_codes_are_retried_and_candidate_codes_are_not():
    assert is_platform("platform_error") and error_info("platform_error").retry
    assert not is_platform("timeout") and not error_info("timeout").retry
    assert error_info("no-such-code") is ErrorCode.CRASHED


def test_docs_list_every_code():
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "grading.md").read_text()
    missing = [m.code for m in ErrorCode if f"`{m.code}`" not in doc]

    assert not missing


# -- cleaning ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("\x1b[2J\x1b[HPASSED", "\\x1b[2J\\x1b[HPASSED"),
        ("\x1b]0;title\x07", "\\x1b]0;title\\x07"),
        ("over\rwrite", "over\\x0dwrite"),
        ("a\u202ereversed", "a\\u202ereversed"),
        ("\ud800", "\ufffd"),
        ("line\nnext\ttab", "line\nnext\ttab"),
        ("中文 ok", "中文 ok"),
    ],
)
def test_clean_escapes_terminal_control_and_spoofing(raw, shown):
    assert clean(raw) == shown


def test_clean_on_one_line_escapes_newlines_and_cuts():
    assert clean("a\nb" * 10, multiline=False, limit=5) == "a\\x0aba\\x0a…"


# -- progress ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "event",
    [
        {"event": "epoch", "epoch": 0, "epochs": 3, "logs": {}},
        {"event": "epoch", "epoch": "1", "epochs": 3, "logs": {}},
        {"event": "epoch", "epoch": 1, "epochs": 3, "logs": {"loss": "low"}},
        {"event": "epoch", "epoch": True, "epochs": 3, "logs": {}},
        {"event": "epoch", "epoch": 1, "epochs": 3, "logs": {"loss": 10**400}},
        {"event": "verdict", "passed": True},
        {"event": "phase", "status": "passed"},
        ["epoch"],
    ],
)
def test_malformed_events_are_dropped(event):
    assert validate_event(event, "train") is None


def test_events_are_normalised_and_cleaned():
    logs = {"\x1b[31mloss": 1.0, "<script>": 2.0, "loss": float("nan"), "acc": 10**30}
    event = {"event": "epoch", "epoch": 5, "epochs": 3, "logs": logs}

    assert validate_event(event, "train") == {
        "event": "epoch",
        "epoch": 5,
        "epochs": 5,
        "logs": {"loss": None, "acc": 1e30},  # names that are no metric name are left out
    }
    assert validate_event({"event": "phase", "phase": "predict", "status": "ok"}, "train") == {
        "event": "phase",
        "phase": "train",
        "status": "ok",
    }


def _write(path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


def test_the_channel_delivers_on_its_own_thread_and_drains_garbage(tmp_path):
    seen = []
    channel = ProgressChannel(
        tmp_path, "train", lambda e: seen.append((e, threading.current_thread().name))
    )
    event = {"event": "epoch", "epoch": 1, "epochs": 2, "logs": {"loss": 0.5}}
    _write(channel.path, b"not json\n" + b"x" * 10_000 + b"\n" + json.dumps(event).encode() + b"\n")
    deadline = time.monotonic() + 5
    while not seen and time.monotonic() < deadline:
        time.sleep(0.05)
    channel.close()

    assert [e for e, _ in seen] == [event]
    assert seen[0][1] == "progress-train" != threading.current_thread().name
    assert channel.dropped == 2
    assert not channel.path.exists()


def test_a_writer_past_the_budget_is_drained_not_blocked(tmp_path):
    seen = []
    channel = ProgressChannel(tmp_path, "train", seen.append)
    line = json.dumps({"event": "predicted", "set": "test", "n": 1}).encode() + b"\n"
    written = 0
    fd = os.open(channel.path, os.O_WRONLY)  # blocking: would hang if the host stopped reading
    try:
        while written < 2 * BUDGET_BYTES:
            written += os.write(fd, line * 100)
    finally:
        os.close(fd)
    channel.close()

    assert 0 < len(seen) * (len(line) - 1) <= BUDGET_BYTES  # the budget counts lines without "\n"
    assert channel.dropped > 0


def test_a_broken_callback_does_not_stop_the_channel(tmp_path):
    calls = []

    def broken(event):
        calls.append(event)
        raise RuntimeError("display crashed")

    channel = ProgressChannel(tmp_path, "train", broken)
    line = json.dumps({"event": "predicted", "set": "test", "n": 1}).encode() + b"\n"
    _write(channel.path, line * 2)
    time.sleep(0.5)
    channel.close()

    assert len(calls) == 2


# -- the service without a sandbox ---------------------------------------------------------------


def test_an_unknown_challenge_is_a_platform_failure_not_an_exception():
    report = grade_submission(challenge="no-such", source=b"x = 1\n", filename="s.py")

    assert report.status == "failed"
    assert report.error.code == "platform_error"
    assert "no-such" in report.error.message


@pytest.mark.parametrize(
    ("filename", "source", "code"),
    [
        ("s.txt", b"x = 1\n", "bad_extension"),
        ("s.py", b"def f(:\n", "syntax_error"),
        ("s.py", b"\xff\xfe", "not_utf8"),
        ("s.ipynb", b"{not json", "invalid_notebook"),
        ("s.py", b"  \n", "empty"),
    ],
)
def test_a_refused_upload_is_a_candidate_failure_before_any_sandbox(
    prepared_data, filename, source, code
):
    events = []
    report = grade_submission(
        challenge="lenet5-mnist",
        source=source,
        filename=filename,
        sandbox="no-such-backend",  # never reached
        progress=events.append,
    )

    assert report.status == "failed"
    assert (report.error.code, report.error.phase) == (code, "upload")


def test_no_sandbox_is_a_retryable_platform_failure(prepared_data):
    report = grade_submission(
        challenge="lenet5-mnist",
        source=b"def build_model():\n    pass\n",
        filename="s.py",
        sandbox="no-such-backend",
    )

    assert report.error.code == "sandbox_unavailable"
    assert error_info(report.error.code).retry


def test_a_crash_inside_the_platform_becomes_a_report(prepared_data, monkeypatch):
    import graders.service

    def explode(*args, **kwargs):
        raise KeyError("bug of ours")

    monkeypatch.setattr(graders.service, "grade", explode)

    class Fake:  # a ready "sandbox" object: the crash happens before it is used
        pass

    report = grade_submission(
        challenge="lenet5-mnist",
        source=b"def build_model():\n    pass\n",
        filename="s.py",
        sandbox=Fake(),
    )

    assert report.error.code == "platform_error"
    assert "KeyError" in report.error.message and "Traceback" in report.error.detail


def test_notebook_author_metadata_is_stripped():
    nb = {
        "metadata": {"authors": [{"name": "Jane Doe"}], "kernelspec": {"name": "python3"}},
        "cells": [],
        "nbformat": 4,
        "nbformat_minor": 5,
    }

    stripped = json.loads(strip_identity(json.dumps(nb).encode()))

    assert "authors" not in stripped["metadata"]
    assert stripped["metadata"]["kernelspec"] == {"name": "python3"}
    assert strip_identity(b"{broken") == b"{broken"


def test_the_heartbeat_ticks_on_its_own_thread_until_stopped():
    from graders.service import _Heartbeat

    ticks = []
    beat = _Heartbeat(lambda e: ticks.append((e, threading.current_thread().name)), every=0.05)
    time.sleep(0.3)
    beat.stop()
    count = len(ticks)
    time.sleep(0.2)

    assert count >= 3 and len(ticks) == count
    assert {e["event"] for e, _ in ticks} == {"heartbeat"}
    assert {name for _, name in ticks} == {"grading-heartbeat"}


def test_an_assessments_bars_reach_the_grading(prepared_data, monkeypatch):
    import graders.service
    from graders.pipeline import GradeOptions

    seen = {}

    def record(challenge, dataset, *args, **kwargs):
        seen["bars"] = challenge.spec.bars(dataset.tier)
        raise KeyError("stop here")

    monkeypatch.setattr(graders.service, "grade", record)
    grade_submission(
        challenge="lenet5-mnist",
        source=b"def build_model():\n    pass\n",
        filename="s.py",
        sandbox=object(),
        options=GradeOptions(bars={"accuracy": 0.97}),
    )

    assert seen["bars"] == {"accuracy": 0.97}


def test_a_bar_on_a_metric_the_challenge_lacks_is_a_platform_failure(prepared_data):
    from graders.pipeline import GradeOptions

    report = grade_submission(
        challenge="lenet5-mnist",
        source=b"def build_model():\n    pass\n",
        filename="s.py",
        options=GradeOptions(bars={"roc_auc": 0.9}),
    )

    assert report.error.code == "platform_error"
    assert "roc_auc" in report.error.message
