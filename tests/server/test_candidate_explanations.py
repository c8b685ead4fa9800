"""The theory explanations a candidate reads after submitting, when the recruiter allows it.

Route x role (the pattern of test_routes_roles.py): the page is reached only through a link,
so the table runs each kind of link (open, not yet, another assessment's, switched off,
expired, revoked, made up) with and without a staff login; a login changes nothing.
"""

from __future__ import annotations

import html
import os
from datetime import timedelta
from pathlib import Path

import pytest

from graders.theory import load_bank
from server import candidates
from server.models import TheoryAnswer, utcnow
from tests.server.conftest import CHROMIUM

ASKED = ["class-imbalance", "evaluation-metrics"]
OTHER = ["feasibility", "training-speed"]


def _answer(db, invitation, question_id, text, *, submitted=True):
    now = utcnow()
    db.add(
        TheoryAnswer(
            invitation_id=invitation.id,
            question_id=question_id,
            text=text,
            submitted_at=now if submitted else None,
            # Submitted with its concept checks (an answer alone leaves them open to pick).
            checks_submitted_at=now if submitted else None,
            updated_at=now,
        )
    )
    db.commit()


@pytest.fixture
def world(db, make_user, make_assessment, make_invitation):
    """Assessment A allows the explanations (Alice done, Bob not yet), B too (Carol done,
    other questions), C does not (Dave done)."""
    owner = make_user(role="recruiter")
    people = {
        "owner": owner,
        "reviewer": make_user(role="reviewer"),
        "admin": make_user(role="admin"),
    }
    a = make_assessment(owner=owner, show_explanations_to_candidate=True, theory_question_ids=ASKED)
    b = make_assessment(owner=owner, show_explanations_to_candidate=True, theory_question_ids=OTHER)
    c = make_assessment(owner=owner, theory_question_ids=ASKED)
    now = utcnow()
    links, invitations = {}, {}
    for name, assessment, extra in (
        ("alice", a, {}),
        ("bob", a, {}),
        ("carol", b, {}),
        ("dave", c, {}),
        ("expired", a, {"expires_at": now - timedelta(minutes=1)}),
        ("revoked", a, {"revoked_at": now}),
    ):
        invitation, token = make_invitation(
            assessment=assessment,
            opened_at=now - timedelta(minutes=5),
            candidate_name=f"{name.title()} Secret",
            **extra,
        )
        links[name], invitations[name] = token, invitation
        asked = OTHER if assessment is b else ASKED
        for qid in asked if name != "bob" else asked[:1]:
            _answer(db, invitation, qid, f"answer of {name} to {qid}")
    links["madeup"] = "x" * 43
    return {"people": people, "links": links, "invitations": invitations, "a": a, "c": c}


def _page(client, url, **kwargs):
    """The response and its text with HTML entities decoded (bank texts carry quotes)."""
    response = client.get(url, **kwargs)
    return response, html.unescape(response.get_data(as_text=True))


def _reference(qid: str, lang: str = "en") -> str:
    return load_bank().get(qid).reference_answer.get(lang)[:40]


def _title(qid: str, lang: str = "en") -> str:
    return load_bank().get(qid).title.get(lang)


# -- route x role ------------------------------------------------------------------------------

#: link -> (status, what the page holds); every page is checked against everyone else's text.
OUTCOME = {
    "alice": (200, ["answer of alice to class-imbalance", _reference("class-imbalance")]),
    "bob": (403, ["Not yet", "submitted an answer and the concept checks of every question"]),
    "carol": (200, ["answer of carol to feasibility", _reference("feasibility")]),
    "dave": (403, ["has not made the explanations"]),
    "expired": (410, ["expired"]),
    "revoked": (403, ["withdrew"]),
    "madeup": (404, ["not valid"]),
}


@pytest.mark.parametrize("staff", [None, "owner", "reviewer", "admin"])
@pytest.mark.parametrize("link", sorted(OUTCOME))
def test_explanations_route_by_link_and_role(app, world, login, staff, link):
    client = app.test_client()
    if staff:
        login(client, world["people"][staff])
    response, body = _page(client, f"/c/{world['links'][link]}/explanations")
    status, holds = OUTCOME[link]
    assert response.status_code == status
    for text in holds:
        assert text in body
    for other in ("alice", "bob", "carol", "dave", "expired", "revoked"):
        if other != link:
            assert f"answer of {other}" not in body and f"{other.title()} Secret" not in body
    elsewhere = {"alice": "feasibility", "carol": "class-imbalance"}.get(link)
    if elsewhere:  # another assessment's question is never shown
        assert _title(elsewhere) not in body and _reference(elsewhere) not in body
    if status != 200:  # a closed page gives nothing of the reference away
        assert _reference("class-imbalance") not in body and _reference("feasibility") not in body
    assert response.headers["Cache-Control"] == "no-store"


