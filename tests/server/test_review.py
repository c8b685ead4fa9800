"""The hiring team's pages: every route against every visitor, the report, theory reviews,
decisions, blind review (nothing leaks to a blind reviewer) and the exports.

Reports are real: built by the grading core's own scorer (graders.scoring) from hand-made
predictions, the same code path a worker runs after the predict phase; no model is trained.
"""

from __future__ import annotations

import csv
import io
import json
import re

import numpy as np
import pytest

from graders import scoring
from graders.challenges import get_challenge
from graders.predictions import Predictions
from graders.report import ErrorInfo, Report
from server.models import (
    AuditEvent,
    Grading,
    ReviewAssignment,
    Submission,
    TheoryAnswer,
    utcnow,
)

ALICE, ALICE_EMAIL = "Alice Secretname", "alice.secret@example.test"
BOB, BOB_EMAIL = "Bob Hiddenname", "bob.hidden@example.test"
HOSTILE_LOG = "epoch 1\x1b[31m red \x1b[0m<script>alert(1)</script>\n"
CODE = "import keras\n\n\ndef build_model():\n    return keras.Sequential()  # <b>bold</b>\n"
GOOD_ANSWER = (
    "With 1% positives a model that always predicts the majority class is 99% accurate and "
    "useless. Split with stratification so each split keeps the rate, report per-class "
    "recall and precision and F1, and use class weights in the loss."
)


def graded_report(accuracy_errors: int = 10, history: bool = True) -> Report:
    """A lenet5-mnist report scored from predictions with ``accuracy_errors`` mistakes in 200."""
    challenge = get_challenge("lenet5-mnist")
    rng = np.random.default_rng(3)
    y = rng.integers(0, 10, 200)
    pred = y.copy()
    pred[:accuracy_errors] = (pred[:accuracy_errors] + 1) % 10
    test = scoring.score_set(challenge.spec, "test", y, Predictions(ids=pred))
    verdict = scoring.verdict(challenge.spec, "sample", {m.name: m.value for m in test.metrics})
    return Report(
        challenge="lenet5-mnist",
        title=challenge.spec.title,
        dataset="mnist",
        tier="sample",
        status="graded",
        class_names=list(challenge.spec.dataset.class_names),
        primary_metric=challenge.spec.primary_metric,
        verdict=verdict,
        test=test,
        history={"loss": [1.0, 0.5, 0.3], "accuracy": [0.7, 0.9, 0.95]} if history else {},
        warnings=["dropped 1 line of %magic"],
        logs={"train stdout": HOSTILE_LOG, "train stderr": ""},
        reproducibility={
            "backend": "bwrap",
            "train_wall_seconds": 12.5,
            "seed": 1,
            "reported_by_sandbox": {"train_code_seconds": 287.0},
        },
    )


def _submission(db, invitation, report: Report | None, status: str, source: str = CODE):
    submission = Submission(
        invitation_id=invitation.id,
        challenge_slug="lenet5-mnist",
        filename="solution.py",
        source=source.encode(),
        sha256="0" * 64,
        size=len(source),
        created_at=utcnow(),
    )
    grading = Grading(status=status, finished_at=utcnow() if report else None)
    if report is not None:
        grading.report_json = report.to_json()
        grading.passed = report.passed
        grading.error_code = report.error.code if report.error else None
    submission.gradings.append(grading)
    db.add(submission)
    db.commit()
    return submission


@pytest.fixture
def world(db, make_user, make_assessment, make_invitation):
    return build_world(db, make_user, make_assessment, make_invitation)


