"""A small mail interface: an SMTP backend, and an outbox backend for the demo.

``ASSAY_MAIL_URL`` picks one: ``outbox`` (stored in the database, shown on an admin page, and to each recruiter their own)
or ``smtp://host:port``. Messages are plain text; links use ``ASSAY_BASE_URL``.
"""

from __future__ import annotations

import smtplib
from dataclasses import dataclass
from email.message import EmailMessage
from urllib.parse import urlsplit

from sqlalchemy.orm import Session

from server.models import Invitation, MailOutbox


@dataclass(frozen=True)
class Mail:
    recipient: str
    subject: str
    body: str
    #: The user who sent it (a recruiter inviting), for their own outbox page.
    sender_id: int | None = None


class OutboxBackend:
    """Keeps each message as a row (committed with the caller's transaction)."""

    def __init__(self, session: Session):
        self.session = session

    def send(self, mail: Mail) -> None:
        self.session.add(
            MailOutbox(
                recipient=mail.recipient,
                subject=mail.subject,
                body=mail.body,
                sender_id=mail.sender_id,
            )
        )


class SmtpBackend:
    """Sends through an SMTP server (no auth, no TLS: a local relay)."""

    def __init__(self, host: str, port: int, sender: str, timeout: float = 10.0):
        self.host, self.port, self.sender, self.timeout = host, port, sender, timeout

    def send(self, mail: Mail) -> None:
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = (
            self.sender,
            mail.recipient,
            mail.subject,
        )
        message.set_content(mail.body)
        with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
            smtp.send_message(message)


def backend(url: str, sender: str, session: Session) -> OutboxBackend | SmtpBackend:
    """The backend named by ``url`` (``outbox`` or ``smtp://host:port``)."""
    if url == "outbox":
        return OutboxBackend(session)
    parts = urlsplit(url)
    if parts.scheme != "smtp" or not parts.hostname:
        raise ValueError(f"unknown mail URL {url!r}: use 'outbox' or 'smtp://host:port'")
    return SmtpBackend(parts.hostname, parts.port or 25, sender)


def invitation_mail(invitation: Invitation, link: str) -> Mail:
    assessment = invitation.assessment
    body = (
        f"Hello {invitation.candidate_name},\n\n"
        f'You are invited to the assessment "{assessment.title}".\n'
        f"Time limit: {assessment.time_limit_minutes} minutes from when you start. "
        f"The clock starts when you press Start, not now.\n"
        f"Open it here: {link}\n"
        f"The link expires on {invitation.expires_at:%Y-%m-%d %H:%M} UTC.\n\n"
        f"您好，{invitation.candidate_name}：您受邀参加测评“{assessment.title}”。"
        f"时间限制为开始后 {assessment.time_limit_minutes} 分钟。链接：{link}\n"
    )
    return Mail(invitation.candidate_email, f"Assessment invitation: {assessment.title}", body)


def result_ready_mail(invitation: Invitation) -> Mail:
    """Tells the candidate a grading finished; the link is theirs already (not stored here)."""
    body = (
        f"Hello {invitation.candidate_name},\n\n"
        f'Your submission to "{invitation.assessment.title}" has been graded. '
        "Open the link from your invitation to see its status.\n\n"
        f"您好，{invitation.candidate_name}：您在“{invitation.assessment.title}”中的提交已评分完毕，"
        "请通过邀请邮件中的链接查看。\n"
    )
    return Mail(
        invitation.candidate_email, f"Your result is ready: {invitation.assessment.title}", body
    )


def send_result_ready(session: Session, invitation_id: int, url: str, sender: str) -> None:
    """Mail "your result is ready" for an invitation (for the worker, after a grading ends)."""
    invitation = session.get(Invitation, invitation_id)
    if invitation is not None and invitation.revoked_at is None:
        backend(url, sender, session).send(result_ready_mail(invitation))
