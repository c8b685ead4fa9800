"""The progress channel: typed events from the harness, read on the host on their own budget.

The harness writes one JSON event per line into a FIFO that the host creates in the job's
read-only input folder (``/job/progress``; writing to a FIFO needs no writable file system).
It is not the candidate's stdout, so a chatty ``fit`` cannot use up the budget and silence
progress, and printing a line that looks like an event forges nothing.

Candidate code runs in the harness's own process, so it *can* find and write to the FIFO.
Progress is therefore for display only: every event is checked against a small schema
(types, ranges, lengths, strings cleaned), the host drains the FIFO whatever arrives (a
writer can never block training), and nothing that decides a verdict is read from here.

Callbacks run on the channel's reader thread, never on the thread that started the grading.
The thread survives any line: one that breaks the schema, or raises anything while read, is
counted in ``dropped`` and skipped.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import select
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from graders.readback import METRIC_NAME
from graders.text import clean

log = logging.getLogger(__name__)

FIFO_NAME = "progress"
#: Bytes of events accepted per phase; past it the FIFO is still drained, events dropped.
BUDGET_BYTES = 2 * 1024 * 1024
LINE_MAX = 4096
MAX_EPOCHS = 100_000
MAX_LOG_KEYS = 16

Progress = Callable[[dict], None]
#: The steps a dry run's harness reports (``sandbox/harness.py``: ``CHECK_STEPS``).
DRY_RUN_STEPS = ("contract", "build", "train", "save", "load", "predict")


def _count(value: Any, low: int = 0, high: int = 10**9) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool) and low <= value <= high:
        return value
    return None


def _logs(value: Any) -> dict[str, float | None] | None:
    """Metric name -> value (NaN and infinities as None); None (the event dropped) for a value
    that is not a number or an integer beyond a float's range. A name that is not a metric
    name is left out."""
    if not isinstance(value, dict) or len(value) > MAX_LOG_KEYS:
        return None
    logs: dict[str, float | None] = {}
    for key, number in value.items():
        if not isinstance(number, int | float) or isinstance(number, bool):
            return None
        if not METRIC_NAME.fullmatch(key):
            continue
        try:
            number = float(number)
        except OverflowError:  # an int of hundreds of digits: float() raises; no metric
            return None
        logs[key] = number if math.isfinite(number) else None
    return logs


def validate_event(event: Any, phase: str) -> dict | None:
    """The event as the host shows it, or None when it breaks the schema (dropped)."""
    if not isinstance(event, dict):
        return None
    kind = event.get("event")
    if kind == "phase" and event.get("status") in ("start", "ok", "error"):
        return {"event": "phase", "phase": phase, "status": event["status"]}
    if kind == "epoch":
        epoch, epochs = _count(event.get("epoch"), 1, MAX_EPOCHS), _count(event.get("epochs"), 1)
        logs = _logs(event.get("logs", {}))
        if epoch is None or epochs is None or logs is None:
            return None
        return {"event": "epoch", "epoch": epoch, "epochs": max(epochs, epoch), "logs": logs}
    if kind == "step" and event.get("step") in DRY_RUN_STEPS and event.get("status") == "ok":
        return {"event": "step", "step": event["step"], "status": "ok"}
    if kind == "predicted":
        n, name = _count(event.get("n")), event.get("set")
        if n is None or not isinstance(name, str):
            return None
        return {"event": "predicted", "set": clean(name, multiline=False, limit=32), "n": n}
    return None


class ProgressChannel:
    """The host end of one phase's progress FIFO; ``close`` stops the reader thread."""

    def __init__(self, folder: Path, phase: str, deliver: Progress | None):
        self.path = folder / FIFO_NAME
        self.phase, self.deliver = phase, deliver
        os.mkfifo(self.path, 0o600)
        self.path.chmod(0o666)  # the sandbox's user is not the owner
        # Read-write, so that the open does not wait for a writer and never sees end-of-file
        # between writers; non-blocking, so that the reader thread can notice close().
        self._fd = os.open(self.path, os.O_RDWR | os.O_NONBLOCK)
        self._stop = threading.Event()
        self.accepted_bytes = 0
        self.dropped = 0
        self._thread = threading.Thread(target=self._read, name=f"progress-{phase}", daemon=True)
        self._thread.start()

    def _read(self) -> None:
        pending = b""
        while True:
            ready, _, _ = select.select([self._fd], [], [], 0.2)
            if not ready:
                if self._stop.is_set():  # stopped, and everything written is read
                    return
                continue
            try:
                chunk = os.read(self._fd, 65536)
            except BlockingIOError:
                continue
            except OSError:
                return
            pending += chunk
            *lines, pending = pending.split(b"\n")
            if len(pending) > LINE_MAX:  # an endless line: drop it
                pending, self.dropped = b"", self.dropped + 1
            for line in lines:
                try:
                    self._line(line)
                except Exception:  # whatever a line holds, the reader reads the next one
                    self.dropped += 1
                    log.warning("progress line dropped", exc_info=True)

    def _line(self, line: bytes) -> None:
        if len(line) > LINE_MAX or self.accepted_bytes + len(line) > BUDGET_BYTES:
            self.dropped += 1
            return
        self.accepted_bytes += len(line)
        try:
            event = validate_event(json.loads(line), self.phase)
        except Exception:  # bad UTF-8 or JSON, absurd nesting or numbers: the candidate's bytes
            event = None
        if event is None:
            self.dropped += 1
        elif self.deliver is not None:
            try:
                self.deliver(event)
            except Exception:  # a broken display must not break grading
                log.exception("progress callback failed")

    def close(self) -> None:
        """Stop reading (after draining what is already in the FIFO) and remove the FIFO."""
        if self._stop.is_set():
            return  # closed already: the descriptor number may belong to another file now
        self._stop.set()
        self._thread.join(timeout=5)
        with contextlib.suppress(OSError):
            os.close(self._fd)
        with contextlib.suppress(OSError):
            self.path.unlink()