def build_world(db, make_user, make_assessment, make_invitation) -> dict:
    """Two teams; in one, Alice graded (passed), Bob failed to run, Carol not started."""
    owner = make_user(role="recruiter", name="Owner Person")
    people = {
        "owner": owner,
        "other_recruiter": make_user(role="recruiter"),
        "reviewer": make_user(role="reviewer", name="Rita Reviewer"),
        "other_reviewer": make_user(role="reviewer"),
        "admin": make_user(role="admin"),
    }
    assessment = make_assessment(owner=owner)
    other = make_assessment(owner=people["other_recruiter"])
    db.add(ReviewAssignment(assessment_id=assessment.id, user_id=people["reviewer"].id))
    db.add(ReviewAssignment(assessment_id=other.id, user_id=people["other_reviewer"].id))
    now = utcnow()
    alice, alice_token = make_invitation(
        assessment=assessment, candidate_name=ALICE, candidate_email=ALICE_EMAIL, opened_at=now
    )
    bob, _ = make_invitation(
        assessment=assessment, candidate_name=BOB, candidate_email=BOB_EMAIL, opened_at=now
    )
    make_invitation(assessment=assessment, candidate_name="Carol Notstarted")
    alice_sub = _submission(db, alice, graded_report(), "graded")
    failed = graded_report()
    failed.status, failed.verdict = "failed", None
    failed.error = ErrorInfo("syntax_error", "line 3: invalid syntax", "train")
    bob_sub = _submission(db, bob, failed, "failed", source="def build_model(:\n    pass\n")
    for qid in ("class-imbalance", "evaluation-metrics"):
        db.add(
            TheoryAnswer(
                invitation_id=alice.id, question_id=qid, text=GOOD_ANSWER, submitted_at=now
            )
        )
    db.commit()
    return {
        "people": people,
        "assessment": assessment.id,
        "alice": alice.id,
        "bob": bob.id,
        "sub": alice_sub.id,
        "bob_sub": bob_sub.id,
        "token": alice_token,
    }


# -- route x role ------------------------------------------------------------------------------

#: endpoint -> (method, url, form, needs_manage)
REVIEW_ROUTES = {
    "review.assessments": ("GET", "/review/", None, False),
    "review.candidates": ("GET", "/review/assessments/{assessment}", None, False),
    "review.assign": (
        "POST",
        "/review/assessments/{assessment}/reviewers",
        {"email": "nobody@example.test"},
        True,
    ),
    "review.blind": ("POST", "/review/assessments/{assessment}/blind", {"on": "1"}, True),
    "review.audit_log": ("GET", "/review/assessments/{assessment}/audit", None, True),
    "review.export": ("GET", "/review/assessments/{assessment}/export.csv", None, False),
    "review.candidate": ("GET", "/review/candidates/{alice}", None, False),
    "review.reveal": ("POST", "/review/candidates/{alice}/reveal", {}, False),
    "review.decide": (
        "POST",
        "/review/candidates/{alice}/decision",
        {"decision": "hold", "note": "n"},
        False,
    ),
    "review.theory_mark": (
        "POST",
        "/review/candidates/{alice}/theory/class-imbalance/marks",
        {"kind": "point", "item": "class-weights", "mark": "correct"},
        False,
    ),
    "review.double_review": (
        "POST",
        "/review/assessments/{assessment}/double-review",
        {"on": "1", "margin": "2"},
        True,
    ),
    "review.calibration": ("GET", "/review/assessments/{assessment}/calibration", None, False),
    "review.report": ("GET", "/review/submissions/{sub}", None, False),
    "review.report_json": ("GET", "/review/submissions/{sub}/report.json", None, False),
    "review.regrade": ("POST", "/review/submissions/{sub}/regrade", {}, False),
    "review.similarity_view": (
        "GET",
        "/review/submissions/{sub}/similar/{bob_sub}",
        None,
        False,
    ),
    "review.explanations": ("GET", "/review/theory", None, False),
    "review.tokens": ("GET", "/review/tokens", None, False),
    "review.webhooks": ("GET", "/review/webhooks", None, True),
    "review.set_retention": (
        "POST",
        "/review/assessments/{assessment}/retention",
        {"days": "365"},
        True,
    ),
    "review.delete_candidate": (
        "POST",
        "/review/candidates/{bob}/delete",
        {"confirm": "delete"},
        True,
    ),
}
#: Routes on a person's own token or webhook: only that person gets through.
OWN_ROUTES = {
    "review.revoke_token": "/review/tokens/{token}/revoke",
    "review.delete_webhook": "/review/webhooks/{webhook}/delete",
}
VISITORS = [
    "anonymous",
    "candidate_link",
    "owner",
    "other_recruiter",
    "reviewer",
    "other_reviewer",
    "admin",
]


def test_every_review_route_is_in_the_table(app):
    endpoints = {r.endpoint for r in app.url_map.iter_rules() if r.endpoint.startswith("review.")}
    assert endpoints == set(REVIEW_ROUTES) | set(OWN_ROUTES)


