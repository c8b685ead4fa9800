"""What the review pages show and do, as plain functions (no Flask): access, blind review,
the candidates table, theory reviews and decisions.

Access: admins review everything; a recruiter reviews the assessments they own; a reviewer
the assessments they are assigned to. Anyone else gets None and the view answers 404, so a
reviewer of another team cannot even learn that an assessment exists.

Blind review (on by default per assessment): a *reviewer* sees "Candidate 7" until they
reveal the name, which is logged. Recruiters and admins invited the candidate themselves and
see names anyway. Every page, export and API answer takes the label from ``identity``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from types import SimpleNamespace

import sqlalchemy as sa
from sqlalchemy.orm import Session

from graders.challenges import get_challenge
from graders.report import Report
from graders.theory import TheoryScore, load_bank, score_answer
from graders.verdicts import Outcome, outcome
from server import audit, invitations, webhooks
from server.models import (
    ADMIN,
    DECISIONS,
    RECRUITER,
    REVIEWER,
    Assessment,
    Decision,
    Grading,
    Invitation,
    Reveal,
    ReviewAssignment,
    Submission,
    TheoryAnswer,
    TheoryReview,
    User,
)
from server.review import marking
from server.summary import state_at

#: Candidates table filters (``outcome`` of a row).
OUTCOMES = ("passed", "passed_flagged", "below_bar", "failed", "not_started", "pending")
#: Candidates table filters on the reviewers' theory scores: an answer not yet scored, or
#: every submitted answer scored (never on the machine's reading).
THEORY_FILTERS = ("to_review", "scored")
SORTS = ("candidate", "state", "outcome", "metric", "theory", "attempts", "time", "decision")
PER_PAGE = 25


class ReviewError(ValueError):
    """A refused review action; the message says why."""


# -- access ------------------------------------------------------------------------------------


def can_review(session: Session, user: User, assessment: Assessment) -> bool:
    if user.role == ADMIN:
        return True
    if user.role == RECRUITER:
        return assessment.owner_id == user.id
    if user.role == REVIEWER:
        return (
            session.scalar(
                sa.select(ReviewAssignment.id).where(
                    ReviewAssignment.assessment_id == assessment.id,
                    ReviewAssignment.user_id == user.id,
                )
            )
            is not None
        )
    return False


def can_manage(user: User, assessment: Assessment) -> bool:
    """Owner or admin: assign reviewers, turn blind review off, export, read the audit log."""
    return user.role == ADMIN or (user.role == RECRUITER and assessment.owner_id == user.id)


def reviewable(session: Session, user: User) -> list[Assessment]:
    query = sa.select(Assessment).order_by(Assessment.created_at.desc())
    if user.role == RECRUITER:
        query = query.where(Assessment.owner_id == user.id)
    elif user.role == REVIEWER:
        query = query.join(ReviewAssignment, ReviewAssignment.assessment_id == Assessment.id).where(
            ReviewAssignment.user_id == user.id
        )
    elif user.role != ADMIN:
        return []
    return list(session.scalars(query))


@dataclass
class AwaitingReview:
    """One assessment on a reviewer's home page: how many candidates have handed work in
    (graded, failed or submitted) and how many of those have no decision yet."""

    assessment: Assessment
    handed_in: int
    awaiting: int
    theory_unconfirmed: int


def awaiting_review(session: Session, user: User) -> list[AwaitingReview]:
    from server.models import CandidateSummary

    """The user's reviewable assessments with what awaits their review: one grouped query
    over the candidate summaries (made first where an assessment lacks them)."""
    from server import summary

    found = reviewable(session, user)
    if not found:
        return []
    for assessment in found:
        summary.ensure(session, assessment)
    handed = CandidateSummary.stage.in_(("graded", "failed", "submitted"))
    counts = {
        r.assessment_id: r
        for r in session.execute(
            sa.select(
                CandidateSummary.assessment_id,
                sa.func.count().filter(handed).label("handed_in"),
                sa.func.count()
                .filter(handed, CandidateSummary.decision.is_(None))
                .label("awaiting"),
                # "theory to review" as the table's filter reads it (summary.py).
                sa.func.count()
                .filter(
                    CandidateSummary.theory_max.is_not(None),
                    CandidateSummary.theory_confirmed.is_(False),
                )
                .label("theory_unconfirmed"),
            )
            .where(CandidateSummary.assessment_id.in_([a.id for a in found]))
            .group_by(CandidateSummary.assessment_id)
        )
    }
    rows = []
    for assessment in found:
        r = counts.get(assessment.id)
        rows.append(
            AwaitingReview(
                assessment,
                r.handed_in if r else 0,
                r.awaiting if r else 0,
                r.theory_unconfirmed if r else 0,
            )
        )
    rows.sort(key=lambda row: -row.awaiting)
    return rows


def assessment_for(session: Session, user: User, assessment_id: int) -> Assessment | None:
    assessment = session.get(Assessment, assessment_id)
    return assessment if assessment and can_review(session, user, assessment) else None


def invitation_for(session: Session, user: User, invitation_id: int) -> Invitation | None:
    invitation = session.get(Invitation, invitation_id)
    if invitation is None or not can_review(session, user, invitation.assessment):
        return None
    return invitation


def submission_for(session: Session, user: User, submission_id: int) -> Submission | None:
    submission = session.get(Submission, submission_id)
    if submission is None or submission.invitation_id is None:
        return None
    if invitation_for(session, user, submission.invitation_id) is None:
        return None
    return submission


def assign_reviewer(session: Session, actor: User, assessment: Assessment, email: str) -> User:
    reviewer = session.scalar(sa.select(User).where(User.email == email.strip().lower()))
    if reviewer is None or reviewer.role != REVIEWER or not reviewer.active:
        raise ReviewError("no active reviewer account with that email")
    if not can_review(session, reviewer, assessment):
        session.add(ReviewAssignment(assessment_id=assessment.id, user_id=reviewer.id))
        audit.record(
            session,
            "reviewer_assigned",
            actor_id=actor.id,
            assessment_id=assessment.id,
            reviewer_id=reviewer.id,
        )
    return reviewer


def set_blind(session: Session, actor: User, assessment: Assessment, on: bool) -> None:
    assessment.blind_review = on
    audit.record(
        session, "blind_review", actor_id=actor.id, assessment_id=assessment.id, on=bool(on)
    )


# -- blind review ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Identity:
    """How a candidate is shown to one user: ``label`` always; name/email only when not blind."""

    number: int
    label: str
    blind: bool
    name: str | None
    email: str | None


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


def revealed_ids(session: Session, user: User, invitation_ids) -> set[int]:
    if not invitation_ids:
        return set()
    return set(
        session.scalars(
            sa.select(Reveal.invitation_id).where(
                Reveal.user_id == user.id, Reveal.invitation_id.in_(list(invitation_ids))
            )
        )
    )


def blinds(user: User, assessment: Assessment) -> bool:
    """Whether ``user`` reviews ``assessment`` blind (before any reveal)."""
    return bool(assessment.blind_review) and user.role == REVIEWER


def identity(
    session: Session, user: User, invitation: Invitation, number: int | None = None
) -> Identity:
    if number is None:
        number = candidate_numbers(session, invitation.assessment_id, [invitation.id]).get(
            invitation.id, 0
        )
    blind = blinds(user, invitation.assessment) and not revealed_ids(session, user, [invitation.id])
    return _identity(invitation, number, blind)


def identities(
    session: Session, user: User, assessment: Assessment, invitation_ids: list[int]
) -> list[Identity]:
    """``identity`` of several candidates of one assessment, in three queries."""
    if not invitation_ids:
        return []
    numbers = candidate_numbers(session, assessment.id, invitation_ids)
    shown = revealed_ids(session, user, invitation_ids) if blinds(user, assessment) else None
    loaded = {
        i.id: i
        for i in session.scalars(sa.select(Invitation).where(Invitation.id.in_(invitation_ids)))
    }
    return [
        _identity(loaded[i], numbers.get(i, 0), shown is not None and i not in shown)
        for i in invitation_ids
    ]


def _identity(invitation: Invitation, number: int, blind: bool) -> Identity:
    label = f"Candidate {number}" if blind else invitation.candidate_name
    if blind:
        return Identity(number, label, True, None, None)
    return Identity(number, label, False, invitation.candidate_name, invitation.candidate_email)


def reveal(session: Session, user: User, invitation: Invitation) -> None:
    """Show ``user`` the candidate's name from now on; logged (once per user and candidate)."""
    if revealed_ids(session, user, [invitation.id]):
        return
    session.add(Reveal(invitation_id=invitation.id, user_id=user.id))
    audit.record(
        session,
        "reveal",
        actor_id=user.id,
        assessment_id=invitation.assessment_id,
        invitation_id=invitation.id,
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
    return Report.from_json(report_json, scrub=False).headline()


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
        theory, confirmed = _theory(
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


# -- theory ------------------------------------------------------------------------------------


@lru_cache(maxsize=4096)
def _read(question_id: str, text: str) -> TheoryScore:
    return score_answer(load_bank().get(question_id), text)


def reading(question_id: str, text: str) -> TheoryScore:
    """The machine's reading of one answer: evidence (points mentioned, possible
    misconceptions, with spans) for a reviewer, never shown as a score (cached: the same
    text reads the same)."""
    return _read(question_id, text)


def legacy_theory_reviews(session: Session, invitation_id: int) -> list[TheoryReview]:
    """Whole-answer scores from before per-point marking (history only)."""
    return list(
        session.scalars(
            sa.select(TheoryReview)
            .where(TheoryReview.invitation_id == invitation_id)
            .order_by(TheoryReview.id)
        )
    )


def answer_scores(
    session: Session, invitation: Invitation
) -> tuple[dict[str, marking.AnswerScore], dict[str, list[marking.Marking]]]:
    """Each submitted answer's reviewers' score, and its markings, by question id."""
    answers = {a.question_id: a.text for a in invitation.answers if a.submitted_at}
    found = marking.markings_by_answer(
        session,
        [invitation.id],
        lambda _iid, qid: reading(qid, answers[qid]) if qid in answers else None,
    )
    assessment = invitation.assessment
    scores, markings = {}, {}
    for qid in assessment.theory_question_ids or []:
        if qid not in answers:
            continue
        markings[qid] = found.get((invitation.id, qid), [])
        scores[qid] = marking.answer_score(
            load_bank().get(qid),
            markings[qid],
            bool(assessment.double_review),
            assessment.agreement_margin,
        )
    return scores, markings


def theory_total(
    session: Session, invitation: Invitation
) -> tuple[tuple[float, float] | None, bool]:
    """(reviewers' total over the scored answers, maximum of all questions), None when no
    answer is scored yet; and whether every submitted answer is scored."""
    answers = {a.question_id: a.text for a in invitation.answers if a.submitted_at}
    _scores, markings = answer_scores(session, invitation)
    return _theory(invitation.assessment, answers, lambda qid: markings.get(qid, []))


def _theory(
    assessment: Assessment, answers: dict[str, str], markings_of
) -> tuple[tuple[float, float] | None, bool]:
    """``theory_total`` from the submitted answers' texts and ``markings_of(question id)``.
    Only reviewers' scores count: the machine's reading never makes a total."""
    question_ids = assessment.theory_question_ids or []
    if not question_ids or not answers:
        return None, False
    total = maximum = 0.0
    scored = 0
    confirmed = True
    for qid in question_ids:
        question = load_bank().get(qid)
        maximum += question.max_score
        if qid not in answers:
            continue
        result = marking.answer_score(
            question, markings_of(qid), bool(assessment.double_review), assessment.agreement_margin
        )
        if result.score is None:
            confirmed = False
        else:
            total += result.score
            scored += 1
    return (total if scored else None, maximum), confirmed


# -- decisions and re-grades -------------------------------------------------------------------


def decide(
    session: Session, user: User, invitation: Invitation, decision: str, note: str = ""
) -> Decision:
    if decision not in DECISIONS:
        raise ReviewError(f"a decision is one of {', '.join(DECISIONS)}")
    row = Decision(
        invitation_id=invitation.id, decision=decision, note=note.strip()[:4000], decided_by=user.id
    )
    session.add(row)
    audit.record(
        session,
        "decision",
        actor_id=user.id,
        assessment_id=invitation.assessment_id,
        invitation_id=invitation.id,
        decision=decision,
    )
    session.flush()
    webhooks.emit(
        session,
        "decision.made",
        invitation.assessment.owner_id,
        {
            "assessment_id": invitation.assessment_id,
            "invitation_id": invitation.id,
            "decision": decision,
            "decided_at": row.decided_at.isoformat() + "Z",
        },
    )
    return row


def decision_history(session: Session, invitation_id: int) -> list[Decision]:
    return list(
        session.scalars(
            sa.select(Decision)
            .where(Decision.invitation_id == invitation_id)
            .order_by(Decision.id.desc())
        )
    )


def regrade(session: Session, user: User, submission: Submission) -> Grading:
    """``server.grading.regrade`` (safe to press twice), recorded in the audit log."""
    from server.grading import regrade as grading_regrade

    before = submission.latest.id if submission.latest else None
    grading = grading_regrade(session, submission)
    audit.record(
        session,
        "regrade",
        actor_id=user.id,
        assessment_id=session.get(Invitation, submission.invitation_id).assessment_id,
        invitation_id=submission.invitation_id,
        submission_id=submission.id,
        grading_id=grading.id,
        added=grading.id != before,
    )
    return grading


def challenge_title(slug: str) -> str:
    try:
        return get_challenge(slug).spec.title
    except Exception:  # a challenge removed since: show its slug
        return slug


# -- similarity --------------------------------------------------------------------------------


def comparable(session: Session, submission: Submission) -> dict[int, Submission]:
    """The latest submission of each candidate of the same assessment to the same challenge
    (this one for its own candidate), by id."""
    invitation = session.get(Invitation, submission.invitation_id)
    rows = session.scalars(
        sa.select(Submission)
        .join(Invitation, Invitation.id == Submission.invitation_id)
        .where(
            Invitation.assessment_id == invitation.assessment_id,
            Submission.challenge_slug == submission.challenge_slug,
        )
        .order_by(Submission.id)
    )
    latest: dict[int, Submission] = {}
    for row in rows:
        latest[row.invitation_id] = row
    latest[submission.invitation_id] = submission
    return {row.id: row for row in latest.values()}


def similar(session: Session, submission: Submission, limit: int | None = None):
    """Flagged pairs of ``submission`` with other candidates', as stored after its grading
    (similarity.flags): a list of (similarity.Match, the other's invitation id)."""
    from server import similarity

    return similarity.flags(session, submission, limit)
