"""Every upload's dry run (server/dryruns.py, server/dryrun_lane.py): a contract failure is
shown at once with the step and the fix and spends no attempt; only a passing dry run is
graded; reviewers see the dry runs.

Fast tests drive the rules with results as the dry run makes them; the slow ones run the
worker's dry-run lane in a real sandbox (Docker, else bubblewrap).
"""

from __future__ import annotations

import json
from datetime import timedelta
from io import BytesIO
from pathlib import Path

import pytest

from graders.contract import outcome
from graders.dryrun import DryRun as DryRunResult
from server import dryruns
from server.models import DryRun, Grading, Submission, utcnow
from server.queue import QueueSettings, get_dry_run_huey, get_huey, pending_dry_run_ids

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = (ROOT / "challenges/lenet5-mnist/reference/solution.py").read_bytes()
WRONG_SHAPE = (ROOT / "challenges/lenet5-mnist/examples/wrong_shape.py").read_bytes()
SHAPE_MESSAGE = (
    "predictions have shape (8, 5, 5, 10); expected (8,) class ids or (8, 10) probabilities "
    "[wrong_shape]"
)
DONE = ["contract", "build", "train", "save", "load", "predict"]

pytestmark = pytest.mark.databases


@pytest.fixture
def factory(app):
    from server import grading as g

    factory = app.extensions["assay.sessions"]
    g.use_queue(factory, get_huey())
    dryruns.use_queue(factory, get_dry_run_huey())
    return factory