@pytest.mark.parametrize("who", VISITORS)
@pytest.mark.parametrize("endpoint", sorted(OWN_ROUTES))
def test_own_token_and_webhook_routes(app, db, world, login, who, endpoint):
    from server import webhooks
    from server.api import tokens

    owner = world["people"]["owner"]
    token, _ = tokens.create(db, owner, "ats", "read")
    hook = webhooks.register(
        db, owner.id, "http://127.0.0.1:9/", ["decision.made"], allow_hosts="127.0.0.1"
    )
    db.commit()
    client = app.test_client()
    if who == "candidate_link":
        client.get(f"/c/{world['token']}")
    elif who != "anonymous":
        login(client, world["people"][who])
    response = client.post(OWN_ROUTES[endpoint].format(token=token.id, webhook=hook.id))
    if who in ("anonymous", "candidate_link"):
        assert response.status_code == 302 and "/login" in response.headers["Location"]
    elif who == "owner":
        assert response.status_code == 302
    elif endpoint == "review.delete_webhook" and who in ("reviewer", "other_reviewer"):
        assert response.status_code == 403
    else:
        assert response.status_code == 404


@pytest.mark.parametrize("who", VISITORS)
@pytest.mark.parametrize("endpoint", sorted(REVIEW_ROUTES))
def test_review_routes_by_role(app, world, login, who, endpoint):
    client = app.test_client()
    if who == "candidate_link":
        assert client.get(f"/c/{world['token']}").status_code in (200, 302)  # a live link
    elif who != "anonymous":
        login(client, world["people"][who])
    method, url, form, manage = REVIEW_ROUTES[endpoint]
    url = url.format(**world)
    response = client.get(url) if method == "GET" else client.post(url, data=form)
    specific = "{" in REVIEW_ROUTES[endpoint][1]
    body = response.get_data(as_text=True)
    if who in ("anonymous", "candidate_link"):
        assert response.status_code == 302 and "/login" in response.headers["Location"]
    elif who in ("other_recruiter", "other_reviewer") and specific:
        assert response.status_code == 404
        assert ALICE not in body and "Alice" not in body
    elif who in ("reviewer", "other_reviewer") and manage:
        assert response.status_code == 403
    else:
        assert response.status_code in (200, 302), body[:300]
        assert "/login" not in response.headers.get("Location", "")


# -- the report page ---------------------------------------------------------------------------


def test_report_page_shows_verdict_first_with_margins_and_explains_the_matrix(client, world, login):
    login(client, world["people"]["owner"])
    body = client.get(f"/review/submissions/{world['sub']}").get_data(as_text=True)
    verdict_at = body.index('id="verdict"')
    assert verdict_at < body.index('id="metrics"') < body.index('id="code"')
    # 190 of 200 right: accuracy 0.95 against the sample tier's bar of 0.93
    assert "Passed" in body and "+0.02" in body and "+0.0200" not in body
    assert "at least as well as this assessment asks" in body
    assert "What the figures mean" in body and "TP/(TP+FP)" in body
    assert "most frequent mistake" in body
    assert body.count("data:image/svg+xml;base64,") == 2  # confusion matrix and curves


def test_report_page_highlights_code_and_escapes_candidate_text(client, world, login):
    login(client, world["people"]["owner"])
    body = client.get(f"/review/submissions/{world['sub']}").get_data(as_text=True)
    assert 'class="highlight"' in body and '<span class="k">def</span>' in body
    assert "<script>alert(1)</script>" not in body and "&lt;script&gt;" in body
    assert "\x1b" not in body and "<b>bold</b>" not in body
    assert "dropped 1 line of %magic" in body
    assert "bwrap" in body and "training wall time (s)" in body  # the record, labelled


def test_curves_and_the_sandboxs_figures_read_as_the_candidates_report(client, world, login):
    login(client, world["people"]["owner"])
    body = client.get(f"/review/submissions/{world['sub']}").get_data(as_text=True)
    assert "as reported by the candidate's code" in body  # the curves' caption
    claims = body.index("As reported by the candidate's code")
    assert body.index("training wall time (s)") < claims < body.index("training code (s)")
    assert "never used for the verdict" in body


def test_failed_report_says_what_failed(client, world, login):
    login(client, world["people"]["owner"])
    body = client.get(f"/review/submissions/{world['bob_sub']}").get_data(as_text=True)
    assert "Could not be graded" in body and "syntax_error" in body


def test_notebook_cells_are_shown_as_cells(client, db, world, login):
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# <i>Title</i>"), nbformat.v4.new_code_cell("x = 1")]
    sub = db.get(Submission, world["sub"])
    sub.filename, sub.source = "solution.ipynb", nbformat.writes(nb).encode()
    db.commit()
    login(client, world["people"]["owner"])
    body = client.get(f"/review/submissions/{sub.id}").get_data(as_text=True)
    assert body.count('class="nb-cell') == 2
    assert "&lt;i&gt;Title&lt;/i&gt;" in body


