"""Invitations: tokens, CSV import, revoke/extend/resend/extra time, state and the clock.

The token is 32 random bytes, URL-safe; only its SHA-256 is stored, so a copy of the database
does not open anyone's assessment. Resending makes a new token: the old link stops working
(the old token cannot be recovered to send it again).

The clock: a candidate's time runs from ``opened_at`` for ``time_limit_minutes`` times their
``extra_time_factor``, and never past the assessment's deadline or the link's expiry.
"""

from __future__ import annotations

import csv
import hashlib
import io
import secrets
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from server.models import Assessment, Invitation, utcnow
from server.models.grading import FAILED, GRADED

STATES = ("sent", "opened", "working", "submitted", "graded", "expired", "revoked")
MAX_CSV_ROWS = 2000
MIN_FACTOR, MAX_FACTOR = 1.0, 4.0


class InvitationError(ValueError):
    """A refused invitation change; the message says why."""


class CsvError(InvitationError):
    """A bad CSV row; ``line`` is its 1-based line number in the file."""

    def __init__(self, line: int, message: str):
        super().__init__(f"line {line}: {message}")
        self.line = line


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> tuple[str, str]:
    """A fresh link token and its hash."""
    token = secrets.token_urlsafe(32)
    return token, hash_token(token)


def find_by_token(session: Session, token: str) -> Invitation | None:
    if not token or len(token) > 100:
        return None
    from sqlalchemy import select

    return session.scalar(select(Invitation).where(Invitation.token_hash == hash_token(token)))


def _check_person(name: str, email: str) -> tuple[str, str]:
    name, email = name.strip(), email.strip().lower()
    if not name:
        raise InvitationError("the candidate's name is empty")
    if len(name) > 200:
        raise InvitationError("the candidate's name is longer than 200 characters")
    local, _, domain = email.partition("@")
    if not local or "." not in domain or len(email) > 254 or any(c.isspace() for c in email):
        raise InvitationError(f"not an email address: {email!r}")
    return name, email


def invite(
    session: Session,
    assessment: Assessment,
    name: str,
    email: str,
    *,
    days: int = 14,
    now: datetime | None = None,
) -> tuple[Invitation, str]:
    """A new invitation (flushed) and its token, which only the link will carry."""
    name, email = _check_person(name, email)
    now = now or utcnow()
    token, digest = new_token()
    invitation = Invitation(
        assessment_id=assessment.id,
        candidate_name=name,
        candidate_email=email,
        token_hash=digest,
        created_at=now,
        expires_at=now + timedelta(days=days),
    )
    session.add(invitation)
    session.flush()
    return invitation, token


def parse_csv(text: str) -> list[tuple[str, str]]:
    """``(name, email)`` rows; a header row ``name,email`` is allowed. ``CsvError`` names the line."""
    rows: list[tuple[str, str]] = []
    seen: dict[str, int] = {}
    reader = csv.reader(io.StringIO(text))
    for row in reader:
        line = reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        if not rows and [c.strip().lower() for c in row] == ["name", "email"]:
            continue
        if len(row) != 2:
            raise CsvError(line, f"expected 2 columns (name, email), found {len(row)}")
        try:
            name, email = _check_person(row[0], row[1])
        except InvitationError as exc:
            raise CsvError(line, str(exc)) from None
        if email in seen:
            raise CsvError(line, f"{email} is already on line {seen[email]}")
        seen[email] = line
        rows.append((name, email))
        if len(rows) > MAX_CSV_ROWS:
            raise CsvError(line, f"more than {MAX_CSV_ROWS} rows; split the file")
    if not rows:
        raise CsvError(1, "no candidates in the file")
    return rows


def invite_many(
    session: Session, assessment: Assessment, text: str, *, days: int = 14
) -> list[tuple[Invitation, str]]:
    """Invite every row of a CSV, or none: a bad row raises before anything is added."""
    rows = parse_csv(text)
    return [invite(session, assessment, name, email, days=days) for name, email in rows]


def for_assessment(session: Session, assessment: Assessment) -> list[Invitation]:
    """The assessment's invitations, newest first, with what ``state`` reads loaded."""
    from sqlalchemy import select
    from sqlalchemy.orm import selectinload

    from server.models import Submission

    query = (
        select(Invitation)
        .where(Invitation.assessment_id == assessment.id)
        .options(
            selectinload(Invitation.submissions).selectinload(Submission.gradings),
            selectinload(Invitation.answers),
        )
        .order_by(Invitation.id.desc())
    )
    return list(session.scalars(query))


def revoke(invitation: Invitation, now: datetime | None = None) -> None:
    if invitation.revoked_at is None:
        invitation.revoked_at = now or utcnow()


def extend(invitation: Invitation, days: int, now: datetime | None = None) -> None:
    """Push the link's expiry ``days`` past the later of now and the current expiry."""
    if not 1 <= days <= 90:
        raise InvitationError("extend by 1 to 90 days")
    base = max(invitation.expires_at, now or utcnow())
    invitation.expires_at = base + timedelta(days=days)


def rotate_token(invitation: Invitation) -> str:
    """A new token for a resend; the previous link stops working."""
    token, invitation.token_hash = new_token()
    return token


def set_extra_time(invitation: Invitation, factor: float) -> None:
    """Change the accessibility factor; it applies at once, also while the candidate works."""
    if not MIN_FACTOR <= factor <= MAX_FACTOR:
        raise InvitationError(f"the factor must lie between {MIN_FACTOR} and {MAX_FACTOR}")
    invitation.extra_time_factor = factor


# -- the clock ---------------------------------------------------------------------------------


def link_expired(invitation: Invitation, now: datetime) -> bool:
    return now >= invitation.expires_at


def time_ends_at(invitation: Invitation) -> datetime | None:
    """When the candidate's time ends; None before the clock starts (then only the deadline)."""
    ends = [invitation.expires_at]
    deadline = invitation.assessment.deadline
    if deadline is not None:
        ends.append(deadline)
    if invitation.opened_at is not None:
        minutes = invitation.assessment.time_limit_minutes * invitation.extra_time_factor
        ends.append(invitation.opened_at + timedelta(minutes=minutes))
    return min(ends)


def seconds_left(invitation: Invitation, now: datetime) -> int:
    ends = time_ends_at(invitation)
    return max(0, int((ends - now).total_seconds())) if ends else 0


def accepting(invitation: Invitation, now: datetime, grace_seconds: int = 0) -> bool:
    """Whether work is accepted at ``now`` (``grace_seconds`` past the end for an upload)."""
    if invitation.revoked_at is not None or invitation.opened_at is None:
        return False
    return now < time_ends_at(invitation) + timedelta(seconds=grace_seconds)


# -- state -------------------------------------------------------------------------------------


def state(invitation: Invitation, now: datetime | None = None) -> str:
    """One of ``STATES``, derived from the rows (never stored, so it cannot go stale)."""
    now = now or utcnow()
    if invitation.revoked_at is not None:
        return "revoked"
    if invitation.submissions:
        latest = [s.latest for s in invitation.submissions if s.latest is not None]
        done = latest and all(g.status in (GRADED, FAILED) for g in latest)
        return "graded" if done else "submitted"
    if any(a.submitted_at for a in invitation.answers):
        return "submitted"
    if link_expired(invitation, now) or (invitation.opened_at and not accepting(invitation, now)):
        return "expired"
    if invitation.opened_at is not None:
        return "working"
    if invitation.viewed_at is not None:
        return "opened"
    return "sent"