def _upload(client, token, data, name="solution.py"):
    response = client.post(
        f"/c/{token}/challenges/lenet5-mnist/upload",
        data={"file": (BytesIO(data), name)},
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    return response.headers["Location"]


def _finish(factory, dry_run_id, result) -> str:
    with factory() as session:
        claim = dryruns.claim(session, dry_run_id, 60)
    assert claim is not None
    for step in result.outcome.steps:
        if step.status == "ok" and step.name in DONE:
            with factory() as session:
                assert dryruns.record_step(session, claim, step.name)
    with factory() as session:
        return dryruns.finish(session, claim, result)


def test_an_upload_queues_its_dry_run_on_the_dry_runs_own_queue(client, db, make_invitation):
    _, token = make_invitation(opened_at=utcnow())
    _upload(client, token, REFERENCE)
    row = db.query(DryRun).one()
    assert pending_dry_run_ids(get_dry_run_huey()) == {row.id}
    assert not get_huey().pending()  # nothing for the grading threads yet


def test_a_failed_dry_run_shows_the_step_and_the_shapes_and_spends_no_attempt(
    client, db, factory, make_invitation
):
    invitation, token = make_invitation(opened_at=utcnow())
    status_url = _upload(client, token, WRONG_SHAPE)
    row = db.query(DryRun).one()
    page = client.get(status_url).get_data(as_text=True)
    assert "Check before grading" in page and "hx-trigger" in page  # polled while it runs
    result = DryRunResult(
        "lenet5-mnist", outcome(DONE, "invalid_predictions", SHAPE_MESSAGE), "docker"
    )
    assert _finish(factory, row.id, result) == "failed"
    db.expire_all()
    assert db.query(Grading).count() == 0  # never queued for grading
    submission = db.query(Submission).one()
    assert submission.counts_as_attempt is False
    page = client.get(status_url).get_data(as_text=True)
    assert "did not pass the check" in page
    assert "Expected shape (N, 10) probabilities or (N,) class ids; got (N, 5, 5, 10)" in page
    assert "This did not use one of your attempts" in page
    assert "hx-trigger" not in page  # final: the page stops polling
    assert "Attempts used: 0 of 3" in client.get(f"/c/{token}/work").get_data(as_text=True)
    # In Chinese, the catalogue's words and the shapes.
    page = client.get(status_url, headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    assert "实际为 (N, 5, 5, 10)" in page


def test_a_passing_dry_run_queues_the_grading_with_the_assessments_options(
    client, db, factory, make_invitation
):
    _, token = make_invitation(opened_at=utcnow())
    status_url = _upload(client, token, REFERENCE)
    row = db.query(DryRun).one()
    assert _finish(factory, row.id, DryRunResult("lenet5-mnist", outcome(DONE))) == "passed"
    db.expire_all()
    grading = db.query(Grading).one()
    assert grading.status == "queued"
    assert json.loads(grading.options_json) == json.loads(row.options_json)
    assert grading.id in {int(t.args[0]) for t in get_huey().pending()}
    page = client.get(status_url).get_data(as_text=True)
    assert page.count('class="step ok"') == 8 and "Queued" in page


def test_a_platform_failure_of_the_dry_run_is_no_verdict_the_grading_runs(
    client, db, factory, make_invitation
):
    _, token = make_invitation(opened_at=utcnow())
    _upload(client, token, REFERENCE)
    row = db.query(DryRun).one()
    failed = outcome([], "sandbox_unavailable", "no sandbox")
    failed.steps = []
    assert _finish(factory, row.id, DryRunResult("lenet5-mnist", failed)) == "platform"
    db.expire_all()
    assert db.query(Grading).one().status == "queued"
    assert db.query(Submission).one().counts_as_attempt is True


def test_a_dry_run_is_claimed_once_and_a_lost_lease_drops_the_result(
    client, db, factory, make_invitation
):
    _, token = make_invitation(opened_at=utcnow())
    _upload(client, token, REFERENCE)
    row_id = db.query(DryRun).one().id
    with factory() as session:
        claim = dryruns.claim(session, row_id, 60)
    with factory() as session:
        assert dryruns.claim(session, row_id, 60) is None
    # Its lease expires: the sweep puts it back, and the late result is dropped.
    later = utcnow() + timedelta(seconds=120)
    with factory() as session:
        assert dryruns.requeue_expired(session, now=later)["requeued"] == [row_id]
    with factory() as session:
        result = DryRunResult("lenet5-mnist", outcome(DONE))
        assert dryruns.finish(session, claim, result) == "dropped"
    db.expire_all()
    assert db.query(DryRun).one().status == "queued"
    assert db.query(Grading).count() == 0


def test_a_dry_run_whose_worker_died_twice_is_graded_anyway(client, db, factory, make_invitation):
    _, token = make_invitation(opened_at=utcnow())
    _upload(client, token, REFERENCE)
    row_id = db.query(DryRun).one().id
    now = utcnow()
    for _attempt in range(2):
        with factory() as session:
            assert dryruns.claim(session, row_id, 60, now=now) is not None
        now += timedelta(seconds=120)
        with factory() as session:
            done = dryruns.requeue_expired(session, now=now)
    assert done["graded anyway"] == [row_id]
    db.expire_all()
    assert db.query(Grading).one().status == "queued"
    assert db.query(Submission).one().counts_as_attempt is True


def test_a_dry_run_kept_with_an_unknown_option_still_ends_and_its_grading_is_refused(
    client, db, factory, make_invitation
):
    from server import leases

    _, token = make_invitation(opened_at=utcnow())
    _upload(client, token, REFERENCE)
    row = db.query(DryRun).one()
    row.options_json = json.dumps({"tier": "sample", "epochs_cap": 2})  # a key since removed
    db.commit()
    now = utcnow()
    for _attempt in range(2):  # its worker dies twice: the sweep grades it anyway
        with factory() as session:
            assert dryruns.claim(session, row.id, 60, now=now) is not None
        now += timedelta(seconds=120)
        with factory() as session:
            done = dryruns.requeue_expired(session, now=now)
    assert done["graded anyway"] == [row.id]
    with factory() as session:  # the next sweep has nothing left to do with it
        assert dryruns.requeue_expired(session, now=now) == {"requeued": [], "graded anyway": []}
    db.expire_all()
    grading = db.query(Grading).one()
    assert grading.options_json == row.options_json and grading.status == "queued"
    with factory() as session:  # its claim says why it will not run, as for any such grading
        claim = leases.claim(session, grading.id, 60)
        assert "epochs_cap" in claim.options_error
        leases.refuse_options(session, claim)
    db.expire_all()
    refused = db.query(Grading).one()
    assert refused.error_code == "platform_error" and "epochs_cap" in refused.platform_note
    assert db.query(Submission).one().counts_as_attempt is False  # no attempt spent


def test_reviewers_see_the_dry_runs_in_the_history(
    client, db, factory, make_invitation, make_user, login
):
    invitation, token = make_invitation(opened_at=utcnow())
    _upload(client, token, WRONG_SHAPE)
    row = db.query(DryRun).one()
    result = DryRunResult(
        "lenet5-mnist", outcome(DONE, "invalid_predictions", SHAPE_MESSAGE), "bwrap"
    )
    _finish(factory, row.id, result)
    submission = db.query(Submission).one()
    reviewer = make_user(role="admin")
    login(client, reviewer)
    report = client.get(f"/review/submissions/{submission.id}").get_data(as_text=True)
    assert "Dry runs" in report and "invalid_predictions" in report and "(8, 5, 5, 10)" in report
    page = client.get(f"/review/candidates/{invitation.id}").get_data(as_text=True)
    assert "dry run" in page and "invalid_predictions" in page


# -- the real lane in a real sandbox -----------------------------------------------------------


@pytest.fixture
def lane(app, factory, prepared_data, skip_or_fail):
    from sandbox.errors import SandboxUnavailable
    from sandbox.registry import pick_sandbox
    from server.dryrun_lane import DryRunLane

    try:
        sandbox = pick_sandbox("auto")
    except SandboxUnavailable as exc:
        skip_or_fail(str(exc))
    return DryRunLane(factory, get_dry_run_huey(), QueueSettings(), sandbox)


@pytest.mark.slow
def test_wrong_shape_upload_is_told_the_shapes_at_once_and_keeps_its_attempt(
    client, db, lane, make_invitation
):
    _, token = make_invitation(opened_at=utcnow())
    status_url = _upload(client, token, WRONG_SHAPE)
    assert lane.run_dry_run(db.query(DryRun).one().id) == "failed"
    db.expire_all()
    assert db.query(Grading).count() == 0
    page = client.get(status_url).get_data(as_text=True)
    assert "got (N, 5, 5, 10)" in page and "did not use one of your attempts" in page
    assert page.count('class="step ok"') == 6 and 'class="step failed"' in page
    assert "Attempts used: 0 of 3" in client.get(f"/c/{token}/work").get_data(as_text=True)


@pytest.mark.slow
def test_a_passing_dry_run_is_followed_by_a_grading(client, db, factory, lane, make_invitation):
    from server.worker import Worker

    _, token = make_invitation(opened_at=utcnow())
    status_url = _upload(client, token, REFERENCE)
    row = db.query(DryRun).one()
    # A small slice keeps the grading short; the assessment's tier is kept.
    row.options_json = json.dumps(json.loads(row.options_json) | {"train_limit": 300})
    db.commit()
    assert lane.run_dry_run(row.id) == "passed"
    db.expire_all()
    grading = db.query(Grading).one()
    assert json.loads(grading.options_json)["train_limit"] == 300
    worker = Worker(factory, get_huey(), QueueSettings(), lane.sandbox)
    assert worker.run_grading(grading.id) == "graded"
    page = client.get(status_url).get_data(as_text=True)
    assert "Scored." in page and page.count('class="step ok"') == 8


def test_the_candidate_sees_the_failed_step_and_the_fix_in_a_browser(
    live, client, db, factory, make_invitation, tmp_path
):
    """In chromium, English and Chinese: the steps (green up to the failed one), the shapes,
    the attempt kept. Screenshots go to ``ASSAY_SCREENSHOTS`` when set."""
    import os

    from playwright.sync_api import expect, sync_playwright

    from tests.server.conftest import CHROMIUM

    shots = Path(os.environ.get("ASSAY_SCREENSHOTS") or tmp_path)
    _, token = make_invitation(opened_at=utcnow())
    status_url = _upload(client, token, WRONG_SHAPE)
    row = db.query(DryRun).one()
    result = DryRunResult(
        "lenet5-mnist", outcome(DONE, "invalid_predictions", SHAPE_MESSAGE), "docker"
    )
    _finish(factory, row.id, result)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM))
        for locale, words in (
            ("en-US", "got (N, 5, 5, 10)"),
            ("zh-CN", "实际为 (N, 5, 5, 10)"),
        ):
            page = browser.new_page(locale=locale, viewport={"width": 1100, "height": 800})
            page.goto(live + status_url)
            expect(page.locator(".dry-run .step.ok")).to_have_count(6)
            expect(page.locator(".dry-run .step.failed")).to_have_count(1)
            expect(page.locator(".progress")).to_contain_text(words)
            suffix = "" if locale.startswith("en") else "-zh"
            page.screenshot(path=str(shots / f"candidate-dry-run-failed{suffix}.png"))
        browser.close()


