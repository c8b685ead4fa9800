"""Staff accounts: admins, recruiters and reviewers. Candidates have no account."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from server.models.base import Base, utcnow

ADMIN, RECRUITER, REVIEWER = "admin", "recruiter", "reviewer"
ROLES = (ADMIN, RECRUITER, REVIEWER)


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(254), unique=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    #: argon2id, from argon2-cffi's PasswordHasher.
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    role: Mapped[str] = mapped_column(sa.String(16))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: Part of the id in every session cookie (``get_id``): raising it ends every session of
    #: this user at once, on the server, whatever cookie a browser (or a thief) still holds.
    session_version: Mapped[int] = mapped_column(default=0, server_default="0")

    # Flask-Login's user protocol.
    @property
    def is_active(self) -> bool:
        return self.active

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        # Flask-Login's "alternative id": a cookie names the user and the session version it
        # was issued under, so a bumped version no longer loads anyone (``load_session_user``).
        return f"{self.id}:{self.session_version}"

    def end_sessions(self) -> None:
        """Every session cookie issued to this user stops working (logout everywhere)."""
        self.session_version = (self.session_version or 0) + 1
