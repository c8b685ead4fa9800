"""Where a candidate is: the invitation's state machine, once, as plain functions of values
(no session, no query), for everybody who derives it (``invitations.state`` from the ORM
objects, the candidates' summaries from column values, the SQL page's sort by state).

An invitation's state is its *stage* (what its rows say: revoked, graded, failed, submitted,
working, opened, sent) read at a time: a stage the clock cannot change is the state; any
other becomes "expired" once the link's expiry or the candidate's time has passed.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

#: Stages that the clock cannot change (``state_at`` returns them before it looks at the
#: time); any other stage becomes "expired" once its end has passed.
SETTLED = ("revoked", "graded", "failed", "submitted")


def stage_of(
    *,
    revoked: bool,
    gradings: Iterable[str | None],
    answered: bool,
    opened: bool,
    viewed: bool,
) -> str:
    """The stage before the clock is read: revoked; with submissions (``gradings``: the
    status of each submission's newest grading, None where it has none), graded once every
    graded one's newest grading has finished (failed if one of them failed to run: never
    shown as a success), else submitted; submitted theory answers; then working (opened),
    opened (viewed) or sent."""
    if revoked:
        return "revoked"
    gradings = list(gradings)
    if gradings:
        started = [status for status in gradings if status is not None]
        done = started and all(status in ("graded", "failed") for status in started)
        if not done:
            return "submitted"
        return "failed" if "failed" in started else "graded"
    if answered:
        return "submitted"
    if opened:
        return "working"
    if viewed:
        return "opened"
    return "sent"


def state_at(stage: str, ends_at: datetime | None, now: datetime) -> str:
    """An invitation's state at ``now`` from its stage and when it ends (the link's expiry
    before the clock starts, the end of the candidate's time after): the state itself,
    stored, would go stale by the clock."""
    if stage in SETTLED:
        return stage
    if ends_at is not None and now >= ends_at:
        return "expired"
    return stage