def test_regrade_twice_adds_one_grading_and_is_audited(client, db, world, login):
    login(client, world["people"]["reviewer"])
    for _ in range(2):
        assert client.post(f"/review/submissions/{world['sub']}/regrade").status_code == 302
    db.expire_all()
    gradings = db.get(Submission, world["sub"]).gradings
    assert [g.status for g in gradings] == ["graded", "queued"]
    events = db.query(AuditEvent).filter_by(action="regrade").all()
    assert [e.detail["added"] for e in events] == [True, False]
    # the history lists both, the old report stays readable
    body = client.get(f"/review/submissions/{world['sub']}?grading={gradings[0].id}")
    assert "What the figures mean" in body.get_data(as_text=True)


# -- candidates table --------------------------------------------------------------------------


def _labels(body: str) -> list[str]:
    return re.findall(r'<a href="/review/candidates/\d+">([^<]+)</a>', body)


def test_table_filters_sorts_and_paginates_on_the_server(client, world, login):
    login(client, world["people"]["owner"])
    url = f"/review/assessments/{world['assessment']}"
    assert _labels(client.get(url).get_data(as_text=True)) == [ALICE, BOB, "Carol Notstarted"]
    assert _labels(client.get(url + "?outcome=failed").get_data(as_text=True)) == [BOB]
    assert _labels(client.get(url + "?outcome=not_started").get_data(as_text=True)) == [
        "Carol Notstarted"
    ]
    desc = client.get(url + "?sort=candidate&dir=desc").get_data(as_text=True)
    assert _labels(desc) == ["Carol Notstarted", BOB, ALICE]
    by_metric = client.get(url + "?sort=metric").get_data(as_text=True)
    assert _labels(by_metric)[0] == ALICE  # the only one with a value; missing ones last


def test_table_pages(db, world, make_user):
    from server.models import Assessment
    from server.summary.table import candidates_table

    owner = world["people"]["owner"]
    assessment = db.get(Assessment, world["assessment"])
    table = candidates_table(db, owner, assessment, per_page=2, page=2)
    assert (table.total, table.pages, table.page, len(table.rows)) == (3, 2, 2, 1)
    assert candidates_table(db, owner, assessment, per_page=2, page=99).page == 2


# -- theory, decisions -------------------------------------------------------------------------


def test_theory_answers_show_evidence_with_the_reference_and_explanation_beside(
    client, world, login
):
    login(client, world["people"]["owner"])
    body = client.get(f"/review/candidates/{world['alice']}").get_data(as_text=True)
    assert '<mark class="mentioned"' in body
    assert "Reference answer" in body and "Explanation" in body
    assert "mentioned" in body and "not mentioned" in body
    for gone in ("Suggested score", "suggested", "credited", "Confirm", "rubric"):
        assert gone not in body
    assert body.count("to review") >= 1


def test_decision_is_recorded_with_who_and_when(client, db, world, login):
    login(client, world["people"]["reviewer"])
    url = f"/review/candidates/{world['alice']}/decision"
    assert client.post(url, data={"decision": "maybe"}).status_code == 302
    client.post(url, data={"decision": "advance", "note": "strong <b>model</b>"})
    body = client.get(f"/review/candidates/{world['alice']}").get_data(as_text=True)
    assert "by Rita Reviewer" in body and "strong &lt;b&gt;model&lt;/b&gt;" in body
    table = client.get(f"/review/assessments/{world['assessment']}").get_data(as_text=True)
    assert 'class="decision advance"' in table
    event = db.query(AuditEvent).filter_by(action="decision").one()
    assert event.actor_id == world["people"]["reviewer"].id and event.detail == {
        "decision": "advance"
    }


def test_explanations_page_in_both_languages(client, world, login):
    login(client, world["people"]["reviewer"])
    en = client.get("/review/theory").get_data(as_text=True)
    assert "Common wrong answers" in en and "true positive rate against false positive rate" in en
    client.post("/lang/zh", data={"next": "/review/theory"})
    zh = client.get("/review/theory").get_data(as_text=True)
    assert "类别不平衡" in zh


# -- blind review ------------------------------------------------------------------------------


