"""Queueing a grading (the web side): a new one, a re-grade, its place in the queue.

A ``Grading`` row is the truth and a queue message only a wake-up call: an id is enqueued
after the commit that made it queued (never before: a worker could find nothing). Re-grading
adds a ``Grading`` row; the history is kept and a submission shows its latest. These
functions leave the commit to the caller. What happens to a grading once a worker takes it
(the lease, its heartbeats, the fenced result, expiry and retries) is ``server.leases``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from graders.options import dumps_options, loads_options
from graders.pipeline import GradeOptions
from server import fairqueue
from server.db import after_commit
from server.models.base import utcnow
from server.models.grading import (
    FIRST,
    QUEUED,
    RETRY,
    RUNNING,
    Grading,
    Submission,
)
from server.queue import QueueSettings, enqueue_grading, get_huey

log = logging.getLogger(__name__)

_PENDING = "assay.enqueue"  # session.info key: grading ids to enqueue after commit
_HUEY = "assay.huey"  # session.info key: the Huey to enqueue on (default: the environment's)


# -- web side: queue a grading -------------------------------------------------------------------


def enqueue_submission(
    session: Session,
    submission: Submission,
    options: GradeOptions | Mapping[str, Any],
    *,
    max_tries: int | None = None,
) -> Grading:
    """A queued ``Grading`` for ``submission``; its id is enqueued once the caller commits.

    ``options``: a ``graders.pipeline.GradeOptions`` (or its fields as plain values), stored
    with the grading, so a retry grades exactly the same way. An unknown key or a value of
    the wrong type raises ``graders.options.OptionsError`` here: nothing is added or queued.
    """
    grading = Grading(
        submission=submission,
        status=QUEUED,
        options_json=dumps_options(options),
        max_tries=max_tries or QueueSettings.from_env().max_tries,
        queued_at=utcnow(),
        **fairqueue.place(session, submission, FIRST),
    )
    session.add(grading)
    session.flush()
    enqueue_after_commit(session, grading.id)
    return grading


def regrade(session: Session, submission: Submission) -> Grading:
    """Grade ``submission`` again (a new row, history kept); safe to press twice.

    While a grading of it is queued or running, that one is returned and nothing is added.
    The check and the insert are one statement, so two presses at once add one row.
    """
    latest = submission.latest
    # Never graded (its dry run failed): the options its dry run kept for the grading.
    kept = latest or (submission.dry_runs[-1] if submission.dry_runs else None)
    # Checked again: a row stored before options were checked may carry an unknown key
    # (``OptionsError``: the re-grade is refused, nothing is added).
    options_json = dumps_options(loads_options(kept.options_json) if kept else GradeOptions())
    max_tries = latest.max_tries if latest else None
    session.flush()
    busy = sa.exists().where(
        Grading.submission_id == submission.id, Grading.status.in_((QUEUED, RUNNING))
    )
    fair = fairqueue.place(session, submission, RETRY)  # a re-grade waits behind first tries
    row = sa.select(
        sa.literal(submission.id),
        sa.literal(QUEUED),
        sa.literal(0),
        sa.literal(max_tries or QueueSettings.from_env().max_tries),
        sa.literal(utcnow(), sa.DateTime()),
        sa.literal(options_json),
        sa.literal(""),
        sa.literal(fair["lane"]),
        sa.literal(fair["fair_tag"], sa.Double()),
        sa.literal(fair["invitation_id"], sa.Integer()),
        sa.literal(fair["assessment_id"], sa.Integer()),
    ).where(~busy)
    # RETURNING, not rowcount: psycopg reports -1 rows for an INSERT ... SELECT.
    added = session.execute(
        sa.insert(Grading)
        .from_select(
            [
                "submission_id",
                "status",
                "tries",
                "max_tries",
                "queued_at",
                "options_json",
                "platform_note",
                "lane",
                "fair_tag",
                "invitation_id",
                "assessment_id",
            ],
            row,
        )
        .returning(Grading.id)
    ).scalar()
    session.expire(submission, ["gradings"])
    newest = session.scalars(
        sa.select(Grading).where(Grading.submission_id == submission.id).order_by(Grading.id.desc())
    ).first()
    if added is not None:
        enqueue_after_commit(session, newest.id)
    return newest


def enqueue_after_commit(session: Session, grading_id: int) -> None:
    """Send ``grading_id`` to the queue when ``session`` commits (dropped on rollback)."""
    after_commit(session, _PENDING, [grading_id], _send_pending)


def _send_pending(session: Session, ids: list[int]) -> None:
    huey = session.info.get(_HUEY) or get_huey()
    for grading_id in ids:
        try:
            enqueue_grading(huey, grading_id)
        except Exception:  # the queue is down: the sweeper re-sends it (rule 7)
            log.exception("could not enqueue grading %s; the sweeper will", grading_id)


def queue_position(session: Session, grading: Grading) -> int | None:
    """1 for the next grading to start, 2 behind it, ...; None when it is not queued.

    The order the workers follow (``server.fairqueue``), not the order of arrival.
    """
    return fairqueue.position(session, grading)


def attempts_used(session: Session, invitation_id: int) -> int:
    """Submissions of an invitation that count against its attempt limit."""
    return session.scalar(
        sa.select(sa.func.count())
        .select_from(Submission)
        .where(Submission.invitation_id == invitation_id, Submission.counts_as_attempt)
    )


def use_queue(factory, huey) -> None:
    """Make the sessions of ``factory`` enqueue on ``huey`` (default: the environment's)."""
    factory.configure(info={_HUEY: huey})
