"""Staff accounts: create, authenticate, change role. Callable from the CLI and tests."""

from __future__ import annotations

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.orm import Session

from server.models import ROLES, User
from server.security import hash_password, verify_password

MIN_PASSWORD = 10


class AccountError(ValueError):
    """A refused account change; the message says why."""


def normalise_email(email: str) -> str:
    return email.strip().lower()


def create_user(session: Session, email: str, name: str, password: str, role: str) -> User:
    """A new active staff user (flushed, not committed); ``AccountError`` if refused."""
    email = normalise_email(email)
    if "@" not in email or len(email) > 254:
        raise AccountError(_("Not an email address: %(email)s", email=email))
    if role not in ROLES:
        raise AccountError(
            _("Unknown role %(role)s; one of %(roles)s", role=role, roles=", ".join(ROLES))
        )
    if len(password) < MIN_PASSWORD:
        raise AccountError(_("The password needs at least %(n)d characters.", n=MIN_PASSWORD))
    if session.scalar(sa.select(User.id).where(User.email == email)) is not None:
        raise AccountError(_("A user with the email %(email)s already exists.", email=email))
    user = User(
        email=email, name=name.strip() or email, password_hash=hash_password(password), role=role
    )
    session.add(user)
    session.flush()
    return user


def authenticate(session: Session, email: str, password: str) -> User | None:
    """The active user with this email and password, else None."""
    user = session.scalar(sa.select(User).where(User.email == normalise_email(email)))
    if user is None or not user.active:
        # Hash anyway, so a wrong email takes as long as a wrong password.
        verify_password(_DUMMY_HASH, password)
        return None
    return user if verify_password(user.password_hash, password) else None


def load_session_user(session: Session, session_id: str) -> User | None:
    """The active user a session cookie's ``"<id>:<version>"`` names, if that version is still
    current; a cookie from before a logout, password change or deactivation loads nobody."""
    user_id, _, version = session_id.partition(":")
    if not (user_id.isdigit() and version.isdigit()):
        return None  # also a cookie from before session versions: log in again
    user = session.get(User, int(user_id))
    if user is None or not user.active or user.session_version != int(version):
        return None
    return user


def update_user(
    session: Session, user: User, *, acting: User, role: str, active: bool, name: str
) -> None:
    """Change a user's role, name or active flag; an admin cannot lock themselves out."""
    if role not in ROLES:
        raise AccountError(_("Unknown role %(role)s", role=role))
    if user.id == acting.id and (role != "admin" or not active):
        raise AccountError(_("You cannot remove your own admin role or deactivate yourself."))
    if user.active and not active:
        user.end_sessions()  # a deactivated user is out now, and stays out if reactivated
    user.role, user.active, user.name = role, active, name.strip() or user.name
    session.flush()


def set_password(session: Session, user: User, password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise AccountError(_("The password needs at least %(n)d characters.", n=MIN_PASSWORD))
    user.password_hash = hash_password(password)
    user.end_sessions()  # whoever knew the old password is logged out everywhere
    session.flush()


def change_own_password(session: Session, user: User, current: str, new: str) -> None:
    """A user's own new password, after proving the current one; ends their other sessions."""
    if not verify_password(user.password_hash, current):
        raise AccountError(_("The current password is wrong."))
    if len(new) < MIN_PASSWORD:
        raise AccountError(_("The new password needs at least %(n)d characters.", n=MIN_PASSWORD))
    if verify_password(user.password_hash, new):
        raise AccountError(_("The new password is the same as the current one."))
    set_password(session, user, new)


_DUMMY_HASH = hash_password("not a real password")