def test_a_dry_run_that_timed_out_is_no_verdict_the_grading_decides(
    client, db, factory, make_invitation
):
    _, token = make_invitation(opened_at=utcnow())
    status_url = _upload(client, token, REFERENCE)
    row = db.query(DryRun).one()
    late = outcome(["contract", "build"], "timeout", "the train phase ran past its limit of 90 s")
    assert _finish(factory, row.id, DryRunResult("lenet5-mnist", late)) == "platform"
    db.expire_all()
    assert db.query(Grading).one().status == "queued"
    assert db.query(Submission).one().counts_as_attempt is True
    page = client.get(status_url).get_data(as_text=True)
    assert "your file is graded anyway" in page and "Queued" in page


def test_a_full_gradings_wrong_shape_tells_the_candidate_the_shapes_not_the_test_size(
    client, db, factory, make_invitation
):
    """Issue 20: the candidate read only "wrong length, shape or type" while the reviewer saw
    (1000, 5, 5, 10) against (1000, 10); now both shapes show, the test set's size as N."""
    from graders.report import ErrorInfo, Report

    _, token = make_invitation(opened_at=utcnow())
    status_url = _upload(client, token, REFERENCE)
    _finish(factory, db.query(DryRun).one().id, DryRunResult("lenet5-mnist", outcome(DONE)))
    db.expire_all()
    grading = db.query(Grading).one()
    message = (
        "predictions have shape (1000, 5, 5, 10); expected (1000,) class ids or "
        "(1000, 10) probabilities [wrong_shape]"
    )
    report = Report(
        challenge="lenet5-mnist",
        title="LeNet-5",
        dataset="mnist",
        tier="sample",
        status="failed",
        error=ErrorInfo(code="invalid_predictions", message=message, phase="score"),
    )
    grading.status, grading.error_code = "failed", "invalid_predictions"
    grading.report_json = report.to_json()
    db.commit()
    page = client.get(status_url).get_data(as_text=True)
    assert "Expected shape (N, 10) probabilities or (N,) class ids; got (N, 5, 5, 10)" in page
    assert "1000" not in page


def test_the_self_checks_slice_is_from_the_assessments_train_rows_never_its_test_rows(
    client, db, make_invitation, prepared_data
):
    import io
    import zipfile

    import numpy as np

    from graders.challenges import get_challenge
    from graders.service import open_verified_dataset
    from graders.splits import for_grading
    from server.split_secrets import secret_for

    invitation, token = make_invitation(opened_at=utcnow())
    response = client.get(f"/c/{token}/challenges/lenet5-mnist/starter")
    with zipfile.ZipFile(io.BytesIO(response.data)) as bundle:
        data = bundle.read("lenet5-mnist/check_data.npz")
    with np.load(io.BytesIO(data)) as shipped:
        x = shipped["x"]
    challenge = get_challenge("lenet5-mnist")
    secret = secret_for(db, invitation.assessment_id)
    drawn = for_grading(open_verified_dataset(challenge, "sample"), secret)
    assert np.array_equal(x, drawn.load_x("train")[: len(x)])
    test_rows = {row.tobytes() for row in drawn.load_x("test")}
    assert not any(row.tobytes() in test_rows for row in x)
