"""Candidate summaries: everything the candidates table shows, sorts, filters and counts
by, one row per invitation (outcome, each challenge's cell, headline metric, reviewers'
theory total, attempts, minutes used, decision, the candidate's number, and the stage and
end the state is derived from at request time).

Building every candidate's row in Python before sorting took about a second at 10,000
candidates, and the theory totals one query per row; with a summary row each, a table page
is a count and one limited query. A row is recomputed (by the same code that builds the
table's rows in Python, ``review.service.build_rows``) whenever what it is made of changes,
in the same transaction:

- through the ORM (a submission, a grading, a decision, a theory answer or review, an
  invitation added, changed or deleted, an assessment's clock changed): a session listener
  notes the invitation, and the rows are refreshed just before the commit; deleting an
  invitation renumbers the later ones ("Candidate 7" is the 7th invitation still there);
- through SQL statements that bypass the ORM (a grading stored or given up on by
  ``server.grading``): the writer calls :func:`touch_submission`.

An assessment whose invitations have no summary yet (made before this table, or inserted
in bulk) gets them on its first table view (:func:`ensure`).
"""

from __future__ import annotations

import dataclasses
import json
from collections import defaultdict
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import Session

from server.models import (
    Assessment,
    CandidateSummary,
    Decision,
    Grading,
    Invitation,
    Reveal,
    Submission,
    TheoryAnswer,
    TheoryMark,
    TheoryReview,
)

#: States that the clock cannot change (``invitations.state`` returns them before it looks
#: at the time); any other stage becomes "expired" once its ``ends_at`` has passed.
SETTLED = ("revoked", "graded", "failed", "submitted")

_DIRTY = "assay.summary.invitations"
_DIRTY_SUBMISSIONS = "assay.summary.submissions"
_BATCH = 500


def state_at(stage: str, ends_at: datetime | None, now: datetime) -> str:
    """An invitation's state at ``now`` (as ``invitations.state`` derives it) from its stored
    stage and end: the state itself, stored, would go stale by the clock."""
    if stage in SETTLED:
        return stage
    if ends_at is not None and now >= ends_at:
        return "expired"
    return stage


def _label(number) -> str:
    """A blind reviewer's sort key: the label "Candidate 7" in lower case, as the rows built
    in Python sort it (so "candidate 10" comes before "candidate 2")."""
    return f"candidate {number}"


def refresh(session: Session, invitation_ids) -> None:
    """Recompute the summaries of ``invitation_ids`` (those still there)."""
    from server.review.service import build_rows

    ids = sorted(set(invitation_ids))
    by_assessment: dict[int, list[int]] = defaultdict(list)
    for start in range(0, len(ids), _BATCH):
        part = ids[start : start + _BATCH]
        for iid, aid in session.execute(
            sa.select(Invitation.id, Invitation.assessment_id).where(Invitation.id.in_(part))
        ):
            by_assessment[aid].append(iid)
    for assessment_id, mine in by_assessment.items():
        assessment = session.get(Assessment, assessment_id)
        for start in range(0, len(mine), _BATCH):
            part = mine[start : start + _BATCH]
            rows = build_rows(session, assessment, part, user=None)
            session.execute(
                sa.delete(CandidateSummary).where(CandidateSummary.invitation_id.in_(part))
            )
            session.execute(
                sa.insert(CandidateSummary),
                [
                    {
                        "invitation_id": r.invitation_id,
                        "assessment_id": assessment_id,
                        "number": r.who.number,
                        "name_key": r.who.label.lower(),
                        "label_key": _label(r.who.number),
                        "outcome": r.outcome,
                        "headline": r.headline,
                        "attempts": r.attempts,
                        "minutes_used": r.minutes_used,
                        "decision": r.decision,
                        "theory_total": r.theory[0] if r.theory else None,
                        "theory_max": r.theory[1] if r.theory else None,
                        "theory_confirmed": r.theory_confirmed,
                        "stage": r.stage,
                        "ends_at": r.ends_at,
                        "cells_json": json.dumps([dataclasses.asdict(c) for c in r.cells]),
                    }
                    for r in rows
                ],
            )


def ensure(session: Session, assessment: Assessment, summarised: int | None = None) -> bool:
    """Make the summaries the assessment's invitations lack; whether it made any. Two counts
    when none lack one (a summary outlives no invitation: its foreign key cascades), one when
    the caller counted the summaries (``summarised``)."""
    invited = session.scalar(
        sa.select(sa.func.count()).where(Invitation.assessment_id == assessment.id)
    )
    if summarised is None:
        summarised = session.scalar(
            sa.select(sa.func.count()).where(CandidateSummary.assessment_id == assessment.id)
        )
    if invited == summarised:
        return False
    missing = list(
        session.scalars(
            sa.select(Invitation.id)
            .outerjoin(CandidateSummary, CandidateSummary.invitation_id == Invitation.id)
            .where(
                Invitation.assessment_id == assessment.id,
                CandidateSummary.invitation_id.is_(None),
            )
        )
    )
    if missing:
        refresh(session, missing)
        session.commit()
    return bool(missing)


