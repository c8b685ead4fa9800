"""Similarity: copied code flagged on both reports with a side-by-side view; the starter
file is boilerplate; only the same assessment's submissions are compared; nothing rejected."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from server import similarity
from server.models import Grading, Submission, utcnow
from tests.server.test_review import build_world

REFERENCE = Path("challenges/lenet5-mnist/reference/solution.py").read_text()
STARTER = Path("challenges/lenet5-mnist/starter.py").read_text()
OWN = Path("challenges/sentiment-bilstm/reference/solution.py").read_text()


def _disguise(code: str) -> str:
    """What a copier does: rename things, change comments; the token stream stays."""
    code = re.sub(r"#.*", "# mine", code)
    return code.replace("model", "net").replace("x_train", "xs").replace("y_train", "ys")


@pytest.fixture
def world(db, make_user, make_assessment, make_invitation):
    return build_world(db, make_user, make_assessment, make_invitation)


def _submit(db, invitation_id, code, slug="lenet5-mnist"):
    sub = Submission(
        invitation_id=invitation_id,
        challenge_slug=slug,
        filename="solution.py",
        source=code.encode(),
        sha256="0" * 64,
        size=len(code),
        created_at=utcnow(),
    )
    sub.gradings.append(Grading(status="queued"))
    db.add(sub)
    db.commit()
    return sub.id


def test_renamed_copy_is_found_and_the_starter_is_not_evidence():
    codes = {1: REFERENCE, 2: _disguise(REFERENCE), 3: STARTER, 4: STARTER, 5: OWN}
    pairs = {(m.a, m.b) for m in similarity.compare("lenet5-mnist", codes)}
    assert (1, 2) in pairs
    assert (3, 4) not in pairs  # both handed in the starter unchanged: boilerplate only
    assert not any(5 in pair for pair in pairs)


def test_both_reports_are_flagged_and_the_side_by_side_marks_shared_code(
    client, db, world, make_invitation, login
):
    from server.models import Assessment

    assessment = db.get(Assessment, world["assessment"])
    dave, _ = make_invitation(assessment=assessment, candidate_name="Dave Copier")
    a = _submit(db, world["alice"], REFERENCE)
    d = _submit(db, dave.id, _disguise(REFERENCE))
    similarity.check(db, db.get(Submission, d))  # the worker's step after d's grading
    db.commit()
    login(client, world["people"]["reviewer"])
    for mine, theirs in ((a, d), (d, a)):
        body = client.get(f"/review/submissions/{mine}").get_data(as_text=True)
        assert "Similar to other submissions" in body
        assert f"/review/submissions/{mine}/similar/{theirs}" in body
        assert "Dave Copier" not in body  # blind review holds here too
    view = client.get(f"/review/submissions/{a}/similar/{d}")
    assert view.status_code == 200
    body = view.get_data(as_text=True)
    assert body.count('<mark class="shared">') >= 2 and "never a verdict" in body
    db.expire_all()
    assert db.get(Submission, d).latest.status == "queued"  # nothing rejected


def test_another_assessments_submission_is_never_compared_or_shown(
    client, db, world, make_assessment, make_invitation, login
):
    other = make_assessment(owner=world["people"]["owner"])
    stranger, _ = make_invitation(assessment=other, candidate_name="Stranger")
    a = _submit(db, world["alice"], REFERENCE)
    s = _submit(db, stranger.id, REFERENCE)
    login(client, world["people"]["owner"])
    assert "Similar to other submissions" not in client.get(f"/review/submissions/{a}").get_data(
        as_text=True
    )
    assert client.get(f"/review/submissions/{a}/similar/{s}").status_code == 404