# -- what the page shows -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lang", "switch"), [("en", None), ("zh", "button"), ("zh", "zh-CN,zh;q=0.9,en;q=0.5")]
)
def test_only_the_assessments_questions_in_the_candidates_language(client, world, lang, switch):
    headers = {}
    if switch == "button":
        client.post("/lang/zh", data={"next": "/"})
    elif switch:
        headers["Accept-Language"] = switch  # Babel reads zh_CN as zh_Hans_CN: still Chinese
    _response, body = _page(client, f"/c/{world['links']['alice']}/explanations", headers=headers)
    bank = load_bank()
    for qid in bank.ids:
        question = bank.get(qid)
        shown = qid in ASKED
        assert (question.title.get(lang) in body) is shown, qid
        assert (question.reference_answer.get(lang)[:40] in body) is shown, qid
        assert (question.explanation.get(lang)[:40] in body) is shown, qid
    if lang == "zh":
        assert "理论题讲解" in body and "你的回答" in body and "常见错误答案" in body
        assert _title("class-imbalance", "en") not in body
    else:
        assert "Common wrong answers" in body and "Your answer" in body
    # the source bank's wrong answer, put right: ROC is TPR against FPR
    metrics = bank.get("evaluation-metrics")
    assert all(m.claim.get(lang)[:30] in body for m in metrics.misconceptions)


def test_own_answer_beside_each_explanation_and_a_draft_said_to_be_one(client, db, world):
    alice = world["invitations"]["alice"]
    answer = next(a for a in alice.answers if a.question_id == "evaluation-metrics")
    answer.text = ""  # submitted empty
    db.commit()
    _response, body = _page(client, f"/c/{world['links']['alice']}/explanations")
    assert "answer of alice to class-imbalance" in body
    assert "You did not answer this question." in body

    # time over with one answer submitted and one left a draft
    bob = world["invitations"]["bob"]
    _answer(db, bob, "evaluation-metrics", "unsent draft of bob", submitted=False)
    bob.opened_at = utcnow() - timedelta(hours=3)
    db.commit()
    _response, body = _page(client, f"/c/{world['links']['bob']}/explanations")
    assert "answer of bob to class-imbalance" in body
    # The time-out handed the draft in (issue 20): it is an answer now, marked as such.
    assert "unsent draft of bob" in body and "A draft you did not submit" not in body
    assert "Submitted by the clock" in body


# -- when it opens -----------------------------------------------------------------------------


def test_the_last_submit_opens_the_page_and_makes_the_answers_final(client, db, world):
    token = world["links"]["bob"]
    work = client.get(f"/c/{token}/work").get_data(as_text=True)
    assert "once you have submitted every answer and its concept checks" in work
    assert f"/c/{token}/explanations" not in work
    assert client.get(f"/c/{token}/explanations").status_code == 403

    response = client.post(
        f"/c/{token}/theory/evaluation-metrics", data={"text": "precision and recall", "final": "1"}
    )
    assert response.status_code == 302
    # The last answer is in, its concept checks are not: still closed (they would show the
    # correct options while the candidate can pick).
    assert client.get(f"/c/{token}/explanations").status_code == 403
    response = client.post(f"/c/{token}/theory/evaluation-metrics/checks", data={"final": "1"})
    assert response.status_code == 302
    assert client.get(f"/c/{token}/explanations").status_code == 200
    work = client.get(f"/c/{token}/work").get_data(as_text=True)
    assert f'href="/c/{token}/explanations"' in work
    assert "they are final now" in work and "Submit answer" not in work
    assert "Submit concept checks" not in work
    assert work.count("disabled") >= len(ASKED)

    edit = client.post(
        f"/c/{token}/theory/evaluation-metrics",
        data={"text": "copied from the reference"},
        headers={"HX-Request": "true"},
    )
    assert edit.status_code == 409 and "final" in edit.get_data(as_text=True)
    db.expire_all()
    answer = next(
        a for a in world["invitations"]["bob"].answers if a.question_id == "evaluation-metrics"
    )
    assert answer.text == "precision and recall"


def test_time_over_opens_it_only_for_a_candidate_who_submitted_something(db, world):
    bob = world["invitations"]["bob"]
    later = utcnow() + timedelta(hours=3)  # past the 120-minute limit
    assert candidates.explanations_state(bob) == "not_yet"
    assert candidates.explanations_state(bob, later) == "open"
    for answer in bob.answers:
        answer.submitted_at = None  # drafts only: reviewers never see them
    db.flush()
    assert candidates.explanations_state(bob, later) == "nothing_submitted"


