"""API tokens: created for a user with a scope, shown once, stored hashed, revocable."""

from __future__ import annotations

import hashlib
import secrets

import sqlalchemy as sa
from sqlalchemy.orm import Session

from server.models import ApiToken, User, utcnow
from server.models.api import READ, SCOPES, WRITE

PREFIX = "assay_"


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create(session: Session, user: User, name: str, scope: str) -> tuple[ApiToken, str]:
    """A new token row (flushed) and the token itself, which is never stored."""
    if scope not in SCOPES:
        raise ValueError(f"a scope is one of {', '.join(SCOPES)}")
    name = name.strip()[:100] or "token"
    token = PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(
        user_id=user.id, name=name, token_hash=_digest(token), prefix=token[:12], scope=scope
    )
    session.add(row)
    session.flush()
    return row, token


def authenticate(session: Session, token: str) -> ApiToken | None:
    """The live token row for ``token`` whose user is active, else None."""
    if not token.startswith(PREFIX):
        return None
    row = session.scalar(sa.select(ApiToken).where(ApiToken.token_hash == _digest(token)))
    if row is None or row.revoked_at is not None or not row.user.active:
        return None
    row.last_used_at = utcnow()
    return row


def allows(row: ApiToken, scope: str) -> bool:
    """A write token may read; a read token may only read."""
    return row.scope == WRITE or scope == READ


def for_user(session: Session, user: User) -> list[ApiToken]:
    return list(
        session.scalars(
            sa.select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.id.desc())
        )
    )


def revoke(session: Session, user: User, token_id: int) -> bool:
    row = session.get(ApiToken, token_id)
    if row is None or row.user_id != user.id:
        return False
    row.revoked_at = row.revoked_at or utcnow()
    return True
