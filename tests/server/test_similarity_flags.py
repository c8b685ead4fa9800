"""Similarity flags are computed once per submission (the worker's after-grading step) and
stored in both directions; a report page only reads them; a candidate's newer submission
replaces their older one in the flags."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from server import similarity
from server.models import Assessment, SimilarityCheck, SimilarityPair, Submission
from tests.server.test_review import build_world
from tests.server.test_review_similarity import OWN, REFERENCE, _disguise, _submit


@pytest.fixture
def world(db, make_user, make_assessment, make_invitation):
    return build_world(db, make_user, make_assessment, make_invitation)


def _grading_of(db, submission_id):
    return db.get(Submission, submission_id).latest.id


def test_the_after_grading_step_stores_both_directions_once(app, db, world, make_invitation):
    assessment = db.get(Assessment, world["assessment"])
    dave, _ = make_invitation(assessment=assessment, candidate_name="Dave Copier")
    a = _submit(db, world["alice"], REFERENCE)
    d = _submit(db, dave.id, _disguise(REFERENCE))
    step = similarity.after_grading(app.extensions["assay.sessions"])
    step(_grading_of(db, d))
    db.expire_all()
    pairs = {(p.submission_id, p.other_id) for p in db.scalars(sa.select(SimilarityPair))}
    assert pairs == {(a, d), (d, a)}
    assert db.get(SimilarityCheck, d) is not None and db.get(SimilarityCheck, a) is None
    step(_grading_of(db, d))  # a re-grade of the same code: nothing added
    assert db.scalar(sa.select(sa.func.count()).select_from(SimilarityPair)) == 2
    flagged = similarity.flags(db, db.get(Submission, a))
    assert [(m.a, m.b, i) for m, i in flagged] == [(a, d, dave.id)]
    assert flagged[0][0].share_a > similarity.THRESHOLD


def test_the_report_reads_the_stored_flags(client, db, world, make_invitation, login):
    assessment = db.get(Assessment, world["assessment"])
    dave, _ = make_invitation(assessment=assessment, candidate_name="Dave Other")
    a = _submit(db, world["alice"], REFERENCE)
    d = _submit(db, dave.id, OWN, slug="lenet5-mnist")
    for sid in (a, d):
        db.add(SimilarityCheck(submission_id=sid))
    # Stored by hand: the two codes share nothing, so the page can only have it from the table.
    db.add(
        SimilarityPair(submission_id=a, other_id=d, share_mine=0.61, share_theirs=0.58, share=0.61)
    )
    db.commit()
    login(client, world["people"]["reviewer"])
    body = client.get(f"/review/submissions/{a}").get_data(as_text=True)
    assert "Similar to other submissions" in body and "61%" in body
    assert f"/review/submissions/{a}/similar/{d}" in body


def test_a_newer_submission_replaces_the_older_in_the_flags(app, db, world, make_invitation):
    assessment = db.get(Assessment, world["assessment"])
    dave, _ = make_invitation(assessment=assessment, candidate_name="Dave Copier")
    a = _submit(db, world["alice"], REFERENCE)
    d_old = _submit(db, dave.id, _disguise(REFERENCE))
    step = similarity.after_grading(app.extensions["assay.sessions"])
    step(_grading_of(db, d_old))
    d_new = _submit(db, dave.id, OWN)  # Dave starts over with code of his own
    step(_grading_of(db, d_new))
    db.expire_all()
    assert similarity.flags(db, db.get(Submission, a)) == []


def _finish(db, submission_id):
    db.get(Submission, submission_id).latest.status = "graded"
    db.commit()


def test_a_report_never_checks_on_view_and_the_backfill_does(
    client, db, world, make_invitation, login
):
    # Submissions graded before flags were stored, or whose worker died before its step: the
    # first check of a process fingerprints the whole assessment, so a page view must not.
    assessment = db.get(Assessment, world["assessment"])
    dave, _ = make_invitation(assessment=assessment, candidate_name="Dave Copier")
    a = _submit(db, world["alice"], REFERENCE)
    d = _submit(db, dave.id, _disguise(REFERENCE))
    queued = _submit(db, world["bob"], OWN)  # still grading: not checked yet
    _finish(db, a)
    _finish(db, d)
    login(client, world["people"]["reviewer"])
    body = client.get(f"/review/submissions/{a}").get_data(as_text=True)
    assert "Not yet compared with the other submissions" in body
    assert "Similar to other submissions" not in body
    assert db.scalar(sa.select(sa.func.count()).select_from(SimilarityCheck)) == 0

    finished = [d, a, world["bob_sub"], world["sub"]]  # the world's two are graded/failed
    assert similarity.backfill(db) == sorted(finished, reverse=True)  # the queued one waits
    assert similarity.backfill(db) == []  # once
    db.expire_all()
    assert db.get(SimilarityCheck, queued) is None
    body = client.get(f"/review/submissions/{a}").get_data(as_text=True)
    assert "Not yet compared" not in body
    assert f"/review/submissions/{a}/similar/{d}" in body


def test_a_periodic_job_keeps_running_after_a_failed_round():
    import threading

    from server import periodic

    rounds: list[int] = []
    done = threading.Event()

    def job():
        rounds.append(1)
        if len(rounds) == 1:
            raise RuntimeError("the database is busy")
        done.set()

    stop = periodic.every(0.01, "test job", job)
    try:
        assert done.wait(5), "the thread stopped after the failed round"
    finally:
        stop.set()
