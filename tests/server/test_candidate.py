"""The candidate's side: landing, clock, uploads, attempts, status page, theory drafts."""

from __future__ import annotations

import json
from datetime import timedelta
from io import BytesIO
from pathlib import Path

import nbformat
import pytest

from server import candidates
from server.candidates import CandidateError
from server.models import DryRun, Grading, ProgressEvent, Submission, TheoryAnswer, utcnow

REFERENCE = Path("challenges/lenet5-mnist/reference/solution.py").read_bytes()


def _upload(client, token, data=REFERENCE, name="solution.py", slug="lenet5-mnist"):
    return client.post(
        f"/c/{token}/challenges/{slug}/upload",
        data={"file": (BytesIO(data), name)},
        content_type="multipart/form-data",
    )


# -- landing and the clock ---------------------------------------------------------------------


def test_landing_page_does_not_start_the_clock(client, db, make_invitation):
    invitation, token = make_invitation()
    page = client.get(f"/c/{token}")
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    assert "120 minutes" in body and "3 uploads" in body and "LeNet-5" in body
    db.refresh(invitation)
    assert invitation.viewed_at is not None and invitation.opened_at is None
    assert client.get(f"/c/{token}/work").status_code == 302  # back to the landing page


def test_clock_starts_at_first_open_and_survives_a_new_browser(app, db, make_invitation):
    invitation, token = make_invitation()
    first = app.test_client()
    assert first.post(f"/c/{token}/start").status_code == 302
    db.refresh(invitation)
    started = invitation.opened_at
    assert started is not None
    second = app.test_client()  # another computer: no cookies at all
    assert second.post(f"/c/{token}/start").status_code == 302
    assert second.get(f"/c/{token}").status_code == 302  # straight to the work page
    db.refresh(invitation)
    assert invitation.opened_at == started
    page = second.get(f"/c/{token}/work").get_data(as_text=True)
    assert 'data-countdown="' in page


def test_extra_time_extends_the_window(make_invitation):
    now = utcnow()
    invitation, _ = make_invitation(opened_at=now - timedelta(minutes=130))
    assert not candidates.invitations.accepting(invitation, now)
    invitation.extra_time_factor = 1.5  # 180 minutes
    assert candidates.invitations.accepting(invitation, now)
    assert 49 * 60 < candidates.invitations.seconds_left(invitation, now) <= 50 * 60


def test_deadline_caps_the_time_limit(make_assessment, make_invitation):
    now = utcnow()
    assessment = make_assessment(deadline=now + timedelta(minutes=5))
    invitation, _ = make_invitation(assessment=assessment, opened_at=now)
    assert candidates.invitations.time_ends_at(invitation) == assessment.deadline


def test_upload_after_the_time_is_refused_at_the_server(client, db, make_invitation):
    now = utcnow()
    invitation, token = make_invitation(opened_at=now - timedelta(minutes=125))
    response = _upload(client, token)
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "nothing more is accepted" in page
    assert db.query(Submission).count() == 0


def test_grace_for_an_upload_already_started(db, make_invitation):
    now = utcnow()
    invitation, _ = make_invitation(opened_at=now - timedelta(minutes=121))
    submission = candidates.submit_code(
        db, invitation, "lenet5-mnist", "solution.py", REFERENCE, now=now, grace_seconds=120
    )
    assert submission.id is not None
    with pytest.raises(CandidateError) as caught:
        candidates.submit_code(
            db,
            invitation,
            "lenet5-mnist",
            "solution.py",
            REFERENCE,
            now=now + timedelta(seconds=61),
            grace_seconds=120,
        )
    assert caught.value.code == "time_over"


def test_theory_answers_have_no_grace(db, make_invitation):
    now = utcnow()
    invitation, _ = make_invitation(opened_at=now - timedelta(minutes=121))
    with pytest.raises(CandidateError):
        candidates.save_answer(db, invitation, "class-imbalance", "late", now=now)


# -- uploads -----------------------------------------------------------------------------------


