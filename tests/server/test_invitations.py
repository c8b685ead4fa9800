"""Invitations: tokens, CSV import (all or nothing), revoke/extend/resend, extra time, state."""

from __future__ import annotations

from datetime import timedelta

import pytest

from server import invitations
from server.invitations import CsvError, InvitationError, hash_token, parse_csv, state
from server.models import Invitation, utcnow


def test_only_the_hash_of_the_token_is_stored(db, make_assessment):
    assessment = make_assessment()
    invitation, token = invitations.invite(db, assessment, "Ann", "ann@example.test")
    db.commit()
    assert invitation.token_hash == hash_token(token)
    assert token not in invitation.token_hash
    assert len(token) >= 40
    assert invitations.find_by_token(db, token) == invitation
    assert invitations.find_by_token(db, token + "x") is None


def test_csv_with_header_and_blank_lines():
    text = "name,email\nAnn Lee,ann@example.test\n\nBo Chen, BO@example.test \n"
    assert parse_csv(text) == [("Ann Lee", "ann@example.test"), ("Bo Chen", "bo@example.test")]


@pytest.mark.parametrize(
    ("text", "line", "reason"),
    [
        ("Ann,ann@example.test\nBo,not-an-email\n", 2, "not an email"),
        ("Ann,ann@example.test\nBo\n", 2, "expected 2 columns"),
        ("Ann,ann@example.test\n,bo@example.test\n", 2, "name is empty"),
        ("Ann,ann@example.test\nAnn B,ann@example.test\n", 2, "already on line 1"),
        ("name,email\n\n\nCy,cy@example.test,extra\n", 4, "expected 2 columns"),
        ("", 1, "no candidates"),
    ],
)
def test_a_bad_csv_row_is_reported_with_its_line_number(text, line, reason):
    with pytest.raises(CsvError, match=reason) as caught:
        parse_csv(text)
    assert caught.value.line == line
    assert str(caught.value).startswith(f"line {line}:")


def test_a_bad_row_imports_nothing(client, db, make_user, make_assessment, login):
    recruiter = make_user(role="recruiter")
    assessment = make_assessment(owner=recruiter)
    login(client, recruiter)
    from io import BytesIO

    csv = b"Ann,ann@example.test\nBo,bo@example.test\nCy,broken\n"
    response = client.post(
        f"/recruiter/assessments/{assessment.id}/invite-csv",
        data={"file": (BytesIO(csv), "people.csv")},
        content_type="multipart/form-data",
        follow_redirects=True,
    )
    assert "line 3" in response.get_data(as_text=True)
    assert db.query(Invitation).count() == 0
    good = b"\xef\xbb\xbfname,email\nAnn,ann@example.test\nBo,bo@example.test\n"
    client.post(
        f"/recruiter/assessments/{assessment.id}/invite-csv",
        data={"file": (BytesIO(good), "people.csv")},
        content_type="multipart/form-data",
    )
    assert db.query(Invitation).count() == 2


def test_revoke_extend_resend_and_extra_time(db, make_invitation):
    invitation, token = make_invitation()
    before = invitation.expires_at
    invitations.extend(invitation, 7)
    assert invitation.expires_at == before + timedelta(days=7)
    new = invitations.rotate_token(invitation)
    db.commit()
    assert invitations.find_by_token(db, token) is None
    assert invitations.find_by_token(db, new) == invitation
    invitations.set_extra_time(invitation, 1.5)
    assert invitation.extra_time_factor == 1.5
    with pytest.raises(InvitationError):
        invitations.set_extra_time(invitation, 10)
    with pytest.raises(InvitationError):
        invitations.extend(invitation, 0)
    invitations.revoke(invitation)
    assert state(invitation) == "revoked"


def test_states_follow_the_candidate(db, make_invitation):
    from server.models import Grading, Submission

    invitation, _ = make_invitation()
    now = utcnow()
    assert state(invitation, now) == "sent"
    invitation.viewed_at = now
    assert state(invitation, now) == "opened"
    invitation.opened_at = now
    assert state(invitation, now) == "working"
    submission = Submission(
        invitation_id=invitation.id,
        challenge_slug="lenet5-mnist",
        filename="solution.py",
        source=b"x",
        sha256="0" * 64,
        size=1,
    )
    submission.gradings.append(Grading(status="running"))
    db.add(submission)
    db.commit()
    db.refresh(invitation)
    assert state(invitation, now) == "submitted"
    submission.latest.status = "graded"
    assert state(invitation, now) == "graded"


def test_expired_states(make_invitation):
    now = utcnow()
    old, _ = make_invitation(expires_at=now - timedelta(minutes=1))
    assert state(old, now) == "expired"
    timed_out, _ = make_invitation(opened_at=now - timedelta(hours=3))
    assert state(timed_out, now) == "expired"


def test_recruiter_actions_through_the_pages(client, db, make_user, make_assessment, login):
    recruiter = make_user(role="recruiter")
    assessment = make_assessment(owner=recruiter)
    login(client, recruiter)
    client.post(
        f"/recruiter/assessments/{assessment.id}/invite",
        data={"name": "Ann", "email": "ann@example.test"},
    )
    invitation = db.query(Invitation).one()
    base = f"/recruiter/invitations/{invitation.id}"
    assert client.post(f"{base}/extra-time", data={"factor": "1.25"}).status_code == 302
    assert client.post(f"{base}/extend", data={"days": "3"}).status_code == 302
    assert client.post(f"{base}/resend", data={}).status_code == 302
    assert client.post(f"{base}/revoke", data={}).status_code == 302
    assert client.post(f"{base}/explode", data={}).status_code == 400
    db.refresh(invitation)
    assert invitation.extra_time_factor == 1.25 and invitation.revoked_at is not None
    page = client.get(f"/recruiter/assessments/{assessment.id}").get_data(as_text=True)
    assert "ann@example.test" in page and "revoked" in page
    from server.models import MailOutbox

    assert db.query(MailOutbox).count() == 2  # the invitation and the resend
