"""The first hour of a recruiter, a candidate and a reviewer (issue 20), over HTTP, in English
and Chinese: the link shown once, confirmations, deadlines, duplicates, email syntax, plurals,
editing/duplicating/previewing an assessment; drafts handed in by the clock, "Finish", no Start
past the deadline, the upload limit; the bar's metric as headline, failed runs never green,
numbers by locale, no host paths, the candidate summary, the reviewer's home, the nav.

Browser behaviour (the copy button, the confirmations, the page at 0:00) is in
``test_first_hour_browser.py``.
"""

from __future__ import annotations

import io
import json
import re
from datetime import timedelta

import numpy as np
import pytest
import sqlalchemy as sa
from markupsafe import escape

from graders import scoring
from graders.challenges import get_challenge
from graders.predictions import Predictions
from graders.report import Report, scrub_paths
from graders.submissions import MAX_BYTES
from graders.theory import load_bank
from server.invitations import hash_token
from server.models import (
    Assessment,
    Invitation,
    MailOutbox,
    ReviewAssignment,
    TheoryAnswer,
    utcnow,
)
from tests.server.test_review import _submission, graded_report

ZH = {"Accept-Language": "zh-CN,zh;q=0.9"}
LINK = re.compile(r'value="(http://[^"]+/c/([A-Za-z0-9_-]{20,}))"')


def _text(response) -> str:
    return response.get_data(as_text=True)


def _owner_assessment(make_user, make_assessment, **fields):
    owner = make_user(role="recruiter")
    return owner, make_assessment(owner=owner, **fields)


# -- the recruiter -------------------------------------------------------------------------


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_link_is_shown_once_after_inviting_and_only_its_hash_is_kept(
    client, db, make_user, make_assessment, login, lang
):
    owner, assessment = _owner_assessment(make_user, make_assessment)
    login(client, owner)
    headers = ZH if lang == "zh" else {}
    response = client.post(
        f"/recruiter/assessments/{assessment.id}/invite",
        data={"name": "Nia", "email": "Nia@Example.test"},
        headers=headers,
    )
    assert response.status_code == 302
    page = _text(client.get(response.headers["Location"], headers=headers))
    link, token = LINK.search(page).groups()
    assert 'data-copy="link-1"' in page
    assert ("只显示这一次" if lang == "zh" else "shown only this once") in page
    invitation = db.scalar(sa.select(Invitation).where(Invitation.assessment_id == assessment.id))
    assert invitation.candidate_email == "nia@example.test"
    assert invitation.token_hash == hash_token(token)  # the hash, never the token
    # Shown once: the next view of the page has no link.
    assert LINK.search(_text(client.get(f"/recruiter/assessments/{assessment.id}"))) is None
    assert client.get(link.replace("http://localhost:5000", "")).status_code == 200


def test_resend_shows_the_new_link_and_the_old_one_stops(
    client, db, make_user, make_assessment, make_invitation, login
):
    owner, assessment = _owner_assessment(make_user, make_assessment)
    invitation, old = make_invitation(assessment=assessment)
    login(client, owner)
    client.post(f"/recruiter/invitations/{invitation.id}/resend")
    page = _text(client.get(f"/recruiter/assessments/{assessment.id}"))
    _link, new = LINK.search(page).groups()
    assert "A new link was sent to" in page
    assert client.get(f"/c/{old}").status_code == 404
    assert client.get(f"/c/{new}").status_code == 200