def counts(session: Session, assessment_id: int) -> dict[str, int]:
    """Candidates by outcome."""
    return dict(
        session.execute(
            sa.select(CandidateSummary.outcome, sa.func.count())
            .where(CandidateSummary.assessment_id == assessment_id)
            .group_by(CandidateSummary.outcome)
        ).all()
    )


def _theory_condition(theory: str):
    """Summaries whose reviewers' theory scoring is ``to_review`` (a submitted answer not yet
    scored) or ``scored`` (every submitted answer scored)."""
    s = CandidateSummary
    if theory == "scored":
        return s.theory_confirmed.is_(True)
    return sa.and_(s.theory_max.is_not(None), s.theory_confirmed.is_(False))


def theory_counts(session: Session, assessment_id: int, outcome: str | None) -> dict[str, int]:
    """Candidates by theory filter (to review, scored), within ``outcome`` when given."""
    s = CandidateSummary
    found = {}
    for name in ("to_review", "scored"):
        query = sa.select(sa.func.count()).where(
            s.assessment_id == assessment_id, _theory_condition(name)
        )
        if outcome:
            query = query.where(s.outcome == outcome)
        found[name] = session.scalar(query)
    return found


def page(
    session: Session,
    assessment_id: int,
    *,
    sort: str,
    descending: bool,
    outcome: str | None,
    theory: str | None = None,
    blind_for: int | None,
    now: datetime,
    limit: int,
    offset: int,
) -> list:
    """One page of summaries in the table's order (as ``review.service._sort_key`` orders
    rows: ties in invitation order, a missing value last unless descending), with the
    candidate's name and email. ``blind_for``: the user id of a blind reviewer (unrevealed
    candidates sort by their label); ``now``: the time the states are taken at."""
    from server.review.service import OUTCOMES

    s = CandidateSummary
    # The order comes from ids alone (each key has a covering index), then the page's rows:
    # sorting whole rows, cells and names included, cost ten times as much.
    query = sa.select(s.invitation_id).where(s.assessment_id == assessment_id)
    if outcome:
        query = query.where(s.outcome == outcome)
    if theory:
        query = query.where(_theory_condition(theory))

    def directed(*keys):
        return [k.desc() if descending else k.asc() for k in keys]

    if sort == "candidate":
        name = s.name_key
        if blind_for is not None:
            label = s.label_key
            name = (
                label
                if not _reveals(session, assessment_id, blind_for)
                else sa.case(
                    (
                        sa.exists().where(
                            Reveal.invitation_id == s.invitation_id, Reveal.user_id == blind_for
                        ),
                        name,
                    ),
                    else_=label,
                )
            )
        keys = directed(_codepoint_order(session, name), s.invitation_id)
    elif sort == "state":
        state = sa.case(
            (s.stage.in_(SETTLED), s.stage), (s.ends_at <= now, "expired"), else_=s.stage
        )
        keys = directed(state)
    elif sort == "outcome":
        keys = directed(sa.case({o: i for i, o in enumerate(OUTCOMES)}, value=s.outcome))
    elif sort == "metric":
        keys = directed(s.headline.is_(None), s.headline)
    elif sort == "theory":  # reviewers' scores only; unscored candidates last
        keys = directed(s.theory_total.is_(None), s.theory_total)
    elif sort == "attempts":
        keys = directed(s.attempts)
    elif sort == "time":
        keys = directed(s.minutes_used.is_(None), s.minutes_used)
    elif sort == "decision":
        keys = directed(sa.func.coalesce(s.decision, "~"))
    else:
        raise ValueError(f"no summary order for {sort!r}")
    if sort != "candidate":
        keys.append(s.invitation_id.asc())  # Python's sort is stable, reversed or not
    ids = list(session.scalars(query.order_by(*keys).limit(limit).offset(offset)))
    if not ids:
        return []
    rows = {
        row.invitation_id: row
        for row in session.execute(
            sa.select(*s.__table__.columns, Invitation.candidate_name, Invitation.candidate_email)
            .join(Invitation, Invitation.id == s.invitation_id)
            .where(s.invitation_id.in_(ids))
        )
    }
    return [rows[i] for i in ids if i in rows]


def _reveals(session: Session, assessment_id: int, user_id: int) -> bool:
    """Whether ``user_id`` revealed any candidate of the assessment (else every row sorts by
    its label, and no row needs a look at the reveals)."""
    return (
        session.scalar(
            sa.select(Reveal.id)
            .join(Invitation, Invitation.id == Reveal.invitation_id)
            .where(Reveal.user_id == user_id, Invitation.assessment_id == assessment_id)
            .limit(1)
        )
        is not None
    )


