"""The candidate's pages over a real grading: upload, the worker grades in a sandbox, result.

Slow: each test runs the grading service in a real sandbox (Docker, else bubblewrap).
"""

from __future__ import annotations

import json
from io import BytesIO
from pathlib import Path

import pytest

from server.models import Grading, MailOutbox, Submission, utcnow

REFERENCE = Path("challenges/lenet5-mnist/reference/solution.py").read_bytes()
# Passes the dry run (48 examples) and crashes on the whole train split: a failure only the
# full grading finds, which uses the attempt.
CRASHING = REFERENCE + (
    b"\n\ndef train(model, x_train, y_train):\n"
    b"    if len(x_train) > 100:\n"
    b"        raise ValueError('no model <b>here</b>')\n"
    b"    model.fit(x_train, y_train, epochs=1)\n"
    b"    return model\n"
)


@pytest.fixture
def worker(app, prepared_data, skip_or_fail):
    from sandbox.errors import SandboxUnavailable
    from sandbox.registry import pick_sandbox
    from server.mail import send_result_ready
    from server.queue import QueueSettings, get_huey
    from server.worker import Worker

    try:
        sandbox = pick_sandbox("auto")
    except SandboxUnavailable as exc:
        skip_or_fail(str(exc))
    factory = app.extensions["assay.sessions"]

    def mail(grading_id: int) -> None:
        with factory() as session:
            invitation_id = session.get(Grading, grading_id).submission.invitation_id
            send_result_ready(session, invitation_id, "outbox", "assay@localhost")
            session.commit()

    return Worker(factory, get_huey(), QueueSettings(), sandbox, on_finished=mail)


def _upload_and_grade(client, db, worker, token, data):
    from server.dryrun_lane import DryRunLane
    from server.models import DryRun
    from server.queue import QueueSettings, get_dry_run_huey

    response = client.post(
        f"/c/{token}/challenges/lenet5-mnist/upload",
        data={"file": (BytesIO(data), "solution.py")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    status_url = response.headers["Location"]
    assert "Checking your file" in client.get(status_url).get_data(as_text=True)
    # The upload's dry run first (the worker's lane); its pass queues the grading.
    lane = DryRunLane(worker.factory, get_dry_run_huey(), QueueSettings(), worker.sandbox)
    assert lane.run_dry_run(db.query(DryRun).order_by(DryRun.id.desc()).first().id) == "passed"
    assert "Queued" in client.get(status_url).get_data(as_text=True)
    grading = db.query(Grading).order_by(Grading.id.desc()).first()
    # A small slice keeps the test short; the assessment's tier is kept.
    options = json.loads(grading.options_json) | {"train_limit": 300, "test_limit": 200}
    grading.options_json = json.dumps(options)
    db.commit()
    assert worker.run_grading(grading.id) in ("graded", "failed")
    return status_url


@pytest.mark.slow
def test_reference_solution_is_graded_and_the_score_shown(
    client, db, worker, make_assessment, make_invitation
):
    assessment = make_assessment(show_scores_to_candidate=True)
    invitation, token = make_invitation(assessment=assessment, opened_at=utcnow())
    status_url = _upload_and_grade(client, db, worker, token, REFERENCE)
    body = client.get(status_url).get_data(as_text=True)
    assert "Scored." in body and "Accuracy" in body, body
    assert "hx-trigger" not in body
    grading = db.query(Grading).one()
    db.refresh(grading)
    assert grading.status == "graded"
    assert any(event.kind == "epoch" for event in grading.events)
    assert db.query(MailOutbox).filter_by(recipient=invitation.candidate_email).count() == 1


@pytest.mark.slow
def test_crashing_submission_is_explained_and_uses_an_attempt(client, db, worker, make_invitation):
    invitation, token = make_invitation(opened_at=utcnow())
    status_url = _upload_and_grade(client, db, worker, token, CRASHING)
    body = client.get(status_url).get_data(as_text=True)
    assert "The grading did not finish." in body
    from graders.catalogue import error_info

    grading = db.query(Grading).one()
    db.refresh(grading)
    assert grading.status == "failed" and error_info(grading.error_code).audience == "candidate"
    assert error_info(grading.error_code).message("en") in body
    assert "<b>here</b>" not in body  # the log is escaped
    submission = db.query(Submission).one()
    db.refresh(submission)
    assert submission.counts_as_attempt is True
    work = client.get(f"/c/{token}/work").get_data(as_text=True)
    assert "Attempts used: 1 of 3" in work