def test_a_recruiter_sees_their_own_outbox_only(app, client, db, make_user, make_assessment, login):
    mine, assessment = _owner_assessment(make_user, make_assessment)
    theirs, other = _owner_assessment(make_user, make_assessment)
    login(client, theirs)
    client.post(
        f"/recruiter/assessments/{other.id}/invite", data={"name": "T", "email": "t@x.test"}
    )
    client.post("/logout")
    login(client, mine)
    client.post(
        f"/recruiter/assessments/{assessment.id}/invite", data={"name": "M", "email": "m@x.test"}
    )
    assert 'href="/recruiter/outbox"' in _text(client.get("/recruiter/"))
    outbox = _text(client.get("/recruiter/outbox"))
    assert "m@x.test" in outbox and "/c/" in outbox and "t@x.test" not in outbox
    assert db.scalar(sa.select(MailOutbox.sender_id).where(MailOutbox.recipient == "m@x.test"))
    assert "邮件保存在这里" in _text(client.get("/recruiter/outbox", headers=ZH))
    app.config["MAIL_URL"] = "smtp://127.0.0.1:1"  # mail configured: no outbox to show
    assert client.get("/recruiter/outbox").status_code == 404


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_a_past_deadline_is_a_form_error_at_creation(client, db, make_user, login, lang):
    login(client, make_user(role="recruiter"))
    before = db.scalar(sa.select(sa.func.count(Assessment.id)))
    response = client.post(
        "/recruiter/assessments/new",
        data={
            "title": "Late",
            "challenges": ["lenet5-mnist"],
            "time_limit_minutes": "60",
            "attempt_limit": "2",
            "dataset_tier": "sample",
            "deadline": "2020-01-01T10:00",
        },
        headers=ZH if lang == "zh" else {},
    )
    body = _text(response)
    assert 'class="field-error"' in body
    assert ("截止时间已经过去" if lang == "zh" else "The deadline has already passed") in body
    assert db.scalar(sa.select(sa.func.count(Assessment.id))) == before


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_inviting_to_an_assessment_past_its_deadline_is_refused(
    client, db, make_user, make_assessment, login, lang
):
    owner, assessment = _owner_assessment(
        make_user, make_assessment, deadline=utcnow() - timedelta(hours=1)
    )
    login(client, owner)
    headers = ZH if lang == "zh" else {}
    page = _text(client.get(f"/recruiter/assessments/{assessment.id}", headers=headers))
    assert ("不能再发出新邀请" if lang == "zh" else "takes no new invitations") in page
    response = client.post(
        f"/recruiter/assessments/{assessment.id}/invite",
        data={"name": "Late", "email": "late@example.test"},
        headers=headers,
    )
    assert response.status_code == 400
    assert ("截止时间已过" if lang == "zh" else "deadline has passed") in _text(response)
    csv_response = client.post(
        f"/recruiter/assessments/{assessment.id}/invite-csv",
        data={"file": (io.BytesIO(b"A,a@example.test\n"), "c.csv")},
        content_type="multipart/form-data",
        follow_redirects=True,
    )
    assert "Nothing was imported" in _text(csv_response) or "未导入" in _text(csv_response)
    assert not db.scalar(sa.select(Invitation.id).where(Invitation.assessment_id == assessment.id))


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_a_duplicate_email_is_warned_and_invited_again_only_when_asked(
    client, db, make_user, make_assessment, make_invitation, login, lang
):
    owner, assessment = _owner_assessment(make_user, make_assessment)
    first, _ = make_invitation(assessment=assessment, candidate_email="dup@example.test")
    login(client, owner)
    headers = ZH if lang == "zh" else {}
    url = f"/recruiter/assessments/{assessment.id}/invite"
    response = client.post(url, data={"name": "Dup", "email": "DUP@example.test"}, headers=headers)
    assert response.status_code == 409
    body = _text(response)
    assert 'id="duplicate-warning"' in body and f'href="#inv-{first.id}"' in body
    assert ("已经邀请过" if lang == "zh" else "Already invited") in body

    def count():
        return db.scalar(
            sa.select(sa.func.count(Invitation.id)).where(
                Invitation.candidate_email == "dup@example.test"
            )
        )

    assert count() == 1
    again = client.post(url, data={"name": "Dup", "email": "dup@example.test", "again": "y"})
    assert again.status_code == 302 and count() == 2


@pytest.mark.parametrize(
    ("lang", "one", "two", "skipped"),
    [
        ("en", "1 invitation sent.", "2 invitations sent.", "1 already invited"),
        ("zh", "已发送 1 份邀请。", "已发送 2 份邀请。", "1 人已被邀请过"),
    ],
)
def test_csv_plurals_and_already_invited_rows(
    client, make_user, make_assessment, login, lang, one, two, skipped
):
    owner, assessment = _owner_assessment(make_user, make_assessment)
    login(client, owner)
    headers = ZH if lang == "zh" else {}
    url = f"/recruiter/assessments/{assessment.id}/invite-csv"

    def send(text: bytes) -> str:
        return _text(
            client.post(
                url,
                data={"file": (io.BytesIO(text), "c.csv")},
                content_type="multipart/form-data",
                headers=headers,
                follow_redirects=True,
            )
        )

    assert one in send(b"Ann,ann@example.test\n")
    page = send(b"Ann,ann@example.test\nBo,bo@example.test\nCy,cy@example.test\n")
    assert two in page and skipped in page and "ann@example.test" in page
    assert "invitations sent" not in page.replace(two, "") or lang == "zh"


