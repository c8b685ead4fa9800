"""Concept checks: picked on the theory page, scored exactly, shown to reviewers, explained after.

The candidate sees each check's options in an order of their own (a seed stored with their
answers); a pick is saved as it is made and stored as the option's key, never its position;
reviewers, exports and the API get the exact score apart from the written answers, and a
wrong pick names the misconception it shows.
"""

from __future__ import annotations

import csv
import html
import io
import json
import os
import re
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from graders.theory import load_bank
from graders.theory.bank import CORRECT
from graders.theory.checks import option_order
from server import concept_checks, retention
from server.models import ConceptCheckAnswer, TheoryAnswer, utcnow
from tests.server.conftest import CHROMIUM

ASKED = ["class-imbalance", "evaluation-metrics"]


@pytest.fixture
def world(db, make_user, make_assessment, make_invitation):
    owner = make_user(role="recruiter")
    assessment = make_assessment(
        owner=owner, show_explanations_to_candidate=True, theory_question_ids=ASKED
    )
    started = utcnow() - timedelta(minutes=5)
    people = {}
    for name in ("alice", "bob", "carol"):
        invitation, token = make_invitation(
            assessment=assessment, opened_at=started, candidate_name=f"{name.title()} Secret"
        )
        people[name] = (invitation, token)
    return {"owner": owner, "assessment": assessment, "people": people}


