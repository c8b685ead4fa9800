"""A candidate's row of the candidates table, built from what it is made of (submissions,
gradings, theory answers and their markings, decisions): what a summary stores
(``store.refresh``) and what the table shows (``table.candidates_table``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from types import SimpleNamespace
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.orm import Session

from graders.report import Report
from graders.verdicts import Outcome, outcome
from server import invitations
from server.models import (
    Assessment,
    Decision,
    Grading,
    Invitation,
    Submission,
    TheoryAnswer,
    User,
)
from server.reviewing.numbers import candidate_numbers
from server.stages import stage_of, state_at

if TYPE_CHECKING:
    from server.reviewing.blind_review import Identity


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
    #: What ``state`` is made of (``stages.state_at``): the stage, the state before the
    #: clock is read (``stages.stage_of``: revoked, graded, failed, submitted, working,
    #: opened, sent), and when the link or the candidate's time ends.
    stage: str = "sent"
    ends_at: datetime | None = None

    @property
    def headline(self) -> float | None:
        values = [c.value for c in self.cells if c.value is not None]
        return min(values) if values else None


def _headline(report_json: str | None, slug: str) -> tuple[str, float | None, float | None]:
    if not report_json:
        return "", None, None
    return Report.from_json(report_json).headline()


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


def latest_decisions(session: Session, invitation_ids) -> dict[int, Decision]:
    newest = (
        sa.select(sa.func.max(Decision.id))
        .where(Decision.invitation_id.in_(list(invitation_ids)))
        .group_by(Decision.invitation_id)
    )
    rows = session.scalars(sa.select(Decision).where(Decision.id.in_(newest)))
    return {d.invitation_id: d for d in rows}


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
    candidate's summary stores (``store.refresh``). Names as ``user`` sees them
    (None: unblinded, for summaries); the state at ``now``. A few column queries, no ORM
    objects."""
    if ids is not None and not ids:
        return []
    # Imported here: ``server.review`` imports its routes, which import this package.
    from server.reviewing import marking
    from server.reviewing.blind_review import Identity, blinds, revealed_ids
    from server.reviewing.theory_scores import reading, total_of_answers

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
        latest = [gradings.get(x.id) for x in mine]
        stage = stage_of(
            revoked=person.revoked_at is not None,
            gradings=[g.status if g is not None else None for g in latest],
            answered=person.id in answered,
            opened=person.opened_at is not None,
            viewed=person.viewed_at is not None,
        )
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