def test_an_email_with_markup_is_refused_and_shown_escaped(
    client, db, make_user, make_assessment, login
):
    owner, assessment = _owner_assessment(make_user, make_assessment)
    login(client, owner)
    response = client.post(
        f"/recruiter/assessments/{assessment.id}/invite",
        data={"name": "Eve", "email": "<b>eve</b>@example.com"},
    )
    body = _text(response)
    assert response.status_code == 400 and "not an email address" in body
    assert "<b>eve</b>" not in body and "&lt;b&gt;eve&lt;/b&gt;" in body
    assert not db.scalar(sa.select(Invitation.id).where(Invitation.assessment_id == assessment.id))


def _form(assessment_title: str, **extra) -> dict:
    data = {
        "title": assessment_title,
        "challenges": ["sentiment-bilstm"],
        "time_limit_minutes": "45",
        "attempt_limit": "4",
        "dataset_tier": "sample",
        "bars-sentiment-bilstm": "roc_auc=0.8",
    }
    data.update(extra)
    return data


def test_edit_until_the_first_candidate_starts(
    client, db, make_user, make_assessment, make_invitation, login
):
    owner, assessment = _owner_assessment(make_user, make_assessment)
    invitation, _ = make_invitation(assessment=assessment)
    login(client, owner)
    url = f"/recruiter/assessments/{assessment.id}/edit"
    form = _text(client.get(url))
    assert 'value="' + assessment.title + '"' in form and "Save changes" in form
    # Every field holds the assessment's values: its challenges and theory questions ticked.
    for field, value in (("challenges", "lenet5-mnist"), ("theory", "class-imbalance")):
        tag = re.search(rf'<input[^>]*name="{field}"[^>]*value="{value}"[^>]*>', form).group(0)
        assert "checked" in tag
    untouched = re.search(r'<input[^>]*name="theory"[^>]*value="feasibility"[^>]*>', form)
    assert untouched is None or "checked" not in untouched.group(0)
    assert client.post(url, data=_form("Renamed")).status_code == 302
    db.expire_all()
    changed = db.get(Assessment, assessment.id)
    assert changed.title == "Renamed" and changed.challenge_slugs == ["sentiment-bilstm"]
    assert changed.time_limit_minutes == 45 and changed.challenges[0].bars == {"roc_auc": 0.8}
    assert 'name="bars-sentiment-bilstm" value="roc_auc=0.8"' in _text(client.get(url))

    invitation.opened_at = utcnow()
    db.commit()
    page = _text(client.get(url, follow_redirects=True))
    assert "can no longer be changed" in page
    assert client.post(url, data=_form("Too late")).status_code == 302
    db.expire_all()
    assert db.get(Assessment, assessment.id).title == "Renamed"


def test_duplicate_copies_everything_but_the_candidates(
    client, db, make_user, make_assessment, make_invitation, login
):
    owner, assessment = _owner_assessment(make_user, make_assessment, blind_review=False)
    assessment.challenges[0].bars = {"accuracy": 0.9}
    db.commit()
    make_invitation(assessment=assessment, opened_at=utcnow())
    login(client, owner)
    response = client.post(f"/recruiter/assessments/{assessment.id}/duplicate")
    copy_id = int(re.search(r"/assessments/(\d+)/edit", response.headers["Location"]).group(1))
    copy = db.get(Assessment, copy_id)
    assert copy.title == f"Copy of {assessment.title}" and copy.owner_id == owner.id
    assert copy.challenge_slugs == assessment.challenge_slugs
    assert copy.challenges[0].bars == {"accuracy": 0.9} and copy.blind_review is False
    assert copy.theory_question_ids == assessment.theory_question_ids
    assert not db.scalar(sa.select(Invitation.id).where(Invitation.assessment_id == copy_id))
    assert client.get(response.headers["Location"]).status_code == 200  # editable: no one started


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_preview_shows_the_candidates_view_and_records_nothing(
    client, db, make_user, make_assessment, login, lang
):
    owner, assessment = _owner_assessment(make_user, make_assessment)
    login(client, owner)
    invitations_before = db.scalar(sa.select(sa.func.count(Invitation.id)))
    body = _text(
        client.get(
            f"/recruiter/assessments/{assessment.id}/preview", headers=ZH if lang == "zh" else {}
        )
    )
    assert ("不会使用任何邀请" if lang == "zh" else "No invitation is used") in body
    assert "LeNet" in body  # the statement itself
    assert ("理论题" if lang == "zh" else "Theory questions") in body
    assert "<form" not in body.split("<main>")[1]  # nothing to send
    assert db.scalar(sa.select(sa.func.count(Invitation.id))) == invitations_before


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_form_shows_the_default_bars_and_explains_the_tier(client, make_user, login, lang):
    login(client, make_user(role="recruiter"))
    body = _text(client.get("/recruiter/assessments/new", headers=ZH if lang == "zh" else {}))
    section = body.split('id="bars-help-sentiment-bilstm"')[1].split("</p>")[0]
    assert "roc_auc ≥ 0.75" in section and "f1 ≥ 0.85" in section
    assert 'id="tier-help"' in body
    assert ("较小的数据集" if lang == "zh" else "a smaller dataset") in body


