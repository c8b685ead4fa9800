"""A worker's periodic jobs: one daemon thread each, run every so many seconds until stopped.

A round that fails is logged and the next round tries again: a busy or unreachable database
must not end the thread.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)


def every(
    seconds: float, name: str, job: Callable[[], None], stop: threading.Event | None = None
) -> threading.Event:
    """Run ``job`` every ``seconds`` on a daemon thread; set the returned event to stop it."""
    stop = stop or threading.Event()

    def loop() -> None:
        while not stop.wait(seconds):
            try:
                job()
            except Exception:  # the next round tries again
                log.exception("%s failed", name)

    threading.Thread(target=loop, name=f"assay-{name}", daemon=True).start()
    return stop