def test_upload_stores_source_and_queues_its_dry_run_not_yet_a_grading(client, db, make_invitation):
    invitation, token = make_invitation(opened_at=utcnow())
    response = _upload(client, token, name="../../etc/Ann Lee's solution.py")
    assert response.status_code == 302
    submission = db.query(Submission).one()
    assert submission.source == REFERENCE
    assert submission.size == len(REFERENCE)
    import hashlib

    assert submission.sha256 == hashlib.sha256(REFERENCE).hexdigest()
    assert submission.filename == "solution.py"  # never the uploaded name
    # The dry run first: the grading is queued only once it passes (server/dryruns.py).
    assert db.query(Grading).count() == 0
    dry_run = db.query(DryRun).one()
    assert (dry_run.status, dry_run.submission_id) == ("queued", submission.id)
    assert json.loads(dry_run.options_json)["tier"] == "sample"
    assert response.headers["Location"].endswith(f"/c/{token}/submissions/{submission.id}")
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Check before grading" in page and "hx-trigger" in page


@pytest.mark.parametrize(
    ("name", "data", "words"),
    [
        ("solution.txt", b"print(1)", "Upload a Python file"),
        ("solution.py", b"def broken(:\n", "syntax"),
        ("solution.py", b"", "empty"),
        ("solution.ipynb", b"{not json", "notebook"),
    ],
)
def test_a_bad_upload_is_refused_in_plain_words_and_nothing_is_stored(
    client, db, make_invitation, name, data, words
):
    _, token = make_invitation(opened_at=utcnow())
    response = _upload(client, token, data=data, name=name)
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert words.lower() in page.lower()
    assert db.query(Submission).count() == 0


def test_notebook_author_metadata_is_stripped(db, make_invitation):
    invitation, _ = make_invitation(opened_at=utcnow())
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["authors"] = [{"name": "Ann Lee"}]
    notebook.metadata["author"] = "ann@example.test"
    cell = nbformat.v4.new_code_cell(REFERENCE.decode())
    cell.metadata["author"] = "Ann Lee"
    notebook.cells.append(cell)
    data = nbformat.writes(notebook).encode()
    submission = candidates.submit_code(db, invitation, "lenet5-mnist", "mine.ipynb", data)
    stored = submission.source.decode()
    assert "Ann Lee" not in stored and "ann@example.test" not in stored
    assert submission.filename == "solution.ipynb"
    assert "build_model" in stored


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("solution.py", b"\xef\xbb\xbf" + REFERENCE.replace(b"\n", b"\r\n")),
        ("solution.py", REFERENCE.replace(b"    ", b"\t")),
        (
            "solution.ipynb",
            b"\xef\xbb\xbf"
            + nbformat.writes(
                nbformat.v4.new_notebook(
                    cells=[nbformat.v4.new_code_cell("files = !ls\n" + REFERENCE.decode())]
                )
            )
            .replace("\n", "\r\n")
            .encode(),
        ),
    ],
    ids=["BOM and CRLF", "tabs", "notebook with BOM, CRLF and x = !ls"],
)
def test_a_solution_saved_by_a_windows_editor_is_accepted(client, db, make_invitation, name, data):
    _, token = make_invitation(opened_at=utcnow())

    response = _upload(client, token, data=data, name=name)

    assert response.status_code == 302
    submission = db.query(Submission).one()
    assert b"build_model" in submission.source
    assert response.headers["Location"].endswith(f"/c/{token}/submissions/{submission.id}")


def test_candidate_identity_is_not_in_what_the_sandbox_gets(db, make_invitation):
    invitation, _ = make_invitation(
        opened_at=utcnow(), candidate_name="Zed Unique", candidate_email="zed@unique.test"
    )
    submission = candidates.submit_code(db, invitation, "lenet5-mnist", "Zed Unique.py", REFERENCE)
    dry_run = submission.dry_runs[-1]  # its options go to the grading once it passes
    shipped = submission.filename + dry_run.options_json + submission.source.decode()
    assert "Zed" not in shipped and "zed@unique.test" not in shipped


def test_attempt_limit_and_platform_failures_do_not_count(db, make_assessment, make_invitation):
    assessment = make_assessment(attempt_limit=2)
    invitation, _ = make_invitation(assessment=assessment, opened_at=utcnow())
    first = candidates.submit_code(db, invitation, "lenet5-mnist", "a.py", REFERENCE)
    candidates.submit_code(db, invitation, "lenet5-mnist", "a.py", REFERENCE)
    with pytest.raises(CandidateError) as caught:
        candidates.submit_code(db, invitation, "lenet5-mnist", "a.py", REFERENCE)
    assert caught.value.code == "no_attempts"
    first.counts_as_attempt = False  # its grading ended in a platform failure
    assert candidates.attempts_used(invitation, "lenet5-mnist") == 1
    candidates.submit_code(db, invitation, "lenet5-mnist", "a.py", REFERENCE)