# -- the candidate -------------------------------------------------------------------------


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_a_draft_survives_the_time_out_marked_as_submitted_by_the_clock(
    client, db, make_user, make_assessment, make_invitation, login, lang
):
    owner, assessment = _owner_assessment(make_user, make_assessment, time_limit_minutes=30)
    invitation, token = make_invitation(assessment=assessment, opened_at=utcnow())
    client.post(f"/c/{token}/theory/class-imbalance", data={"text": "Stratify, then weigh."})
    client.post(f"/c/{token}/theory/evaluation-metrics", data={"text": "   "})  # blank draft
    invitation.opened_at = utcnow() - timedelta(minutes=31)  # the time ran out
    db.commit()
    headers = ZH if lang == "zh" else {}
    # The reviewer opens the candidate before the candidate comes back.
    reviewer_client = client.application.test_client()
    login(reviewer_client, owner)
    review = _text(reviewer_client.get(f"/review/candidates/{invitation.id}", headers=headers))
    assert "Stratify, then weigh." in re.sub(r"<[^>]+>", "", review)  # marked up by the rubric
    assert ("由系统在时间到时自动提交" if lang == "zh" else "Submitted by the clock") in review
    db.expire_all()
    answers = {a.question_id: a for a in db.get(Invitation, invitation.id).answers}
    saved = answers["class-imbalance"]
    assert saved.submitted_at is not None and saved.submitted_by_clock
    assert saved.submitted_at <= invitation.opened_at + timedelta(minutes=30, seconds=1)
    assert answers["evaluation-metrics"].submitted_at is None  # nothing to hand in
    work = _text(client.get(f"/c/{token}/work", headers=headers))
    assert ("自动提交" if lang == "zh" else "Submitted by the clock") in work
    assert 'name="final"' not in work and "upload" not in work.split("<main>")[1].lower().replace(
        "uploaded", ""
    ).replace("upload of", "")