def test_the_recruiters_setting_off_hides_it(client, db, world):
    token = world["links"]["dave"]
    page = client.get(f"/c/{token}/explanations")
    assert page.status_code == 403
    work = client.get(f"/c/{token}/work").get_data(as_text=True)
    assert "/explanations" not in work and "submit it only when you are done with it" in work
    world["c"].show_explanations_to_candidate = True
    db.commit()
    assert client.get(f"/c/{token}/explanations").status_code == 200
    world["c"].show_explanations_to_candidate = False
    db.commit()
    assert client.get(f"/c/{token}/explanations").status_code == 403


def test_before_the_start_the_link_goes_to_the_landing_page(client, world, make_invitation):
    invitation, token = make_invitation(assessment=world["a"])
    response = client.get(f"/c/{token}/explanations")
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/c/{token}")
    landing = client.get(f"/c/{token}").get_data(as_text=True)
    assert "you can read the explanations of these questions" in landing


def test_no_questions_says_so(db, make_assessment, make_invitation):
    assessment = make_assessment(show_explanations_to_candidate=True, theory_question_ids=[])
    invitation, _token = make_invitation(assessment=assessment, opened_at=utcnow())
    assert candidates.explanations_state(invitation) == "no_questions"


# -- the recruiter's setting -------------------------------------------------------------------


@pytest.mark.parametrize("allowed", [True, False])
def test_new_assessment_form_stores_the_setting(client, db, make_user, login, allowed):
    from server.models import Assessment

    login(client, make_user(role="recruiter"))
    form = client.get("/recruiter/assessments/new").get_data(as_text=True)
    assert "Candidates may read the theory explanations after they submit" in form
    assert 'name="show_explanations_to_candidate"' in form
    data = {
        "title": f"Explained {allowed}",
        "challenges": "lenet5-mnist",
        "theory": "class-imbalance",
        "time_limit_minutes": "60",
        "attempt_limit": "2",
        "dataset_tier": "sample",
    }
    if allowed:
        data["show_explanations_to_candidate"] = "y"
    response = client.post("/recruiter/assessments/new", data=data)
    assert response.status_code == 302
    created = db.query(Assessment).filter_by(title=f"Explained {allowed}").one()
    assert created.show_explanations_to_candidate is allowed
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert ("shown after they submit" if allowed else "not shown") in page


def test_the_setting_needs_a_theory_question(client, db, make_user, login):
    from server.models import Assessment

    login(client, make_user(role="recruiter"))
    data = {
        "title": "Nothing to explain",
        "challenges": "lenet5-mnist",
        "time_limit_minutes": "60",
        "attempt_limit": "2",
        "dataset_tier": "sample",
        "show_explanations_to_candidate": "y",
    }
    page = client.post("/recruiter/assessments/new", data=data).get_data(as_text=True)
    assert "choose at least one" in page
    assert db.query(Assessment).filter_by(title="Nothing to explain").count() == 0


# -- in the browser ----------------------------------------------------------------------------


REALISTIC = {
    "class-imbalance": (
        "Accuracy is misleading: predicting the majority class gives 99%. I would oversample "
        "the rare class with SMOTE before splitting, use class weights, and report F1."
    ),
    "evaluation-metrics": (
        "Accuracy, precision = TP/(TP+FP), recall = TP/(TP+FN), F1. The ROC curve plots "
        "precision against recall; AUC is the area under it."
    ),
}


def test_candidate_reads_the_explanations_in_the_browser(live, world, db, tmp_path):
    """Screenshots go to ``ASSAY_SCREENSHOTS`` (``docs/screenshots`` to refresh the docs)."""
    from playwright.sync_api import expect, sync_playwright

    for answer in world["invitations"]["alice"].answers:  # answers worth explaining
        answer.text = REALISTIC[answer.question_id]
    db.commit()
    shots = Path(os.environ.get("ASSAY_SCREENSHOTS") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    token = world["links"]["alice"]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM))
        page = browser.new_page(viewport={"width": 1100, "height": 900})
        page.goto(f"{live}/c/{token}/work")
        page.click("text=Read the explanations of the theory questions")
        expect(page.locator("section.explanation")).to_have_count(len(ASKED))
        expect(page.locator(".prompt.own").first).to_contain_text("predicting the majority class")
        page.screenshot(path=shots / "candidate-explanations.png", full_page=True)
        page.click("header button.link:has-text('中文')")
        expect(page.locator("h1")).to_have_text("理论题讲解")
        expect(page.locator("section.explanation").first).to_contain_text(
            _title("class-imbalance", "zh")
        )
        page.screenshot(path=shots / "candidate-explanations-zh.png", full_page=True)
        browser.close()
