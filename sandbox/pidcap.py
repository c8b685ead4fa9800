"""Noticing a job that sits at its process cap.

A fork bomb that catches ``OSError`` and keeps forking never raises: the pids limit holds
it, but it keeps every CPU busy until the wall limit (30 minutes for a full train phase).
Both backends therefore sample the job's task count (threads included, as the pids limit
counts them) about every half second; at the cap for ``HOLD_SECONDS`` in a row, the job
is killed and reported with ``RunResult.pids_capped`` (``too_many_processes``). An honest
job that touches the cap gets an error from ``fork``/``pthread_create`` and ends by itself
within that time.
"""

from __future__ import annotations

import time
from collections.abc import Callable

HOLD_SECONDS = 3.0
SAMPLE_SECONDS = 0.5


def at_cap(count: int, cap: int) -> bool:
    """Whether ``count`` tasks is at the cap ``cap`` (a task or two may be exiting)."""
    return count >= cap - max(1, cap // 64)


class PidsCapWatch:
    """``capped()`` says whether the job has been at its cap for ``hold_seconds``.

    ``count`` returns the job's current task count, or None when unknown (it then never
    says capped). Cheap to call often: it samples at most every ``sample_seconds``.
    """

    def __init__(
        self,
        count: Callable[[], int | None],
        cap: int,
        hold_seconds: float = HOLD_SECONDS,
        sample_seconds: float = SAMPLE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.count, self.cap = count, cap
        self.hold, self.every, self.clock = hold_seconds, sample_seconds, clock
        self._sampled = float("-inf")
        self._since: float | None = None
        self.hit = False

    def capped(self) -> bool:
        """True once the job has sat at its cap for the hold time (and from then on)."""
        now = self.clock()
        if self.hit or now - self._sampled < self.every:
            return self.hit
        self._sampled = now
        try:
            count = self.count()
        except Exception:  # a vanished cgroup or container: nothing to say
            count = None
        if count is None or not at_cap(count, self.cap):
            self._since = None
            return False
        if self._since is None:
            self._since = now
        self.hit = now - self._since >= self.hold
        return self.hit
