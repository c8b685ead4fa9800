"""Deleting a candidate's data, on request and after the retention period; the audit log
keeps that it happened, without the personal data."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from server import retention
from server.models import (
    AuditEvent,
    Decision,
    Grading,
    Invitation,
    Submission,
    TheoryAnswer,
    utcnow,
)
from tests.server.test_review import ALICE, ALICE_EMAIL, build_world


@pytest.fixture
def world(db, make_user, make_assessment, make_invitation):
    return build_world(db, make_user, make_assessment, make_invitation)


def _everything_of(db, invitation_id):
    return {
        "invitation": db.get(Invitation, invitation_id),
        "submissions": db.query(Submission).filter_by(invitation_id=invitation_id).count(),
        "answers": db.query(TheoryAnswer).filter_by(invitation_id=invitation_id).count(),
        "decisions": db.query(Decision).filter_by(invitation_id=invitation_id).count(),
        "gradings": db.query(Grading).count(),
    }


def test_the_recruiter_deletes_a_candidate_and_the_audit_keeps_only_ids(client, db, world, login):
    login(client, world["people"]["owner"])
    client.post(f"/review/candidates/{world['alice']}/decision", data={"decision": "reject"})
    refused = client.post(f"/review/candidates/{world['alice']}/delete", data={})
    assert refused.status_code == 302 and db.get(Invitation, world["alice"]) is not None
    client.post(f"/review/candidates/{world['alice']}/delete", data={"confirm": "delete"})
    db.expire_all()
    left = _everything_of(db, world["alice"])
    assert left["invitation"] is None
    assert (left["submissions"], left["answers"], left["decisions"]) == (0, 0, 0)
    assert left["gradings"] == 1  # Bob's
    event = db.query(AuditEvent).filter_by(action="deletion").one()
    assert event.invitation_id == world["alice"] and event.detail["submissions"] == 1
    assert event.actor_id == world["people"]["owner"].id
    everything = json.dumps([e.detail for e in db.query(AuditEvent)])
    assert ALICE not in everything and ALICE_EMAIL not in everything
    table = client.get(f"/review/assessments/{world['assessment']}").get_data(as_text=True)
    assert ALICE not in table
    assert client.get(f"/review/submissions/{world['sub']}").status_code == 404


def test_a_reviewer_cannot_delete(client, db, world, login):
    login(client, world["people"]["reviewer"])
    response = client.post(
        f"/review/candidates/{world['alice']}/delete", data={"confirm": "delete"}
    )
    assert response.status_code == 403 and db.get(Invitation, world["alice"]) is not None


def test_the_periodic_purge_deletes_only_past_the_period(db, world):
    alice = db.get(Invitation, world["alice"])
    alice.created_at = utcnow() - timedelta(days=40)
    db.commit()
    assert retention.purge_expired(db) == 0  # no policy: kept
    retention.set_policy(db, world["assessment"], 30)
    db.commit()
    assert retention.purge_expired(db) == 1
    assert db.get(Invitation, world["alice"]) is None
    assert db.get(Invitation, world["bob"]) is not None  # invited today
    event = db.query(AuditEvent).filter_by(action="deletion").one()
    assert event.actor_id is None and event.detail["reason"] == "retention period"


def test_a_policy_needs_a_sensible_period(db, world):
    with pytest.raises(ValueError):
        retention.set_policy(db, world["assessment"], 0)
    retention.set_policy(db, world["assessment"], 7)
    retention.set_policy(db, world["assessment"], None)
    db.commit()
    assert retention.policy_days(db, world["assessment"]) is None
