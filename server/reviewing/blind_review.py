"""Blind review: how a candidate is shown to one user.

On by default per assessment: a *reviewer* sees "Candidate 7" until they reveal the name,
which is logged. Recruiters and admins invited the candidate themselves and see names
anyway. Every page, export and API answer takes the label from ``identity``.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from server import audit
from server.models import REVIEWER, Assessment, Invitation, Reveal, User
from server.reviewing.numbers import candidate_numbers


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
