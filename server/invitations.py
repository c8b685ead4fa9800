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

from email_validator import EmailNotValidError, validate_email
from sqlalchemy.orm import Session

from server.models import Assessment, Invitation, utcnow
from server.stages import stage_of, state_at

STATES = ("sent", "opened", "working", "submitted", "graded", "failed", "expired", "revoked")
MAX_CSV_ROWS = 2000
MIN_FACTOR, MAX_FACTOR = 1.0, 4.0


class InvitationError(ValueError):
    """A refused invitation change; the message says why."""


class BadEmail(InvitationError):
    """Not an email address (``email-validator``'s reason in the message)."""

    def __init__(self, email: str, reason: str):
        super().__init__(f"not an email address: {email!r} ({reason})")
        self.email, self.reason = email, reason


class DeadlinePassed(InvitationError):
    """The assessment's deadline has passed: nobody could start it, so nobody is invited."""


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
    try:
        # Syntax only: no DNS lookup (the server may have no network). Internal domains
        # (corp.internal) and the reserved .test (the test suite's) are allowed: Assay is
        # self-hosted, and its mail may stay inside a company.
        checked = validate_email(
            email, check_deliverability=False, globally_deliverable=False, test_environment=True
        )
    except EmailNotValidError as exc:
        raise BadEmail(email, str(exc)) from None
    return name, checked.normalized.lower()


class DuplicateInvitation(InvitationError):
    """The email already has a live invitation to the assessment; ``existing`` is it."""

    def __init__(self, existing: Invitation):
        super().__init__(
            f"{existing.candidate_email} was already invited on {existing.created_at:%Y-%m-%d}"
        )
        self.existing = existing


def check_deadline(assessment: Assessment, now: datetime) -> None:
    """Refuse inviting to an assessment whose deadline has passed (nobody could start it)."""
    if assessment.deadline is not None and assessment.deadline <= now:
        raise DeadlinePassed(
            f"the assessment's deadline ({assessment.deadline:%Y-%m-%d %H:%M} UTC) has passed"
        )


def live_invitations(session: Session, assessment: Assessment, emails) -> dict[str, Invitation]:
    """The assessment's unrevoked invitations of ``emails``, by email (the newest of each)."""
    from sqlalchemy import select

    wanted = sorted(set(emails))
    found: dict[str, Invitation] = {}
    for start in range(0, len(wanted), 500):
        rows = session.scalars(
            select(Invitation)
            .where(
                Invitation.assessment_id == assessment.id,
                Invitation.candidate_email.in_(wanted[start : start + 500]),
                Invitation.revoked_at.is_(None),
            )
            .order_by(Invitation.id)
        )
        found.update({row.candidate_email: row for row in rows})
    return found


def invite(
    session: Session,
    assessment: Assessment,
    name: str,
    email: str,
    *,
    days: int = 14,
    now: datetime | None = None,
    allow_duplicate: bool = False,
) -> tuple[Invitation, str]:
    """A new invitation (flushed) and its token, which only the link will carry.

    Refused (``InvitationError``) past the assessment's deadline; ``DuplicateInvitation``
    when the email already has a live invitation, unless ``allow_duplicate``."""
    name, email = _check_person(name, email)
    now = now or utcnow()
    check_deadline(assessment, now)
    if not allow_duplicate:
        existing = live_invitations(session, assessment, [email]).get(email)
        if existing is not None:
            raise DuplicateInvitation(existing)
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
) -> tuple[list[tuple[Invitation, str]], list[str]]:
    """Invite every row of a CSV, or none: a bad row raises before anything is added.

    Rows whose email already has a live invitation are skipped, not invited twice: their
    emails come back as the second value, for the recruiter to see."""
    rows = parse_csv(text)
    check_deadline(assessment, utcnow())
    existing = live_invitations(session, assessment, [email for _, email in rows])
    created = [
        invite(session, assessment, name, email, days=days, allow_duplicate=True)
        for name, email in rows
        if email not in existing
    ]
    return created, [email for _, email in rows if email in existing]


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
    if invitation.finished_at is not None:
        ends.append(invitation.finished_at)
    if invitation.opened_at is not None:
        minutes = invitation.assessment.time_limit_minutes * invitation.extra_time_factor
        ends.append(invitation.opened_at + timedelta(minutes=minutes))
    return min(ends)


def seconds_left(invitation: Invitation, now: datetime) -> int:
    ends = time_ends_at(invitation)
    return max(0, int((ends - now).total_seconds())) if ends else 0


def finish(invitation: Invitation, now: datetime | None = None) -> None:
    """End the candidate's time now, at their request ("Finish")."""
    now = now or utcnow()
    if invitation.opened_at is not None and accepting(invitation, now):
        invitation.finished_at = now


def submit_drafts_by_clock(invitation: Invitation, now: datetime | None = None) -> int:
    """Once the time is over, submit every unsubmitted draft that has text, as of the end of
    the time and marked as submitted by the clock; how many. Idempotent: a later call finds
    nothing left to do. Called wherever the answers are read (the candidate's page, the
    reviewer's, the summary) so nobody ever sees a time-out throw a draft away."""
    now = now or utcnow()
    if invitation.opened_at is None or accepting(invitation, now):
        return 0
    ends = time_ends_at(invitation)
    done = 0
    for answer in invitation.answers:
        if answer.submitted_at is None and answer.text.strip():
            answer.submitted_at = min(ends, now)
            answer.submitted_by_clock = True
            done += 1
    return done


def accepting(invitation: Invitation, now: datetime, grace_seconds: int = 0) -> bool:
    """Whether work is accepted at ``now`` (``grace_seconds`` past the end for an upload)."""
    if invitation.revoked_at is not None or invitation.opened_at is None:
        return False
    if invitation.finished_at is not None and now >= invitation.finished_at:
        return False  # the candidate ended it: no upload grace after "Finish"
    return now < time_ends_at(invitation) + timedelta(seconds=grace_seconds)


# -- state -------------------------------------------------------------------------------------


def state(invitation: Invitation, now: datetime | None = None) -> str:
    """One of ``STATES``, derived from the rows (never stored, so it cannot go stale): the
    stage (``stages.stage_of``) read at ``now``, against the link's expiry before the clock
    starts and the end of the candidate's time after."""
    now = now or utcnow()
    submissions = invitation.submissions
    stage = stage_of(
        revoked=invitation.revoked_at is not None,
        gradings=[s.latest.status if s.latest is not None else None for s in submissions],
        # Answers only count without submissions: not loaded when they cannot matter.
        answered=not submissions and any(a.submitted_at for a in invitation.answers),
        opened=invitation.opened_at is not None,
        viewed=invitation.viewed_at is not None,
    )
    ends = invitation.expires_at if invitation.opened_at is None else time_ends_at(invitation)
    return state_at(stage, ends, now)
