"""What the review pages show and do, as plain functions (no Flask): access, blind review,
theory reviews and decisions (the candidates table is ``server.summary``'s).

Access: admins review everything; a recruiter reviews the assessments they own; a reviewer
the assessments they are assigned to. Anyone else gets None and the view answers 404, so a
reviewer of another team cannot even learn that an assessment exists.

Blind review (on by default per assessment): a *reviewer* sees "Candidate 7" until they
reveal the name, which is logged. Recruiters and admins invited the candidate themselves and
see names anyway. Every page, export and API answer takes the label from ``identity``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import sqlalchemy as sa
from sqlalchemy.orm import Session

from graders.challenges import get_challenge
from graders.theory import TheoryScore, load_bank, score_answer
from server import audit, webhooks
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
    TheoryReview,
    User,
)
from server.review import marking
from server.summary.numbers import candidate_numbers


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
    from server.summary import store

    found = reviewable(session, user)
    if not found:
        return []
    for assessment in found:
        store.ensure(session, assessment)
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
                # "theory to review" as the table's filter reads it (summary/page.py).
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