def _body(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def _position(invitation, question_id: str, check_id: str, key: str) -> int:
    question = load_bank().get(question_id)
    options = option_order(invitation.check_seed, question_id, question.check(check_id))
    return [option.key for option in options].index(key)


def _pick(client, token, invitation, question_id, check_id, key, *, htmx=True):
    position = _position(invitation, question_id, check_id, key)
    headers = {"HX-Request": "true"} if htmx else {}
    return client.post(
        f"/c/{token}/theory/{question_id}/checks",
        data={f"check-{check_id}": str(position)},
        headers=headers,
    )


def _shown_options(body: str, question_id: str, check_id: str) -> list[str]:
    """The option texts of one check on the work page, in page order."""
    start = body.index(f'id="check-{question_id}-{check_id}"')
    block = body[start : body.index("</fieldset>", start)]
    return [" ".join(text.split()) for text in re.findall(r"> ([^<]+)</label>", block)]


# -- the theory page ---------------------------------------------------------------------------


def test_every_check_is_on_the_page_with_its_options_in_the_candidates_order(client, world):
    invitation, token = world["people"]["alice"]
    body = _body(client.get(f"/c/{token}/work"))
    bank = load_bank()
    for qid in ASKED:
        question = bank.get(qid)
        assert f'id="checks-{qid}"' in body
        for check in question.checks:
            assert check.prompt.en in body
            expected = [
                option.text.en for option in option_order(invitation.check_seed, qid, check)
            ]
            assert _shown_options(body, qid, check.id) == expected
    # Nothing on the page tells which option is correct or which misconception a distractor is.
    assert 'value="correct"' not in body and "roc-precision-recall" not in body
    assert "Concept checks" in body
    # The explanations open with the last written answer: the candidate is told to pick first.
    assert "Your choices become final with your written answers" in body


def test_the_order_is_stable_across_reloads_and_differs_across_candidates(client, world):
    orders = {}
    for name, (_invitation, token) in world["people"].items():
        first = _body(client.get(f"/c/{token}/work"))
        again = _body(client.get(f"/c/{token}/work"))
        orders[name] = [
            _shown_options(first, qid, check.id)
            for qid in ASKED
            for check in load_bank().get(qid).checks
        ]
        assert orders[name] == [
            _shown_options(again, qid, check.id)
            for qid in ASKED
            for check in load_bank().get(qid).checks
        ]
    # 8 checks of 3 or 4 options: three candidates with one order would be a broken seed.
    assert orders["alice"] != orders["bob"] or orders["bob"] != orders["carol"]
    assert len({inv.check_seed for inv, _ in world["people"].values()}) == 3


def test_the_checks_are_in_chinese_for_a_chinese_candidate(client, world):
    _invitation, token = world["people"]["alice"]
    client.post("/lang/zh", data={"next": "/"})
    body = _body(client.get(f"/c/{token}/work"))
    check = load_bank().get("evaluation-metrics").check("roc-axes")
    assert check.prompt.zh in body and check.prompt.en not in body
    assert all(option.text.zh in body for option in check.options)
    assert "概念检查" in body


@pytest.mark.databases
def test_a_pick_is_saved_as_its_key_and_shown_checked_after_a_reload(client, db, world):
    invitation, token = world["people"]["alice"]
    response = _pick(client, token, invitation, "evaluation-metrics", "roc-axes", CORRECT)
    assert response.status_code == 200
    assert "Choices saved at" in response.get_data(as_text=True)
    row = db.query(ConceptCheckAnswer).one()
    assert (row.question_id, row.check_id, row.choice) == (
        "evaluation-metrics",
        "roc-axes",
        CORRECT,
    )
    assert row.seed == invitation.check_seed

    changed = _pick(
        client, token, invitation, "evaluation-metrics", "roc-axes", "roc-precision-recall"
    )
    assert changed.status_code == 200
    db.expire_all()
    assert db.query(ConceptCheckAnswer).one().choice == "roc-precision-recall"

    body = client.get(f"/c/{token}/work").get_data(as_text=True)
    position = _position(invitation, "evaluation-metrics", "roc-axes", "roc-precision-recall")
    assert f'name="check-roc-axes" value="{position}" checked' in body


def test_without_script_the_button_saves_and_returns_to_the_check(client, db, world):
    invitation, token = world["people"]["bob"]
    response = _pick(client, token, invitation, "class-imbalance", "trade-off", CORRECT, htmx=False)
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/c/{token}/work#checks-class-imbalance")
    assert db.query(ConceptCheckAnswer).one().choice == CORRECT


@pytest.mark.parametrize(
    ("question_id", "data", "message"),
    [
        ("evaluation-metrics", {"check-roc-axes": "9"}, "no such option"),
        ("evaluation-metrics", {"check-roc-axes": "-1"}, "no such option"),
        ("evaluation-metrics", {"check-roc-axes": "first"}, "no such option"),
        ("evaluation-metrics", {"check-no-such-check": "0"}, "no such option"),
        ("feasibility", {"check-starting-point": "0"}, "no such question"),
    ],
)
def test_a_bad_pick_is_refused_and_nothing_is_stored(client, db, world, question_id, data, message):
    _invitation, token = world["people"]["alice"]
    both = {"check-precision": "0", **data} if question_id == "evaluation-metrics" else data
    response = client.post(
        f"/c/{token}/theory/{question_id}/checks", data=both, headers={"HX-Request": "true"}
    )
    assert response.status_code == 409
    assert message in response.get_data(as_text=True)
    assert db.query(ConceptCheckAnswer).count() == 0


def test_no_pick_after_the_time_is_over(client, db, world):
    invitation, token = world["people"]["alice"]
    invitation.opened_at = utcnow() - timedelta(hours=5)
    db.commit()
    response = _pick(client, token, invitation, "evaluation-metrics", "f1", CORRECT)
    assert response.status_code == 409 and "time" in response.get_data(as_text=True)
    assert db.query(ConceptCheckAnswer).count() == 0


def test_the_checks_are_final_once_the_explanations_are_open(client, db, world):
    invitation, token = world["people"]["alice"]
    assert _pick(client, token, invitation, "evaluation-metrics", "f1", CORRECT).status_code == 200
    for qid in ASKED:
        client.post(f"/c/{token}/theory/{qid}", data={"text": "my answer", "final": "1"})
    late = _pick(client, token, invitation, "evaluation-metrics", "f1", "f1-arithmetic-mean")
    assert late.status_code == 409 and "final" in late.get_data(as_text=True)
    db.expire_all()
    assert db.query(ConceptCheckAnswer).one().choice == CORRECT
    body = client.get(f"/c/{token}/work").get_data(as_text=True)
    assert 'name="check-f1"' in body and "Save choices" not in body
    assert re.search(r'name="check-f1" value="\d" (checked )?disabled', body)


def test_the_checks_post_needs_the_csrf_token(app, client, db, world):
    invitation, token = world["people"]["alice"]
    app.config["WTF_CSRF_ENABLED"] = True
    response = _pick(client, token, invitation, "evaluation-metrics", "f1", CORRECT)
    assert response.status_code == 400
    assert "Reload the page and try again" in response.get_data(as_text=True)
    assert db.query(ConceptCheckAnswer).count() == 0
    # The page's own form carries the token: the same pick with it is saved.
    body = client.get(f"/c/{token}/work").get_data(as_text=True)
    start = body.index('id="checks-evaluation-metrics"')
    csrf = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', body[start:]).group(1)
    position = _position(invitation, "evaluation-metrics", "f1", CORRECT)
    saved = client.post(
        f"/c/{token}/theory/evaluation-metrics/checks",
        data={"csrf_token": csrf, "check-f1": str(position)},
        headers={"HX-Request": "true"},
    )
    assert saved.status_code == 200
    assert db.query(ConceptCheckAnswer).one().choice == CORRECT


# -- after submitting: the correct options with the why -----------------------------------------


def test_the_explanations_show_each_checks_correct_option_the_why_and_the_pick(client, db, world):
    invitation, token = world["people"]["alice"]
    _pick(client, token, invitation, "evaluation-metrics", "roc-axes", "roc-precision-recall")
    _pick(client, token, invitation, "evaluation-metrics", "f1", CORRECT)
    assert client.get(f"/c/{token}/explanations").status_code == 403  # not submitted yet
    for qid in ASKED:
        client.post(f"/c/{token}/theory/{qid}", data={"text": "my answer", "final": "1"})
    body = _body(client.get(f"/c/{token}/explanations"))
    bank = load_bank()
    for qid in ASKED:
        for check in bank.get(qid).checks:
            assert check.prompt.en in body and " ".join(check.why.en.split())[:60] in " ".join(
                body.split()
            )
    roc = bank.get("evaluation-metrics").check("roc-axes")
    start = body.index('id="check-evaluation-metrics-roc-axes"')
    block = body[start : body.index('id="check-evaluation-metrics-precision"')]
    assert re.search(
        re.escape(roc.correct_option.text.en) + r"\s*<strong>\(correct\)</strong>", block
    )
    assert re.search(r"Precision against recall\.\s*<em>\(your choice\)</em>", block)
    assert "Why your choice is wrong" in block
    assert "You did not answer this check." in body  # the checks Alice left open

    client.post("/lang/zh", data={"next": "/"})
    body = _body(client.get(f"/c/{token}/explanations"))
    assert roc.correct_option.text.zh in body and roc.prompt.en not in body
    assert "你的选择" in body and "正确" in body


def test_the_explanations_stay_closed_when_the_recruiter_did_not_allow_them(
    client, db, world, make_assessment, make_invitation
):
    closed = make_assessment(owner=world["owner"], theory_question_ids=ASKED)
    invitation, token = make_invitation(assessment=closed, opened_at=utcnow())
    _pick(client, token, invitation, "evaluation-metrics", "f1", CORRECT)
    for qid in ASKED:
        client.post(f"/c/{token}/theory/{qid}", data={"text": "done", "final": "1"})
    response = client.get(f"/c/{token}/explanations")
    assert response.status_code == 403
    assert "harmonic mean" not in response.get_data(as_text=True)


# -- reviewers, exports and the API --------------------------------------------------------------


@pytest.fixture
def answered(client, db, world):
    """Alice: 2 right, 1 wrong (ROC as precision against recall); Bob: nothing picked."""
    invitation, token = world["people"]["alice"]
    _pick(client, token, invitation, "evaluation-metrics", "roc-axes", "roc-precision-recall")
    _pick(client, token, invitation, "evaluation-metrics", "f1", CORRECT)
    _pick(client, token, invitation, "class-imbalance", "trade-off", CORRECT)
    db.add(
        TheoryAnswer(
            invitation_id=invitation.id,
            question_id="evaluation-metrics",
            text="Precision and recall.",
            submitted_at=utcnow(),
            updated_at=utcnow(),
        )
    )
    db.commit()
    return invitation


def test_the_reviewer_sees_the_exact_score_and_the_misconception_of_a_wrong_pick(
    client, world, answered, login
):
    login(client, world["owner"])
    body = _body(client.get(f"/review/candidates/{answered.id}"))
    total = re.search(r'id="checks-total".*?</p>', body, re.S).group(0)
    assert re.search(r"Concept checks: <span class=\"num\">2 / 8</span>", total)
    metrics = body[body.index('id="checks-evaluation-metrics"') :]
    assert re.search(r'<span class="num">1 / 4</span> correct', metrics)
    wrong = metrics[metrics.index('id="check-evaluation-metrics-roc-axes"') :]
    wrong = wrong[: wrong.index("</li>")]
    assert "Precision against recall." in wrong
    assert "Holds the misconception <strong>ROC described as precision against recall</strong>" in (
        wrong
    )
    assert "The ROC curve plots the true positive rate" in wrong
    assert "not answered" in metrics


def test_the_candidates_table_has_a_concept_checks_column(client, world, answered, login):
    login(client, world["owner"])
    body = _body(client.get(f"/review/assessments/{world['assessment'].id}"))
    assert "<th" in body and "Concept checks</th>" in body
    row = body[body.index(f'id="cand-{answered.id}"') :]
    row = row[: row.index("</tr>")]
    assert '<span class="num">2 / 8</span>' in row


@pytest.mark.databases
def test_csv_and_json_exports_carry_the_exact_score_apart(client, world, answered, login):
    login(client, world["owner"])
    assessment_id = world["assessment"].id
    text = client.get(f"/review/assessments/{assessment_id}/export.csv").get_data(as_text=True)
    rows = list(csv.DictReader(io.StringIO(text)))
    alice = next(row for row in rows if row["candidate"].startswith("Alice"))
    assert alice["checks:evaluation-metrics"] == "1/4"
    assert alice["checks:class-imbalance"] == "1/4"
    assert (alice["checks:correct"], alice["checks:total"]) == ("2", "8")
    bob = next(row for row in rows if row["candidate"].startswith("Bob"))
    assert (bob["checks:correct"], bob["checks:total"]) == ("0", "8")

    data = json.loads(client.get(f"/review/assessments/{assessment_id}/export.json").data)
    person = next(p for p in data["candidates"] if p["candidate"]["label"].startswith("Alice"))
    checks = person["concept_checks"]
    assert (checks["correct"], checks["answered"], checks["total"]) == (2, 3, 8)
    roc = next(c for q in checks["questions"] for c in q["checks"] if c["id"] == "roc-axes")
    assert roc["misconception"]["id"] == "roc-precision-recall"
    assert roc["picked"]["en"] == "Precision against recall."


def test_the_api_lists_the_concept_checks_score_as_its_own_field(client, db, world, answered):
    from server.api import tokens

    _row, token = tokens.create(db, world["owner"], "ats", "read")
    db.commit()
    response = client.get(
        f"/api/v1/assessments/{world['assessment'].id}/candidates",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 200, response.data
    found = {row["invitation_id"]: row["concept_checks"] for row in response.json["candidates"]}
    nothing = {"correct": 0, "answered": 0, "total": 8}
    assert found == {
        invitation.id: {"correct": 2, "answered": 3, "total": 8}
        if invitation.id == answered.id
        else nothing
        for invitation, _token in world["people"].values()
    }


def test_deleting_a_candidate_deletes_their_picks(db, world, answered):
    counts = retention.delete_candidate(db, answered, actor_id=None, reason="request")
    db.commit()
    assert counts["concept_check_answers"] == 3
    assert db.query(ConceptCheckAnswer).count() == 0


def test_the_service_scores_over_the_asked_questions_only(db, world, answered):
    total = concept_checks.score(answered)
    assert [item.question_id for item in total.per_question] == ASKED
    assert (total.correct, total.answered, total.total) == (2, 3, 8)


# -- in the browser ----------------------------------------------------------------------------


def test_a_candidate_answers_the_checks_in_the_browser(live, db, world, tmp_path):
    """Clicks save without a reload; a reload keeps the picks; Chinese reads in Chinese.
    Screenshots go to ``ASSAY_SCREENSHOTS`` (``docs/screenshots`` to refresh the docs)."""
    from playwright.sync_api import expect, sync_playwright

    invitation, token = world["people"]["carol"]
    shots = Path(os.environ.get("ASSAY_SCREENSHOTS") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    question = load_bank().get("evaluation-metrics")
    roc = question.check("roc-axes")
    wrong = roc.option("roc-precision-recall").text.en
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM))
        page = browser.new_page(viewport={"width": 1100, "height": 900})
        page.goto(f"{live}/c/{token}/work")
        fieldset = page.locator("#check-evaluation-metrics-roc-axes")
        fieldset.get_by_label(wrong).check()
        form = page.locator("#checks-evaluation-metrics")
        expect(form.locator(".checks-saved")).to_contain_text("Choices saved at")
        fieldset.get_by_label(roc.correct_option.text.en).check()
        page.locator("#check-evaluation-metrics-f1").get_by_label(
            question.check("f1").option("f1-arithmetic-mean").text.en
        ).check()
        expect(form.locator(".checks-saved")).to_contain_text("Choices saved at")
        page.wait_for_load_state("networkidle")
        page.screenshot(path=shots / "candidate-concept-checks.png", full_page=True)

        page.reload()
        expect(fieldset.get_by_label(roc.correct_option.text.en)).to_be_checked()
        expect(fieldset.get_by_label(wrong)).not_to_be_checked()
        page.click("header button.link:has-text('中文')")
        expect(page.locator("#checks-evaluation-metrics h4")).to_have_text("概念检查")
        expect(fieldset.get_by_label(roc.correct_option.text.zh)).to_be_checked()
        page.click("header button.link:has-text('English')")

        # Submitting every written answer opens the explanations, with the checks explained.
        for qid in ASKED:
            form = page.locator(f"#q-{qid}")
            form.locator("textarea").fill("My answer.")
            form.get_by_role("button", name="Submit answer").click()
            page.wait_for_load_state()
        page.click("text=Read the explanations of the theory questions")
        explained = page.locator("#check-evaluation-metrics-f1")
        expect(explained.locator("li.correct")).to_contain_text("(correct)")
        expect(explained.locator("li.picked")).to_contain_text("(your choice)")
        expect(explained).to_contain_text("Why your choice is wrong")
        page.screenshot(path=shots / "candidate-concept-checks-explained.png", full_page=True)
        browser.close()
    db.expire_all()
    picks = {row.check_id: row.choice for row in db.query(ConceptCheckAnswer)}
    assert picks == {"roc-axes": CORRECT, "f1": "f1-arithmetic-mean"}


@pytest.mark.databases
def test_a_pick_racing_another_tab_updates_the_row_it_lost_to(db, world):
    """Two tabs insert the same check's first pick: the second one's insert fails on the
    unique constraint inside a savepoint, and its pick lands on the row the first one wrote."""
    invitation, _token = world["people"]["alice"]
    assert invitation.check_answers == []  # loaded before the other tab's row exists
    db.execute(
        sa.insert(ConceptCheckAnswer).values(
            invitation_id=invitation.id,
            question_id="evaluation-metrics",
            check_id="f1",
            choice="f1-arithmetic-mean",
            seed=invitation.check_seed,
            answered_at=utcnow(),
        )
    )
    position = _position(invitation, "evaluation-metrics", "f1", CORRECT)
    concept_checks.save(db, invitation, "evaluation-metrics", {"f1": str(position)})
    db.commit()
    db.expire_all()
    (row,) = db.query(ConceptCheckAnswer).all()
    assert row.choice == CORRECT
    assert concept_checks.score(invitation).correct == 1


def test_the_reviewers_bank_page_lists_every_check_with_its_misconceptions(client, world, login):
    login(client, world["owner"])
    body = _body(client.get("/review/theory"))
    bank = load_bank()
    for question in bank.questions:
        for check in question.checks:
            block = body[body.index(f'id="check-{question.id}-{check.id}"') :]
            block = block[: block.index("</div>")]
            assert check.prompt.en in block
            assert re.search(
                re.escape(check.correct_option.text.en) + r"\s*<strong>\(correct\)</strong>", block
            )
            for option in check.options:
                if option.misconception:
                    label = question.misconception(option.misconception).label.en
                    assert f"({label})" in block
    client.post("/lang/zh", data={"next": "/review/theory"})
    body = _body(client.get("/review/theory"))
    check = bank.get("training-speed").check("mixed-precision")
    assert check.prompt.zh in body and check.why.zh.strip()[:30] in body