def _blind_pages(client, world):
    a, alice, sub = world["assessment"], world["alice"], world["sub"]
    return {
        url: client.get(url).get_data(as_text=True)
        for url in (
            "/review/",
            f"/review/assessments/{a}",
            f"/review/assessments/{a}?sort=candidate&dir=desc",
            f"/review/assessments/{a}/export.csv",
            f"/review/assessments/{a}/export.json",
            f"/review/candidates/{alice}",
            f"/review/candidates/{world['bob']}",
            f"/review/submissions/{sub}",
            f"/review/submissions/{sub}/report.json",
            f"/review/submissions/{world['bob_sub']}",
        )
    }


def test_a_blind_reviewer_never_sees_a_name_or_email(client, db, world, login):
    login(client, world["people"]["reviewer"])
    pages = _blind_pages(client, world)
    for url, body in pages.items():
        for secret in (ALICE, BOB, ALICE_EMAIL, BOB_EMAIL, "Alice", "alice.secret", "Carol"):
            assert secret not in body, (url, secret)
    assert "Candidate 1" in pages[f"/review/candidates/{world['alice']}"]
    rows = list(
        csv.reader(io.StringIO(pages[f"/review/assessments/{world['assessment']}/export.csv"]))
    )
    assert [r[0] for r in rows[1:]] == ["Candidate 1", "Candidate 2", "Candidate 3"]
    assert all(r[1] == "" for r in rows[1:])


def test_reveal_is_logged_and_shows_the_name_to_that_reviewer_only(app, client, db, world, login):
    login(client, world["people"]["reviewer"])
    client.post(f"/review/candidates/{world['alice']}/reveal")
    client.post(f"/review/candidates/{world['alice']}/reveal")  # twice: logged once
    body = client.get(f"/review/candidates/{world['alice']}").get_data(as_text=True)
    assert ALICE in body and ALICE_EMAIL in body
    assert BOB not in client.get(f"/review/assessments/{world['assessment']}").get_data(
        as_text=True
    )
    reveals = db.query(AuditEvent).filter_by(action="reveal").all()
    assert len(reveals) == 1 and reveals[0].invitation_id == world["alice"]
    assert ALICE not in json.dumps(reveals[0].detail)


def test_blind_review_off_shows_names_to_reviewers(client, world, login):
    owner = world["people"]["owner"]
    login(client, owner)
    client.post(f"/review/assessments/{world['assessment']}/blind", data={"on": "0"})
    client.post("/logout")
    login(client, world["people"]["reviewer"])
    assert ALICE in client.get(f"/review/assessments/{world['assessment']}").get_data(as_text=True)


# -- exports, audit ----------------------------------------------------------------------------


def test_csv_export_has_a_row_per_candidate_and_a_column_per_metric_and_question(
    client, world, login
):
    login(client, world["people"]["owner"])
    response = client.get(f"/review/assessments/{world['assessment']}/export.csv")
    assert response.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert [r["candidate"] for r in rows] == [ALICE, BOB, "Carol Notstarted"]
    assert rows[0]["lenet5-mnist:accuracy"] == "0.9500"
    assert rows[1]["lenet5-mnist:status"] == "failed"
    # Answered but not marked: "to review" (never the machine's reading); not answered: empty.
    assert rows[0]["theory:class-imbalance"] == "to review"
    assert rows[2]["theory:class-imbalance"] == ""
    assert rows[0]["theory:total"] == "" and rows[0]["theory:max"] != ""


def test_json_export_holds_the_full_reports(client, world, login):
    login(client, world["people"]["owner"])
    data = client.get(f"/review/assessments/{world['assessment']}/export.json").get_json()
    alice = data["candidates"][0]
    assert alice["candidate"]["email"] == ALICE_EMAIL
    report = alice["submissions"][0]["report"]
    assert report["test"]["confusion"] and report["verdict"]["checks"]


def test_audit_log_is_append_only_and_records_logins(client, db, world, login):
    login(client, world["people"]["owner"])
    event = db.query(AuditEvent).filter_by(action="login").first()
    assert event is not None and event.actor_id == world["people"]["owner"].id
    event.action = "nothing"
    with pytest.raises(PermissionError):
        db.commit()
    db.rollback()
    with pytest.raises(PermissionError):
        db.delete(db.get(AuditEvent, event.id))
        db.commit()


def test_a_blind_label_is_in_the_reviewers_language(client, world, login):
    login(client, world["people"]["reviewer"])
    client.post("/lang/zh", data={"next": "/"})
    body = client.get(f"/review/candidates/{world['alice']}").get_data(as_text=True)
    assert "候选人 1" in body and ALICE not in body
