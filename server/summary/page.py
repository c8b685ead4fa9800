"""The candidates table's page in SQL: the summaries counted by outcome and theory filter,
sorted by any column and cut to one page, with the state taken at the request's time."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from server.models import CandidateSummary, Invitation, Reveal
from server.stages import SETTLED

#: Candidates table filters (``outcome`` of a row).
OUTCOMES = ("passed", "passed_flagged", "below_bar", "failed", "not_started", "pending")
#: Candidates table filters on the reviewers' theory scores: an answer not yet scored, or
#: every submitted answer scored (never on the machine's reading).
THEORY_FILTERS = ("to_review", "scored")
SORTS = ("candidate", "state", "outcome", "metric", "theory", "attempts", "time", "decision")
PER_PAGE = 25


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
    """One page of summaries in the table's order (the only place it is written): by
    ``sort`` (one of ``SORTS``; the name as shown compared by code point, the state at
    ``now``, the outcome in ``OUTCOMES`` order, no decision last), ties in invitation order,
    a missing value last unless descending (a stable sort, reversed), with the candidate's
    name and email. ``blind_for``: the user id of a blind reviewer (unrevealed
    candidates sort by their label); ``now``: the time the states are taken at."""
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
