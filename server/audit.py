"""The audit log: who did what, when. Append-only; no names or emails in it.

``record`` adds an event to the caller's session (committed with the action it records, so
an action that rolls back leaves no event). Users and candidates are named by id only: when
a candidate's data is deleted the event that says so stays, and says nothing about them.
Logins are recorded from Flask-Login's ``user_logged_in`` signal, new invitations (from
the recruiter's pages, a CSV or the API alike) from a session hook: ``connect(app)``.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from server.models import AuditEvent, utcnow

#: Every action the log knows; ``record`` refuses others, so a typo cannot hide an event.
ACTIONS = (
    "login",
    "invitation",
    "reveal",
    "theory_confirm",
    "theory_override",
    "decision",
    "regrade",
    "deletion",
    "blind_review",
    "double_review",
    "reviewer_assigned",
    "export",
)


def record(
    session: Session,
    action: str,
    *,
    actor_id: int | None,
    assessment_id: int | None = None,
    invitation_id: int | None = None,
    **detail: Any,
) -> AuditEvent:
    """Add one event to ``session``; ``detail`` holds ids and choices, never personal data."""
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}")
    event = AuditEvent(
        at=utcnow(),
        actor_id=actor_id,
        action=action,
        assessment_id=assessment_id,
        invitation_id=invitation_id,
        detail=detail,
    )
    session.add(event)
    return event


def events(
    session: Session, *, assessment_id: int | None = None, limit: int = 200
) -> list[AuditEvent]:
    """The newest events first, of one assessment or of all."""
    query = sa.select(AuditEvent).order_by(AuditEvent.id.desc()).limit(limit)
    if assessment_id is not None:
        query = query.where(AuditEvent.assessment_id == assessment_id)
    return list(session.scalars(query))


def _actor_id() -> int | None:
    from flask import g, has_request_context
    from flask_login import current_user

    if not has_request_context():
        return None
    user = g.get("api_user") or current_user
    return user.id if getattr(user, "is_authenticated", False) else None


def _new_invitations(session: Session, _context, _instances) -> None:
    from server.models import Invitation

    # Ids exist only after the flush: _record_invitations writes the events then.
    session.info.setdefault("assay.new_invitations", []).extend(
        o for o in session.new if isinstance(o, Invitation)
    )


def _record_invitations(session: Session, _context) -> None:
    created = session.info.pop("assay.new_invitations", [])
    for invitation in created:
        # Added after the flush; the commit's flush loop writes it in the same transaction.
        record(
            session,
            "invitation",
            actor_id=_actor_id(),
            assessment_id=invitation.assessment_id,
            invitation_id=invitation.id,
        )


_hooked = False


def connect(app) -> None:
    """Record logins and new invitations of ``app``'s requests (and of any session)."""
    global _hooked
    if not _hooked:
        sa.event.listen(Session, "before_flush", _new_invitations)
        sa.event.listen(Session, "after_flush_postexec", _record_invitations)
        sa.event.listen(
            Session, "after_soft_rollback", lambda s, _p: s.info.pop("assay.new_invitations", 0)
        )
        _hooked = True
    connect_logins(app)


def connect_logins(app) -> None:
    """Record every staff login of ``app`` (Flask-Login's signal; the auth views stay as they are)."""
    from flask_login import user_logged_in

    def on_login(sender, user, **_extra) -> None:
        from server.extensions import db

        session = db()
        record(session, "login", actor_id=user.id)
        session.commit()

    user_logged_in.connect(on_login, app, weak=False)
