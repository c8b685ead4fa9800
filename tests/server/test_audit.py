"""The audit log records invitations however they are made, with who made them."""

from __future__ import annotations

from io import BytesIO

from server.models import AuditEvent, Invitation


def test_invitations_from_the_form_and_a_csv_are_audited_with_the_recruiter(
    client, db, make_user, make_assessment, login
):
    owner = make_user(role="recruiter")
    assessment = make_assessment(owner=owner)
    login(client, owner)
    client.post(
        f"/recruiter/assessments/{assessment.id}/invite",
        data={"name": "Nia", "email": "nia@example.test"},
    )
    client.post(
        f"/recruiter/assessments/{assessment.id}/invite-csv",
        data={"file": (BytesIO(b"Zoe,zoe@example.test\nYan,yan@example.test\n"), "c.csv")},
        content_type="multipart/form-data",
    )
    events = db.query(AuditEvent).filter_by(action="invitation").order_by(AuditEvent.id).all()
    invited = [i.id for i in db.query(Invitation).order_by(Invitation.id)]
    assert [e.invitation_id for e in events] == invited and len(invited) == 3
    assert {e.actor_id for e in events} == {owner.id}
    assert all("example.test" not in str(e.detail) for e in events)


def test_an_invitation_that_rolls_back_leaves_no_event(db, make_assessment):
    from server.invitations import invite

    assessment = make_assessment()
    invite(db, assessment, "Temp", "temp@example.test")
    db.rollback()
    db.commit()
    assert db.query(AuditEvent).filter_by(action="invitation").count() == 0
    assert db.query(Invitation).count() == 0
