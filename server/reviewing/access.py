"""Who may review what, and the owner's settings of an assessment's review.

Admins review everything; a recruiter reviews the assessments they own; a reviewer the
assessments they are assigned to. Anyone else gets None from the ``*_for`` look-ups and the
view answers 404, so a reviewer of another team cannot even learn that an assessment exists.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from server import audit
from server.models import (
    ADMIN,
    RECRUITER,
    REVIEWER,
    Assessment,
    Invitation,
    ReviewAssignment,
    Submission,
    User,
)


class ReviewError(ValueError):
    """A refused review action; the message says why."""


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