def test_unknown_challenge_is_refused(db, make_invitation):
    invitation, _ = make_invitation(opened_at=utcnow())
    with pytest.raises(CandidateError):
        candidates.submit_code(db, invitation, "sentiment-bilstm", "a.py", REFERENCE)


# -- statement and starter ---------------------------------------------------------------------


def test_statement_is_rendered_in_english_and_chinese(client, make_invitation):
    _, token = make_invitation(opened_at=utcnow())
    english = client.get(f"/c/{token}/challenges/lenet5-mnist").get_data(as_text=True)
    assert "<h1>" in english and "build_model" in english
    chinese = client.get(
        f"/c/{token}/challenges/lenet5-mnist", headers={"Accept-Language": "zh-CN,zh;q=0.9"}
    ).get_data(as_text=True)
    assert any("\u4e00" <= ch <= "\u9fff" for ch in chinese)
    assert chinese != english


def test_markdown_is_sanitised():
    from server.formatting import render_markdown

    html = str(render_markdown("<script>alert(1)</script>\n\n[x](javascript:alert(1)) **ok**"))
    assert "<script" not in html and 'href="javascript' not in html
    assert "<strong>ok</strong>" in html


def test_starter_download(client, make_invitation):
    _, token = make_invitation(opened_at=utcnow())
    response = client.get(f"/c/{token}/challenges/lenet5-mnist/starter")
    assert response.status_code == 200
    assert "attachment" in response.headers["Content-Disposition"]
    assert response.headers["Content-Disposition"].endswith("lenet5-mnist-starter.zip")
    import io
    import zipfile

    with zipfile.ZipFile(io.BytesIO(response.data)) as bundle:
        names = sorted(bundle.namelist())
        assert b"def build_model" in bundle.read("lenet5-mnist/solution.py")
        check = bundle.read("lenet5-mnist/check_solution.py").decode()
    assert names == [
        "lenet5-mnist/check_data.npz",
        "lenet5-mnist/check_solution.py",
        "lenet5-mnist/solution.py",
    ]
    compile(check, "check_solution.py", "exec")  # one file that parses on its own
    assert client.get(f"/c/{token}/challenges/sentiment-bilstm/starter").status_code == 404


# -- the status page ---------------------------------------------------------------------------


def _submission(db, invitation, status="queued"):
    submission = Submission(
        invitation_id=invitation.id,
        challenge_slug="lenet5-mnist",
        filename="solution.py",
        source=REFERENCE,
        sha256="0" * 64,
        size=len(REFERENCE),
    )
    submission.gradings.append(Grading(status=status))
    db.add(submission)
    db.commit()
    return submission


def test_status_shows_queue_position(client, db, make_invitation):
    other, _ = make_invitation(opened_at=utcnow())
    _submission(db, other)
    invitation, token = make_invitation(opened_at=utcnow())
    mine = _submission(db, invitation)
    body = client.get(f"/c/{token}/submissions/{mine.id}/progress").get_data(as_text=True)
    assert "Queued" in body and "position 2" in body and 'hx-trigger="every 2s"' in body


def test_status_shows_training_epochs_with_loss(client, db, make_invitation):
    invitation, token = make_invitation(opened_at=utcnow())
    submission = _submission(db, invitation, status="running")
    grading = submission.latest
    events = [
        {"event": "phase", "phase": "train", "status": "start"},
        {"event": "epoch", "epoch": 3, "epochs": 10, "logs": {"loss": 0.41, "accuracy": 0.88}},
    ]
    for seq, event in enumerate(events):
        db.add(
            ProgressEvent(
                grading_id=grading.id, seq=seq, kind=event["event"], data_json=json.dumps(event)
            )
        )
    db.commit()
    body = client.get(f"/c/{token}/submissions/{submission.id}/progress").get_data(as_text=True)
    assert "epoch 3 of 10" in body and "loss 0.41" in body


