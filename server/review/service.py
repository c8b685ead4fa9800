"""The candidates table, as plain functions (no Flask): one row per candidate, filtered,
sorted and cut to one page from the candidates' stored summaries (``server.summary``), and
the rows those summaries store (``build_rows``). Names are shown as ``review.blind_review`` says.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from types import SimpleNamespace

import sqlalchemy as sa
from sqlalchemy.orm import Session

from graders.verdicts import Outcome, outcome
from server import invitations
from server.models import (
    Assessment,
    Grading,
    Invitation,
    Submission,
    TheoryAnswer,
    User,
)
from server.review import marking
from server.review.blind_review import Identity, blinds, revealed_ids
from server.review.decisions import latest_decisions
from server.review.theory_scores import reading, total_of_answers
from server.summary import state_at

#: Candidates table filters (``outcome`` of a row).
OUTCOMES = ("passed", "passed_flagged", "below_bar", "failed", "not_started", "pending")
#: Candidates table filters on the reviewers' theory scores: an answer not yet scored, or
#: every submitted answer scored (never on the machine's reading).
THEORY_FILTERS = ("to_review", "scored")
SORTS = ("candidate", "state", "outcome", "metric", "theory", "attempts", "time", "decision")
PER_PAGE = 25


def candidate_numbers(session: Session, assessment_id: int, only=None) -> dict[int, int]:
    """Invitation id -> its stable number in the assessment (1 for the first invited), of
    every invitation or of those in ``only``: read from their summaries (``server.summary``
    keeps the numbers as invitations come and go), numbered by the database in one pass for
    those without one."""
    if only is None:
        return _window_numbers(session, assessment_id, None)
    only = list(only)
    if not only:
        return {}
    from server.models import CandidateSummary

    found = dict(
        session.execute(
            sa.select(CandidateSummary.invitation_id, CandidateSummary.number).where(
                CandidateSummary.invitation_id.in_(only), CandidateSummary.number.is_not(None)
            )
        ).all()
    )
    missing = [i for i in only if i not in found]
    if missing:
        found.update(_window_numbers(session, assessment_id, missing))
    return found


def _window_numbers(session: Session, assessment_id: int, only) -> dict[int, int]:
    """``candidate_numbers`` counted from the invitations themselves."""
    if only is None:
        ids = session.scalars(
            sa.select(Invitation.id)
            .where(Invitation.assessment_id == assessment_id)
            .order_by(Invitation.id)
        )
        return {invitation_id: n for n, invitation_id in enumerate(ids, start=1)}
    only = list(only)
    if not only:
        return {}
    numbered = (
        sa.select(
            Invitation.id.label("id"),
            sa.func.row_number().over(order_by=Invitation.id).label("number"),
        )
        .where(Invitation.assessment_id == assessment_id)
        .subquery()
    )
    return dict(
        session.execute(
            sa.select(numbered.c.id, numbered.c.number).where(numbered.c.id.in_(only))
        ).all()
    )


# -- the candidates table ----------------------------------------------------------------------


@dataclass
class ChallengeCell:
    slug: str
    submission_id: int | None = None
    status: str | None = None  # queued / running / graded / failed, None: nothing submitted
    passed: bool | None = None
    metric: str = ""
    value: float | None = None
    bar: float | None = None
    error_code: str | None = None
    #: Reason codes of a flagged pass (graders.verdicts), comma-separated.
    review_reasons: str = ""

    @property
    def outcome(self) -> Outcome:
        return outcome(self.status, self.passed, self.review_reasons.split(","))


@dataclass
class CandidateRow:
    invitation_id: int
    who: Identity
    state: str
    outcome: str
    cells: list[ChallengeCell]
    attempts: int
    minutes_used: float | None
    decision: str | None
    #: (reviewers' total over the scored answers or None, max); None: no answer submitted.
    theory: tuple[float | None, float] | None = None
    theory_confirmed: bool = False
    #: What ``state`` is made of (``state_at``): the state before the clock is read
    #: (revoked, graded, submitted, working, opened, sent), and when the link or the
    #: candidate's time ends.
    stage: str = "sent"
    ends_at: datetime | None = None

    @property
    def headline(self) -> float | None:
        values = [c.value for c in self.cells if c.value is not None]
        return min(values) if values else None


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


def _headline(report_json: str | None, slug: str) -> tuple[str, float | None, float | None]:
    if not report_json:
        return "", None, None
    report = json.loads(report_json)
    primary = report.get("primary_metric") or ""
    checks = (report.get("verdict") or {}).get("checks") or []
    # The headline is what the pass was decided on: the bar's metric (the sentiment
    # sample's bar is on ROC-AUC while its primary metric is F1), the primary one only
    # when it has a bar too or when there is no bar.
    check = next((c for c in checks if c.get("metric") == primary), None) or next(
        (c for c in checks if c.get("metric")), None
    )
    if check is not None:
        return check.get("metric"), check.get("value"), check.get("bar")
    test = report.get("test") or {}
    value = next((m["value"] for m in test.get("metrics", []) if m["name"] == primary), None)
    return primary, value, None


def _outcome(cells: list[ChallengeCell]) -> str:
    statuses = [c.status for c in cells]
    if all(s is None for s in statuses):
        return "not_started"
    if any(s == "failed" for s in statuses):
        return "failed"
    if any(s == "graded" and not c.passed for s, c in zip(statuses, cells, strict=True)):
        return "below_bar"
    if all(s == "graded" for s in statuses):
        return "passed_flagged" if any(c.outcome.flagged for c in cells) else "passed"
    return "pending"


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
    from server import summary

    sort = sort if sort in SORTS else "candidate"
    outcome = outcome if outcome in OUTCOMES else None
    theory = theory if theory in THEORY_FILTERS else None
    now = now or invitations.utcnow()
    counts = summary.counts(session, assessment.id)
    if summary.ensure(session, assessment, summarised=sum(counts.values())):
        counts = summary.counts(session, assessment.id)
    theory_counts = summary.theory_counts(session, assessment.id, outcome)
    if theory:
        total = theory_counts.get(theory, 0)
    else:
        total = counts.get(outcome, 0) if outcome else sum(counts.values())
    pages = max(1, -(-total // per_page))
    page = min(max(1, page), pages)
    blind_for = user.id if blinds(user, assessment) else None
    found = summary.page(
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
    """A table row from a summary row (``summary.page``)."""
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


def build_rows(
    session: Session,
    assessment: Assessment,
    ids: list[int] | None,
    *,
    user: User | None,
    now: datetime | None = None,
) -> list[CandidateRow]:
    """The table's rows of invitations ``ids`` (every one of the assessment when None), in
    that order, from their submissions, gradings, answers, reviews and decisions: what a
    candidate's summary stores (``server.summary.refresh``). Names as ``user`` sees them
    (None: unblinded, for summaries); the state at ``now``. A few column queries, no ORM
    objects."""
    if ids is not None and not ids:
        return []
    now = now or invitations.utcnow()
    mine_only = (
        (lambda column: column.in_(ids))
        if ids is not None
        else (
            lambda column: column.in_(
                sa.select(Invitation.id).where(Invitation.assessment_id == assessment.id)
            )
        )
    )
    people = {
        p.id: p
        for p in session.execute(
            sa.select(
                Invitation.id,
                Invitation.candidate_name,
                Invitation.candidate_email,
                Invitation.opened_at,
                Invitation.viewed_at,
                Invitation.revoked_at,
                Invitation.expires_at,
                Invitation.extra_time_factor,
                Invitation.finished_at,
            )
            .where(Invitation.assessment_id == assessment.id, mine_only(Invitation.id))
            .order_by(Invitation.id)
        )
    }
    order = list(people) if ids is None else [i for i in ids if i in people]
    # Stored numbers where there are (kept as invitations go), counted for new ones.
    numbers = candidate_numbers(session, assessment.id, None if ids is None else order)
    revealed = (
        revealed_ids(session, user, order)
        if user is not None and blinds(user, assessment)
        else None
    )
    decisions = latest_decisions(session, order) if order else {}
    subs = session.execute(
        sa.select(
            Submission.id,
            Submission.invitation_id,
            Submission.challenge_slug,
            Submission.counts_as_attempt,
            Submission.created_at,
        )
        .where(mine_only(Submission.invitation_id))
        .order_by(Submission.id)
    ).all()
    newest = (
        sa.select(sa.func.max(Grading.id))
        .join(Submission, Submission.id == Grading.submission_id)
        .where(mine_only(Submission.invitation_id))
        .group_by(Grading.submission_id)
    )
    gradings = {
        g.submission_id: g
        for g in session.execute(
            sa.select(
                Grading.id,
                Grading.submission_id,
                Grading.status,
                Grading.passed,
                Grading.review_reasons,
                Grading.error_code,
                Grading.queued_at,
                Grading.finished_at,
            ).where(Grading.id.in_(newest))
        )
    }
    answers: dict[int, dict[str, str]] = {}
    answered: dict[int, datetime] = {}
    for a in session.execute(
        sa.select(
            TheoryAnswer.invitation_id,
            TheoryAnswer.question_id,
            TheoryAnswer.text,
            TheoryAnswer.submitted_at,
        ).where(mine_only(TheoryAnswer.invitation_id), TheoryAnswer.submitted_at.is_not(None))
    ):
        answers.setdefault(a.invitation_id, {})[a.question_id] = a.text
        answered[a.invitation_id] = max(
            a.submitted_at, answered.get(a.invitation_id, a.submitted_at)
        )
    marked = marking.markings_by_answer(
        session,
        [i for i in order if i in answers],
        lambda iid, qid: reading(qid, answers[iid][qid]) if qid in answers.get(iid, {}) else None,
    )
    headlines = _headlines(session, [g for g in gradings.values() if g.status == "graded"])
    by_person: dict[int, list] = {}
    for sub in subs:
        by_person.setdefault(sub.invitation_id, []).append(sub)
    slugs = assessment.challenge_slugs
    rows = []
    for invitation_id in order:
        person = people[invitation_id]
        number = numbers.get(person.id, 0)
        mine = by_person.get(person.id, [])
        cells = []
        for slug in slugs:
            cell = ChallengeCell(slug)
            latest_sub = next((x for x in reversed(mine) if x.challenge_slug == slug), None)
            if latest_sub is not None:
                cell.submission_id = latest_sub.id
                grading = gradings.get(latest_sub.id)
                if grading is not None:
                    cell.status, cell.passed = grading.status, grading.passed
                    cell.review_reasons = grading.review_reasons or ""
                    cell.error_code = grading.error_code
                    if grading.status == "graded":  # a failed run's figures mean nothing
                        cell.metric, cell.value, cell.bar = headlines.get(
                            grading.id, ("", None, None)
                        )
            cells.append(cell)
        decision = decisions.get(person.id)
        blind = revealed is not None and person.id not in revealed
        times = [x.created_at for x in mine] + (
            [answered[person.id]] if answered.get(person.id) else []
        )
        minutes = (
            max(0.0, (max(times) - person.opened_at).total_seconds() / 60)
            if person.opened_at and times
            else None
        )
        stage = _stage(person, [gradings.get(x.id) for x in mine], person.id in answered)
        theory, confirmed = total_of_answers(
            assessment,
            answers.get(person.id, {}),
            lambda qid, _p=person.id: marked.get((_p, qid), []),
        )
        ends_at = _ends_at(assessment, person)
        rows.append(
            CandidateRow(
                invitation_id=person.id,
                who=Identity(
                    number,
                    f"Candidate {number}" if blind else person.candidate_name,
                    blind,
                    None if blind else person.candidate_name,
                    None if blind else person.candidate_email,
                ),
                state=state_at(stage, ends_at, now),
                outcome=_outcome(cells),
                cells=cells,
                attempts=sum(1 for x in mine if x.counts_as_attempt),
                minutes_used=minutes,
                decision=decision.decision if decision else None,
                theory=theory,
                theory_confirmed=confirmed,
                stage=stage,
                ends_at=ends_at,
            )
        )
    return rows


def _stage(person, latest_gradings: list, answered: bool) -> str:
    """``invitations.state`` up to the clock, from column values: revoked; with
    submissions, graded once every graded one's newest grading has finished (failed if
    one of them failed to run: never shown as a success); submitted answers; then working
    (opened), opened (viewed) or sent."""
    if person.revoked_at is not None:
        return "revoked"
    if latest_gradings:
        started = [g for g in latest_gradings if g is not None]
        done = started and all(g.status in ("graded", "failed") for g in started)
        if not done:
            return "submitted"
        return "failed" if any(g.status == "failed" for g in started) else "graded"
    if answered:
        return "submitted"
    if person.opened_at is not None:
        return "working"
    if person.viewed_at is not None:
        return "opened"
    return "sent"


def _ends_at(assessment: Assessment, person) -> datetime:
    """When the state turns "expired": the link's expiry before the clock starts, the end
    of the candidate's time after (``invitations.time_ends_at``, on the row's values)."""
    if person.opened_at is None:
        return person.expires_at
    clock = SimpleNamespace(
        expires_at=person.expires_at,
        opened_at=person.opened_at,
        extra_time_factor=person.extra_time_factor,
        finished_at=person.finished_at,
        assessment=assessment,
    )
    return invitations.time_ends_at(clock)


#: Headline (metric, value, bar) of finished gradings: a stored report never changes (a
#: re-grade is a new grading), so each is parsed once per process. Keyed by more than the id:
#: SQLite hands a deleted last row's id out again (retention deletes gradings), and another
#: database (a test's) has gradings of the same ids; their times tell them apart.
_HEADLINES: dict[tuple, tuple[str, float | None, float | None]] = {}
_HEADLINES_MAX = 200_000


def _headline_key(grading) -> tuple:
    return (grading.id, grading.submission_id, grading.queued_at, grading.finished_at)


def _headlines(session: Session, gradings: list) -> dict:
    """Headlines of finished ``gradings``, by grading id."""
    keys = {g.id: _headline_key(g) for g in gradings}
    missing = [gid for gid, key in keys.items() if key not in _HEADLINES]
    for chunk in range(0, len(missing), 500):
        part = missing[chunk : chunk + 500]
        for gid, report_json in session.execute(
            sa.select(Grading.id, Grading.report_json).where(Grading.id.in_(part))
        ):
            if len(_HEADLINES) >= _HEADLINES_MAX:
                _HEADLINES.clear()
            _HEADLINES[keys[gid]] = _headline(report_json, "")
    return {gid: _HEADLINES[key] for gid, key in keys.items() if key in _HEADLINES}


def _sort_key(sort: str):
    # None sorts last ascending: a missing value is never "the best".
    def missing_last(value):
        return (value is None, value if value is not None else 0)

    return {
        "candidate": lambda r: (r.who.label.lower(), r.invitation_id),
        "state": lambda r: r.state,
        "outcome": lambda r: OUTCOMES.index(r.outcome),
        "metric": lambda r: missing_last(r.headline),
        "theory": lambda r: missing_last(r.theory[0] if r.theory else None),
        "attempts": lambda r: r.attempts,
        "time": lambda r: missing_last(r.minutes_used),
        "decision": lambda r: r.decision or "~",
    }[sort]
