"""The hiring team's decisions on candidates (each recorded in the audit log and sent to the
owner's webhooks) and their history (the latest per candidate: ``server.summary.rows``)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from server import audit, webhooks
from server.models import DECISIONS, Decision, Invitation, User
from server.reviewing.access import ReviewError


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
