"""Capturing a job's stdout and stderr without trusting their size.

A submission may print gigabytes: ``OutputCapture`` keeps the first ``limit`` bytes,
counts and discards the rest, and hands each complete line within the limit to a
callback as soon as it arrives (progress lines are streamed, not batched).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterable

log = logging.getLogger(__name__)

CHUNK = 64 * 1024


class OutputCapture:
    """The first ``limit`` bytes of a stream, plus a line callback within that limit."""

    def __init__(
        self, limit: int, on_line: Callable[[str], None] | None = None, kill_at: int | None = None
    ):
        self.limit = limit
        self.on_line = on_line
        self.kill_at = kill_at
        self.truncated = False
        self.total_bytes = 0
        self._buf = bytearray()
        self._line_start = 0

    def feed(self, data: bytes) -> None:
        """Add the next chunk; anything past the limit is dropped (and counted)."""
        self.total_bytes += len(data)
        room = self.limit - len(self._buf)
        if len(data) > room:
            self.truncated = True
            data = data[: max(room, 0)]
        if data:
            self._buf += data
            self._emit_lines()

    def close(self) -> None:
        """End of stream: deliver a last unterminated line, unless it was cut short."""
        if not self.truncated and self._line_start < len(self._buf):
            self._deliver(bytes(self._buf[self._line_start :]))
            self._line_start = len(self._buf)

    @property
    def flooded(self) -> bool:
        """More than ``kill_at`` bytes arrived: the job should be killed, not drained."""
        return self.kill_at is not None and self.total_bytes > self.kill_at

    @property
    def text(self) -> str:
        """What was kept, decoded as UTF-8 (invalid bytes replaced)."""
        return self._buf.decode("utf-8", "replace")

    def _emit_lines(self) -> None:
        while (end := self._buf.find(b"\n", self._line_start)) >= 0:
            self._deliver(bytes(self._buf[self._line_start : end]))
            self._line_start = end + 1

    def _deliver(self, raw: bytes) -> None:
        if self.on_line is None:
            return
        try:
            self.on_line(raw.decode("utf-8", "replace").rstrip("\r"))
        except Exception:  # a broken callback must not stop the capture
            log.exception("on_stdout_line callback failed")


def pump_fd(fd: int, capture: OutputCapture) -> threading.Thread:
    """Start a daemon thread that reads ``fd`` to EOF into ``capture``, then closes ``fd``."""

    def pump():
        try:
            while chunk := os.read(fd, CHUNK):
                capture.feed(chunk)
        finally:
            os.close(fd)
            capture.close()

    thread = threading.Thread(target=pump, name=f"sandbox-pump-{fd}", daemon=True)
    thread.start()
    return thread


def pump_demuxed(
    chunks: Iterable[tuple[bytes | None, bytes | None]],
    stdout: OutputCapture,
    stderr: OutputCapture,
) -> threading.Thread:
    """Start a daemon thread feeding ``(stdout, stderr)`` chunk pairs (Docker's demux)."""

    def pump():
        try:
            for out, err in chunks:
                if out:
                    stdout.feed(out)
                if err:
                    stderr.feed(err)
        except Exception as exc:  # the stream breaks when the container is killed
            log.debug("output stream ended: %s", exc)
        finally:
            stdout.close()
            stderr.close()

    thread = threading.Thread(target=pump, name="sandbox-pump-docker", daemon=True)
    thread.start()
    return thread