def test_the_candidates_table_hands_in_timed_out_drafts(
    client, db, make_user, make_assessment, make_invitation, login
):
    owner, assessment = _owner_assessment(make_user, make_assessment, time_limit_minutes=10)
    invitation, _ = make_invitation(assessment=assessment, opened_at=utcnow() - timedelta(hours=1))
    db.add(TheoryAnswer(invitation_id=invitation.id, question_id="class-imbalance", text="Draft"))
    db.commit()
    login(client, owner)
    client.get(f"/review/assessments/{assessment.id}")
    db.expire_all()
    answer = db.get(Invitation, invitation.id).answers[0]
    assert answer.submitted_by_clock and answer.submitted_at is not None


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_finish_lists_what_is_unanswered_then_hands_in_and_ends_the_clock(
    client, db, make_assessment, make_invitation, lang
):
    invitation, token = make_invitation(opened_at=utcnow())
    headers = ZH if lang == "zh" else {}
    client.post(f"/c/{token}/theory/class-imbalance", data={"text": "My answer"})
    work = _text(client.get(f"/c/{token}/work", headers=headers))
    assert f'href="/c/{token}/finish"' in work
    confirm = _text(client.get(f"/c/{token}/finish", headers=headers))
    unanswered = confirm.split('id="unanswered"')[1].split("</section>")[0]
    bank = load_bank()
    # The unanswered question and the challenge with no upload; not the answered one.
    assert escape(bank.get("evaluation-metrics").title.get(lang)) in unanswered
    assert escape(bank.get("class-imbalance").title.get(lang)) not in unanswered
    assert "LeNet" in unanswered
    assert ("份草稿将按当前保存的内容提交" if lang == "zh" else "1 draft answer will") in confirm
    db.expire_all()
    assert db.get(Invitation, invitation.id).finished_at is None  # asking changes nothing
    response = client.post(f"/c/{token}/finish", headers=headers)
    assert response.status_code == 302
    db.expire_all()
    finished = db.get(Invitation, invitation.id)
    assert finished.finished_at is not None
    answer = finished.answers[0]
    assert answer.submitted_at is not None and not answer.submitted_by_clock
    # The time is over: nothing more is accepted.
    refused = client.post(f"/c/{token}/theory/class-imbalance", data={"text": "changed"})
    assert refused.status_code == 409
    upload = client.post(
        f"/c/{token}/challenges/lenet5-mnist/upload",
        data={"file": (io.BytesIO(b"def build_model():\n    pass\n"), "s.py")},
        content_type="multipart/form-data",
        follow_redirects=True,
    )
    assert not finished.submissions and "is over" in _text(upload)
    work = _text(client.get(f"/c/{token}/work", headers=headers))
    assert ("您已于" if lang == "zh" else "You finished the assessment at") in work


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_past_its_deadline_the_landing_page_offers_no_start(
    client, db, make_assessment, make_invitation, lang
):
    assessment = make_assessment(deadline=utcnow() - timedelta(minutes=5))
    invitation, token = make_invitation(assessment=assessment)
    body = _text(client.get(f"/c/{token}", headers=ZH if lang == "zh" else {}))
    assert 'id="deadline-passed"' in body and f"/c/{token}/start" not in body
    assert ("截止时间" if lang == "zh" else "has passed") in body
    response = client.post(f"/c/{token}/start", follow_redirects=True)
    assert "can no longer be started" in _text(response)
    db.expire_all()
    assert db.get(Invitation, invitation.id).opened_at is None


