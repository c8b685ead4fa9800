"""The mail interface: a real SMTP server on 127.0.0.1 (aiosmtpd), and the outbox backend."""

from __future__ import annotations

import socket
from email import message_from_bytes, policy

import pytest
from aiosmtpd.controller import Controller

from server.mail import Mail, SmtpBackend, backend, send_result_ready
from server.models import MailOutbox


class _Inbox:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(
            (envelope.rcpt_tos, message_from_bytes(envelope.content, policy=policy.default))
        )
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def smtp_server():
    inbox = _Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=_free_port())
    controller.start()
    yield controller, inbox
    controller.stop()


def test_smtp_backend_delivers_to_a_real_server(smtp_server):
    controller, inbox = smtp_server
    SmtpBackend("127.0.0.1", controller.port, "assay@localhost").send(
        Mail("ann@example.test", "Subject 主题", "Body with 中文 text")
    )
    ((recipients, message),) = inbox.messages
    assert recipients == ["ann@example.test"]
    assert message["Subject"] == "Subject 主题"
    assert "中文" in message.get_content()


def test_invitation_by_smtp_carries_the_link(app_config, smtp_server, make_user, make_assessment):
    controller, inbox = smtp_server
    app_config.MAIL_URL = f"smtp://127.0.0.1:{controller.port}"
    from server import create_app

    app = create_app(app_config)
    client = app.test_client()
    recruiter = make_user(role="recruiter")
    assessment = make_assessment(owner=recruiter, title="Data role")
    client.post(
        "/login", data={"email": recruiter.email, "password": "correct horse battery staple"}
    )
    response = client.post(
        f"/recruiter/assessments/{assessment.id}/invite",
        data={"name": "Ann", "email": "ann@example.test"},
    )
    assert response.status_code == 302
    ((recipients, message),) = inbox.messages
    body = message.get_content()
    assert recipients == ["ann@example.test"] and "Data role" in message["Subject"]
    link = next(word for word in body.split() if "/c/" in word)
    token = link.rsplit("/c/", 1)[1]
    assert client.get(f"/c/{token}").status_code == 200
    app.extensions["assay.engine"].dispose()


def test_outbox_backend_is_shown_to_admins(client, db, make_user, make_invitation, login):
    invitation, _ = make_invitation()
    send_result_ready(db, invitation.id, "outbox", "assay@localhost")
    db.commit()
    mail = db.query(MailOutbox).one()
    assert mail.recipient == invitation.candidate_email and "result is ready" in mail.subject
    login(client, make_user(role="admin"))
    assert "result is ready" in client.get("/admin/outbox").get_data(as_text=True)


def test_unknown_mail_url_is_refused(db):
    with pytest.raises(ValueError, match="outbox"):
        backend("carrier-pigeon://", "a@b", db)
