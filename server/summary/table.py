"""The candidates table: one page of candidates' rows, filtered, sorted and counted in SQL
over their summaries (``page``), as a user sees them (blind or not)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.orm import Session

from server import invitations
from server.models import Assessment, User
from server.stages import state_at
from server.summary import page as summaries
from server.summary import store
from server.summary.page import OUTCOMES, PER_PAGE, SORTS, THEORY_FILTERS
from server.summary.rows import CandidateRow, ChallengeCell


@dataclass
class Table:
    rows: list[CandidateRow]
    total: int
    page: int
    pages: int
    sort: str
    descending: bool
    outcome: str | None
    counts: dict[str, int] = field(default_factory=dict)
    theory: str | None = None
    #: Candidates by THEORY_FILTERS (within the outcome filter).
    theory_counts: dict[str, int] = field(default_factory=dict)


def candidates_table(
    session: Session,
    user: User,
    assessment: Assessment,
    *,
    sort: str = "candidate",
    descending: bool = False,
    outcome: str | None = None,
    theory: str | None = None,
    page: int = 1,
    per_page: int = PER_PAGE,
    now: datetime | None = None,
) -> Table:
    """One row per candidate, filtered, sorted and cut to one page on the server.

    Everything the table shows, sorts, filters and counts by is in the candidates'
    summaries (``server.summary``), kept up to date as their inputs change: a page is a
    count and one limited query (two for a blind reviewer: the reveals), whatever the
    number of candidates. The state is the one column that depends on the time of the
    request; it is derived in the query from the stored stage and end (``state_at``).
    """
    # Imported here: ``server.review`` imports its routes, which import this package.
    from server.reviewing.blind_review import blinds, revealed_ids

    sort = sort if sort in SORTS else "candidate"
    outcome = outcome if outcome in OUTCOMES else None
    theory = theory if theory in THEORY_FILTERS else None
    now = now or invitations.utcnow()
    counts = summaries.counts(session, assessment.id)
    if store.ensure(session, assessment, summarised=sum(counts.values())):
        counts = summaries.counts(session, assessment.id)
    theory_counts = summaries.theory_counts(session, assessment.id, outcome)
    if theory:
        total = theory_counts.get(theory, 0)
    else:
        total = counts.get(outcome, 0) if outcome else sum(counts.values())
    pages = max(1, -(-total // per_page))
    page = min(max(1, page), pages)
    blind_for = user.id if blinds(user, assessment) else None
    found = summaries.page(
        session,
        assessment.id,
        sort=sort,
        descending=descending,
        outcome=outcome,
        theory=theory,
        blind_for=blind_for,
        now=now,
        limit=per_page,
        offset=(page - 1) * per_page,
    )
    revealed = (
        revealed_ids(session, user, [r.invitation_id for r in found])
        if blind_for is not None
        else None
    )
    shown = [
        _stored_row(r, revealed is not None and r.invitation_id not in revealed, now) for r in found
    ]
    return Table(
        shown,
        total,
        page,
        pages,
        sort,
        descending,
        outcome,
        {name: counts.get(name, 0) for name in OUTCOMES},
        theory,
        {name: theory_counts.get(name, 0) for name in THEORY_FILTERS},
    )


def _stored_row(r, blind: bool, now: datetime) -> CandidateRow:
    """A table row from a summary row (``page.page``)."""
    # Imported here: ``server.review`` imports its routes, which import this package.
    from server.reviewing.blind_review import Identity

    who = Identity(
        r.number,
        f"Candidate {r.number}" if blind else r.candidate_name,
        blind,
        None if blind else r.candidate_name,
        None if blind else r.candidate_email,
    )
    return CandidateRow(
        invitation_id=r.invitation_id,
        who=who,
        state=state_at(r.stage, r.ends_at, now),
        outcome=r.outcome,
        cells=[ChallengeCell(**cell) for cell in json.loads(r.cells_json or "[]")],
        attempts=r.attempts,
        minutes_used=r.minutes_used,
        decision=r.decision,
        theory=(r.theory_total, r.theory_max) if r.theory_max is not None else None,
        theory_confirmed=bool(r.theory_confirmed),
        stage=r.stage,
        ends_at=r.ends_at,
    )