def _codepoint_order(session: Session, text):
    """``text`` compared character by character, as Python compares strings (PostgreSQL
    would otherwise use the database's locale, which skips spaces and accents)."""
    if session.get_bind().dialect.name == "postgresql":
        return text.collate("C")
    return text  # SQLite's BINARY collation compares UTF-8 bytes: code point order


def touch_submission(session: Session, submission_id: int) -> None:
    """Refresh the summary of ``submission_id``'s candidate before the next commit (for
    writers that change gradings with SQL statements, which the ORM listener does not see)."""
    session.info.setdefault(_DIRTY_SUBMISSIONS, set()).add(submission_id)


_WATCHED = (
    Submission,
    Grading,
    Decision,
    TheoryAnswer,
    TheoryReview,
    TheoryMark,
    Invitation,
    Assessment,
)
_GONE = "assay.summary.gone"
_ASSESSMENTS = "assay.summary.assessments"
#: Assessment columns a candidate's state depends on (when their time ends).
#: (And how its theory answers are scored: one marking or two, the margin.)
_CLOCK = (
    "deadline",
    "time_limit_minutes",
    "theory_question_ids",
    "challenges",
    "double_review",
    "agreement_margin",
)


@event.listens_for(Session, "after_flush")
def _note(session: Session, _context) -> None:
    dirty = session.info.setdefault(_DIRTY, set())
    for obj in (*session.new, *session.dirty, *session.deleted):
        if isinstance(obj, Invitation):
            dirty.add(obj.id)
        elif isinstance(obj, Submission | Decision | TheoryAnswer | TheoryReview | TheoryMark):
            if obj.invitation_id is not None:
                dirty.add(obj.invitation_id)
        elif isinstance(obj, Grading):
            session.info.setdefault(_DIRTY_SUBMISSIONS, set()).add(obj.submission_id)
        elif isinstance(obj, Assessment) and obj in session.dirty:
            state = sa.inspect(obj)
            if any(state.attrs[name].history.has_changes() for name in _CLOCK):
                session.info.setdefault(_ASSESSMENTS, set()).add(obj.id)
    for obj in session.deleted:
        if isinstance(obj, Invitation):
            session.info.setdefault(_GONE, []).append((obj.assessment_id, obj.id))


@event.listens_for(Session, "before_commit")
def _refresh_noted(session: Session) -> None:
    session.flush()
    submissions = session.info.pop(_DIRTY_SUBMISSIONS, set())
    dirty = session.info.pop(_DIRTY, set())
    gone: dict[int, list[int]] = defaultdict(list)
    for assessment_id, invitation_id in session.info.pop(_GONE, []):
        gone[assessment_id].append(invitation_id)
    for assessment_id, invitation_ids in gone.items():
        _renumber(session, assessment_id, invitation_ids)
    for assessment_id in session.info.pop(_ASSESSMENTS, set()):
        dirty |= set(
            session.scalars(
                sa.select(Invitation.id).where(Invitation.assessment_id == assessment_id)
            )
        )
    if submissions:
        dirty |= set(
            session.scalars(
                sa.select(Submission.invitation_id).where(Submission.id.in_(list(submissions)))
            )
        )
    dirty.discard(None)
    if dirty:
        refresh(session, dirty)
        session.info.pop(_DIRTY, None)  # the refresh's own flushes noted nothing new


def _renumber(session: Session, assessment_id: int, gone: list[int]) -> None:
    """Number the summaries after ``gone`` invitations were deleted: "Candidate 7" is the 7th
    of the invitations still there, as the window numbers them (``candidate_numbers``)."""
    s = CandidateSummary
    if len(gone) <= 3:  # a candidate deleted on request: shift the later ones down by one
        for invitation_id in gone:
            session.execute(
                sa.update(s)
                .where(s.assessment_id == assessment_id, s.invitation_id > invitation_id)
                .values(
                    number=s.number - 1,
                    label_key=sa.literal(_label("")) + sa.cast(s.number - 1, sa.String),
                )
            )
        return
    # A retention purge: count once, write the rows whose number changed.
    from server.review.service import _window_numbers

    counted = _window_numbers(session, assessment_id, None)
    stale = [
        {
            "key": invitation_id,
            "number": counted[invitation_id],
            "label": _label(counted[invitation_id]),
        }
        for invitation_id, number in session.execute(
            sa.select(s.invitation_id, s.number).where(
                s.assessment_id == assessment_id, s.invitation_id > min(gone)
            )
        )
        if invitation_id in counted and counted[invitation_id] != number
    ]
    if stale:
        table = s.__table__
        session.execute(
            table.update()
            .where(table.c.invitation_id == sa.bindparam("key"))
            .values(number=sa.bindparam("number"), label_key=sa.bindparam("label")),
            stale,
        )


@event.listens_for(Session, "after_rollback")
def _forget(session: Session) -> None:
    session.info.pop(_DIRTY, None)
    session.info.pop(_DIRTY_SUBMISSIONS, None)
    session.info.pop(_GONE, None)
    session.info.pop(_ASSESSMENTS, None)