def test_failure_is_explained_first_and_the_log_is_escaped(client, db, make_invitation):
    invitation, token = make_invitation(opened_at=utcnow())
    submission = _submission(db, invitation, status="failed")
    grading = submission.latest
    grading.error_code = "syntax_error"
    grading.report_json = json.dumps(
        {
            "status": "failed",
            "error": {"code": "syntax_error", "message": "m", "phase": "train"},
            "logs": {"train stderr": "Traceback <script>alert(1)</script>"},
        }
    )
    db.commit()
    body = client.get(f"/c/{token}/submissions/{submission.id}").get_data(as_text=True)
    from graders.catalogue import error_info

    explanation = error_info("syntax_error").message("en")
    assert explanation.split(".")[0] in body
    assert body.index(explanation.split(".")[0]) < body.index("Traceback")
    assert "<script>alert(1)" not in body and "&lt;script&gt;" in body
    assert "hx-trigger" not in body  # polling stops once the grading ended


def test_scores_only_when_the_assessment_allows(client, db, make_assessment, make_invitation):
    report = {
        "status": "graded",
        "verdict": {
            "passed": True,
            "checks": [
                {
                    "metric": "accuracy",
                    "label": "Accuracy",
                    "bar": 0.93,
                    "value": 0.9712,
                    "met": True,
                }
            ],
        },
    }
    for show in (False, True):
        assessment = make_assessment(show_scores_to_candidate=show)
        invitation, token = make_invitation(assessment=assessment, opened_at=utcnow())
        submission = _submission(db, invitation, status="graded")
        submission.latest.passed, submission.latest.report_json = True, json.dumps(report)
        db.commit()
        body = client.get(f"/c/{token}/submissions/{submission.id}").get_data(as_text=True)
        assert ("0.9712" in body) is show


# -- theory answers ----------------------------------------------------------------------------


def test_theory_draft_saved_by_htmx_then_submitted(client, db, make_invitation):
    invitation, token = make_invitation(opened_at=utcnow())
    page = client.get(f"/c/{token}/work").get_data(as_text=True)
    assert 'hx-trigger="input changed delay:1500ms' in page
    url = f"/c/{token}/theory/class-imbalance"
    response = client.post(
        url, data={"text": "Resample, weight the loss"}, headers={"HX-Request": "true"}
    )
    assert response.status_code == 200 and "Draft saved" in response.get_data(as_text=True)
    answer = db.query(TheoryAnswer).one()
    assert answer.text == "Resample, weight the loss" and answer.submitted_at is None
    client.post(url, data={"text": "Final answer", "final": "1"})
    db.refresh(answer)
    assert answer.text == "Final answer" and answer.submitted_at is not None
    # Submitted is final: it opened the question's concept checks, so no later edit lands.
    for data in ({"text": "Changed"}, {"text": "Changed", "final": "1"}):
        refused = client.post(url, data=data, headers={"HX-Request": "true"})
        assert refused.status_code == 409 and "it is final" in refused.get_data(as_text=True)
    db.refresh(answer)
    assert answer.text == "Final answer"
    assert (
        client.post(f"/c/{token}/theory/not-in-this-assessment", data={"text": "x"}).status_code
        == 409
    )


def test_two_uploads_at_once_cannot_pass_the_attempt_limit(app, make_assessment, make_invitation):
    assessment = make_assessment(attempt_limit=1)
    invitation, _ = make_invitation(assessment=assessment, opened_at=utcnow())
    factory = app.extensions["assay.sessions"]
    first, second = factory(), factory()
    mine, theirs = (
        first.get(type(invitation), invitation.id),
        second.get(type(invitation), invitation.id),
    )
    # Both sessions load the invitation (no attempts used) before either writes.
    assert candidates.attempts_used(mine, "lenet5-mnist") == 0
    assert candidates.attempts_used(theirs, "lenet5-mnist") == 0
    candidates.submit_code(first, mine, "lenet5-mnist", "a.py", REFERENCE)
    first.commit()
    with pytest.raises(CandidateError) as caught:
        candidates.submit_code(second, theirs, "lenet5-mnist", "a.py", REFERENCE)
    assert caught.value.code == "no_attempts"
    second.rollback()
    first.close()
    second.close()


def test_candidate_pages_are_not_cached(client, make_invitation):
    _, token = make_invitation()
    assert client.get(f"/c/{token}").headers["Cache-Control"] == "no-store"
    assert client.get("/c/made-up-token").headers["Cache-Control"] == "no-store"