def _big_notebook() -> bytes:
    cell = {
        "cell_type": "code",
        "execution_count": 1,
        "metadata": {},
        "source": "def build_model():\n    return None\n",
        "outputs": [{"output_type": "stream", "name": "stdout", "text": "x" * (MAX_BYTES + 9)}],
    }
    return json.dumps(
        {"cells": [cell], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    ).encode()


@pytest.mark.parametrize(
    ("lang", "hint"), [("en", "Clear Outputs of All Cells"), ("zh", "请清除所有输出")]
)
def test_a_notebook_too_large_because_of_its_outputs_says_to_clear_them(
    client, make_invitation, lang, hint
):
    _invitation, token = make_invitation(opened_at=utcnow())
    response = client.post(
        f"/c/{token}/challenges/lenet5-mnist/upload",
        data={"file": (io.BytesIO(_big_notebook()), "work.ipynb")},
        content_type="multipart/form-data",
        headers=ZH if lang == "zh" else {},
        follow_redirects=True,
    )
    body = _text(response)
    assert hint in body and "the limit is 2 MB" in body
    assert ("不超过 2 MB" if lang == "zh" else "up to 2 MB") in body  # the form says it too


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_413_page_says_the_limit_and_leads_back(client, make_invitation, lang):
    _invitation, token = make_invitation(opened_at=utcnow())
    response = client.post(
        f"/c/{token}/challenges/lenet5-mnist/upload",
        data={"file": (io.BytesIO(b"#" * (4 * 1024 * 1024)), "big.py")},
        content_type="multipart/form-data",
        headers=ZH if lang == "zh" else {},
    )
    body = _text(response)
    assert response.status_code == 413
    assert "2 MB" in body and "2.1 MB" not in body
    assert f'href="/c/{token}/work"' in body
    assert ("返回上一页" if lang == "zh" else "Back to the page you came from") in body


# -- the reviewer ---------------------------------------------------------------------------


def sentiment_report(errors: int = 20, model: dict | None = None) -> Report:
    """A real sentiment-bilstm report (graders.scoring): its sample bar is on ROC-AUC, its
    primary metric F1."""
    challenge = get_challenge("sentiment-bilstm")
    rng = np.random.default_rng(5)
    y = rng.integers(0, 2, 400)
    proba = np.clip(y * 0.7 + rng.normal(0.15, 0.2, 400), 0, 1)
    pred = (proba > 0.5).astype(np.int64)
    test = scoring.score_set(challenge.spec, "test", y, Predictions(ids=pred, proba_positive=proba))
    verdict = scoring.verdict(
        challenge.spec, "sample", {m.name: m.value for m in test.metrics}, model
    )
    return Report(
        challenge="sentiment-bilstm",
        title=challenge.spec.title,
        dataset="imdb",
        tier="sample",
        status="graded",
        class_names=list(challenge.spec.dataset.class_names),
        primary_metric=challenge.spec.primary_metric,
        verdict=verdict,
        test=test,
        logs={"train stderr": 'File "/tmp/assay-job-7/work/solution.py", line 15, in fit\n'},
    )


def test_the_headline_is_the_bars_metric_and_a_failed_run_is_never_green(
    client, db, make_user, make_assessment, make_invitation, login
):
    owner, assessment = _owner_assessment(
        make_user, make_assessment, challenges=["sentiment-bilstm"]
    )
    ok, _ = make_invitation(assessment=assessment, candidate_name="Olga", opened_at=utcnow())
    bad, _ = make_invitation(assessment=assessment, candidate_name="Bert", opened_at=utcnow())
    sub = _submission(db, ok, sentiment_report(), "graded")
    sub.challenge_slug = "sentiment-bilstm"
    failed = sentiment_report()
    failed.status, failed.verdict = "failed", None
    broken = _submission(db, bad, failed, "failed")
    broken.challenge_slug = "sentiment-bilstm"
    db.commit()
    login(client, owner)
    table = _text(client.get(f"/review/assessments/{assessment.id}"))
    olga = table.split(f'id="cand-{ok.id}"')[1].split("</tr>")[0]
    bert = table.split(f'id="cand-{bad.id}"')[1].split("</tr>")[0]
    # The headline is the bar's metric, by its label ("F1 (positive class)" would be f1's).
    assert "ROC-AUC" in olga and "F1 " not in olga and "/ 0.75" in olga
    assert 'class="state failed"' in bert and 'class="state graded"' not in bert
    assert "failed to run" in bert
    assert 'class="state graded"' in olga


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_numbers_are_formatted_and_reports_have_no_host_paths(
    client, db, make_user, make_assessment, make_invitation, login, lang
):
    owner, assessment = _owner_assessment(make_user, make_assessment)
    invitation, _ = make_invitation(assessment=assessment, opened_at=utcnow())
    report = graded_report()
    challenge = get_challenge("lenet5-mnist")
    report.verdict = scoring.verdict(
        challenge.spec,
        "sample",
        {m.name: m.value for m in report.test.metrics},
        {"param_count": 61706, "model_kb": 250.0},
    )
    report.logs["train stderr"] = 'File "/work/main/var/tmp/job-1/solution.py", line 15\n'
    sub = _submission(db, invitation, report, "graded")
    login(client, owner)
    body = _text(client.get(f"/review/submissions/{sub.id}", headers=ZH if lang == "zh" else {}))
    assert "61,706" in body and "+238,294" in body and "≤ 300,000" in body
    assert "12.5" in body  # the reproducibility table's seconds, as they are
    assert not re.search(r"\d\.0000\b", body) and "61706" not in body
    assert "/work/main" not in body and "solution.py" in body and "line 15" in body
    exported = _text(client.get(f"/review/submissions/{sub.id}/report.json"))
    assert "/work/main" not in exported


def test_scrub_paths_keeps_urls_fractions_and_file_names():
    text = (
        'File "/home/grader/jobs/7/solution.py", line 3\n'
        "/usr/lib/python3/dist-packages/numpy/core.py\n"
        "see https://example.com/a/b, 3/4 done, train/test split, /x"
    )
    out = scrub_paths({"logs": [text]})["logs"][0]
    assert "/home/grader" not in out and "solution.py" in out and "line 3" in out
    assert "dist-packages/numpy/core.py" in out and "/usr/lib" not in out
    assert "https://example.com/a/b" in out and "3/4" in out and "train/test" in out


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_candidate_page_opens_with_a_summary(
    client, db, make_user, make_assessment, make_invitation, login, lang
):
    owner, assessment = _owner_assessment(make_user, make_assessment)
    invitation, _ = make_invitation(assessment=assessment, opened_at=utcnow())
    _submission(db, invitation, graded_report(), "graded")
    db.add(
        TheoryAnswer(
            invitation_id=invitation.id,
            question_id="class-imbalance",
            text="Stratify.",
            submitted_at=utcnow(),
            submitted_by_clock=True,
        )
    )
    db.commit()
    login(client, owner)
    body = _text(
        client.get(f"/review/candidates/{invitation.id}", headers=ZH if lang == "zh" else {})
    )
    summary = body.split('id="summary"')[1].split("</section>")[0]
    if lang == "en":
        assert "passed" in summary and "Accuracy 0.95 / 0.93" in summary
        assert "1 of 2 questions answered" in summary and "1 submitted by the clock" in summary
        assert "No decision yet." in summary
    else:
        assert "已回答 1 / 2 题" in summary and "尚未做出决定" in summary
    assert body.index('id="summary"') < body.index("<h2>", body.index('id="summary"') + 40)


def test_the_reviewers_home_lists_what_awaits_them(
    client, db, make_user, make_assessment, make_invitation, login
):
    reviewer = make_user(role="reviewer")
    owner, assessment = _owner_assessment(make_user, make_assessment, title="Backend hires")
    _other_owner, hidden = _owner_assessment(make_user, make_assessment, title="Not yours")
    db.add(ReviewAssignment(assessment_id=assessment.id, user_id=reviewer.id))
    for name in ("A", "B"):
        invitation, _ = make_invitation(
            assessment=assessment, candidate_name=name, opened_at=utcnow()
        )
        _submission(db, invitation, graded_report(), "graded")
    make_invitation(assessment=assessment)  # not started: awaits nothing
    db.commit()
    login(client, reviewer)
    assert client.get("/").headers["Location"].endswith("/home")
    body = _text(client.get("/home"))
    row = body.split("Backend hires")[1].split("</tr>")[0]
    assert "<strong>2</strong>" in row and "Not yours" not in body
    assert "2 candidates await your review." in body
    assert "有 2 位候选人等待您评审" in _text(client.get("/home", headers=ZH))
    assert 'href="/review/tokens"' in body  # the nav


@pytest.mark.parametrize("role", ["recruiter", "reviewer"])
def test_the_nav_links_tokens_and_webhooks_and_their_help_reads_right(
    client, make_user, login, role
):
    login(client, make_user(role=role))
    body = _text(client.get("/review/tokens"))
    nav = body.split("<nav>")[1].split("</nav>")[0]
    assert 'href="/review/tokens"' in nav
    assert ('href="/review/webhooks"' in nav) == (role == "recruiter")
    assert "Authorization: Bearer &lt;token&gt;" in body
    if role == "recruiter":
        hooks = _text(client.get("/review/webhooks"))
        assert "&#34;&lt;timestamp&gt;.&lt;body&gt;&#34;" in hooks or (
            "&lt;timestamp&gt;.&lt;body&gt;" in hooks
        )
        assert "Bearer &lt;token&gt;" in _text(client.get("/review/tokens", headers=ZH))


def test_the_api_refuses_a_duplicate_invitation_with_409(client, db, make_user, make_assessment):
    from server.api import tokens

    owner, assessment = _owner_assessment(make_user, make_assessment)
    _row, token = tokens.create(db, owner, "ats", "write")
    db.commit()
    url = f"/api/v1/assessments/{assessment.id}/invitations"
    headers = {"Authorization": f"Bearer {token}"}
    body = {"name": "Nia", "email": "nia@example.test"}
    first = client.post(url, json=body, headers=headers)
    assert first.status_code == 201
    again = client.post(url, json={**body, "email": "NIA@example.test"}, headers=headers)
    error = again.get_json()["error"]
    assert again.status_code == 409 and error["code"] == "duplicate_invitation"
    assert error["details"] == [{"invitation_id": first.get_json()["id"]}]
    spec = client.get("/api/v1/openapi.json").get_json()
    assert (
        "409"
        in spec["paths"]["/api/v1/assessments/{assessment_id}/invitations"]["post"]["responses"]
    )


def test_the_explanations_page_counts_drafts_handed_in_by_the_clock(
    client, db, make_assessment, make_invitation
):
    assessment = make_assessment(show_explanations_to_candidate=True, time_limit_minutes=5)
    invitation, token = make_invitation(assessment=assessment, opened_at=utcnow())
    client.post(f"/c/{token}/theory/class-imbalance", data={"text": "A draft."})
    invitation.opened_at = utcnow() - timedelta(minutes=10)
    db.commit()
    assert client.get(f"/c/{token}/explanations").status_code == 200  # straight there
