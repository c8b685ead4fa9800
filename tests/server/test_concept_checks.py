"""Concept checks: picked on the theory page, scored exactly, shown to reviewers, explained after.

A question's checks are not in the candidate's page, and no pick of them is stored, until
their written answer to it is submitted (final): the options, the correct one among them, are
never read before the answer is written. Then the candidate sees each check's options in an
order of their own (a seed stored with their answers); a pick is saved as it is made and
stored as the option's key, never its position, and is final once the question's checks are
submitted or the time is over; reviewers, exports and the API get the exact score apart from
the written answers, and a wrong pick names the misconception it shows.
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


def _submit_answer(client, token, question_id, text="My answer."):
    return client.post(f"/c/{token}/theory/{question_id}", data={"text": text, "final": "1"})


def _submit_checks(client, token, question_id, data=None, *, htmx=False):
    headers = {"HX-Request": "true"} if htmx else {}
    return client.post(
        f"/c/{token}/theory/{question_id}/checks",
        data={**(data or {}), "final": "1"},
        headers=headers,
    )


def _shown_options(body: str, question_id: str, check_id: str) -> list[str]:
    """The option texts of one check on the work page, in page order."""
    start = body.index(f'id="check-{question_id}-{check_id}"')
    block = body[start : body.index("</fieldset>", start)]
    return [" ".join(text.split()) for text in re.findall(r"> ([^<]+)</label>", block)]


# -- the theory page ---------------------------------------------------------------------------


def _every_check_text(question_id: str) -> list[str]:
    question = load_bank().get(question_id)
    return [
        text
        for check in question.checks
        for text in (
            check.prompt.en,
            check.prompt.zh,
            *(o.text.en for o in check.options),
            *(o.text.zh for o in check.options),
        )
    ]


def test_no_check_is_in_the_page_before_its_written_answer_is_submitted(client, db, world):
    invitation, token = world["people"]["alice"]
    # Nothing written, then a draft: the checks are announced, never shown.
    for step in ("nothing", "draft"):
        if step == "draft":
            client.post(
                f"/c/{token}/theory/evaluation-metrics",
                data={"text": "a draft"},
                headers={"HX-Request": "true"},
            )
        for lang in ("en", "zh"):
            client.post(f"/lang/{lang}", data={"next": "/"})
            body = _body(client.get(f"/c/{token}/work"))
            for qid in ASKED:
                assert f'<form id="checks-{qid}"' not in body
                assert not [text for text in _every_check_text(qid) if text in body], (step, qid)
            assert 'name="check-' not in body and "/checks" not in body
            assert (
                "they open once you submit your written answer" in body
                if lang == "en"
                else "提交上方的书面回答后开放" in body
            )
        client.post("/lang/en", data={"next": "/"})
        # No other way in: the explanations are closed and give none of them away.
        closed = client.get(f"/c/{token}/explanations")
        assert closed.status_code == 403
        assert not [t for q in ASKED for t in _every_check_text(q) if t in _body(closed)]
    assert db.query(TheoryAnswer).one().submitted_at is None


def test_submitting_the_answer_opens_its_checks_in_the_candidates_order(client, db, world):
    invitation, token = world["people"]["alice"]
    response = _submit_answer(client, token, "evaluation-metrics", "Precision and recall.")
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/c/{token}/work#checks-evaluation-metrics")
    body = _body(client.get(f"/c/{token}/work"))
    assert "Its concept checks are open below it." in body
    question = load_bank().get("evaluation-metrics")
    assert 'id="checks-evaluation-metrics"' in body
    for check in question.checks:
        assert check.prompt.en in body
        expected = [
            option.text.en
            for option in option_order(invitation.check_seed, "evaluation-metrics", check)
        ]
        assert _shown_options(body, "evaluation-metrics", check.id) == expected
    # The other question's answer is not submitted: its checks stay out of the page.
    assert not [text for text in _every_check_text("class-imbalance") if text in body]
    # Nothing on the page tells which option is correct or which misconception a distractor is.
    assert 'value="correct"' not in body and "roc-precision-recall" not in body
    assert "Submit concept checks" in body and "Concept checks" in body
    # The written answer is final now: no box to type in, no second submit, an edit refused.
    form = body[body.index('id="q-evaluation-metrics"') : body.index('id="checks-evaluation')]
    assert "disabled>Precision and recall.</textarea>" in form and "Submit answer" not in form
    edit = client.post(
        f"/c/{token}/theory/evaluation-metrics",
        data={"text": "rewritten after reading the options"},
        headers={"HX-Request": "true"},
    )
    assert edit.status_code == 409 and "it is final" in edit.get_data(as_text=True)
    db.expire_all()
    assert db.query(TheoryAnswer).one().text == "Precision and recall."


def test_an_empty_answer_is_not_submitted_and_opens_nothing(client, db, world):
    _invitation, token = world["people"]["alice"]
    response = _submit_answer(client, token, "evaluation-metrics", "   ")
    assert response.status_code == 409
    assert "Write your answer before you submit it" in response.get_data(as_text=True)
    assert db.query(TheoryAnswer).count() == 0
    assert '<form id="checks-evaluation-metrics"' not in _body(client.get(f"/c/{token}/work"))


def test_the_order_is_stable_across_reloads_and_differs_across_candidates(client, world):
    orders = {}
    for name, (_invitation, token) in world["people"].items():
        for qid in ASKED:
            _submit_answer(client, token, qid)
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
    _submit_answer(client, token, "evaluation-metrics")
    client.post("/lang/zh", data={"next": "/"})
    body = _body(client.get(f"/c/{token}/work"))
    check = load_bank().get("evaluation-metrics").check("roc-axes")
    assert check.prompt.zh in body and check.prompt.en not in body
    assert all(option.text.zh in body for option in check.options)
    assert "概念检查" in body and "提交概念检查" in body


@pytest.mark.databases
def test_a_pick_is_saved_as_its_key_and_shown_checked_after_a_reload(client, db, world):
    invitation, token = world["people"]["alice"]
    _submit_answer(client, token, "evaluation-metrics")
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
    _submit_answer(client, token, "class-imbalance")
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
    _submit_answer(client, token, "evaluation-metrics")
    both = {"check-precision": "0", **data} if question_id == "evaluation-metrics" else data
    response = client.post(
        f"/c/{token}/theory/{question_id}/checks", data=both, headers={"HX-Request": "true"}
    )
    assert response.status_code == 409
    assert message in response.get_data(as_text=True)
    assert db.query(ConceptCheckAnswer).count() == 0


@pytest.mark.databases
@pytest.mark.parametrize("written", ["nothing", "draft"])
@pytest.mark.parametrize("htmx", [True, False])
@pytest.mark.parametrize("final", [False, True])
def test_a_pick_before_the_written_answer_is_submitted_is_refused(
    client, db, world, written, htmx, final
):
    invitation, token = world["people"]["alice"]
    if written == "draft":
        client.post(f"/c/{token}/theory/evaluation-metrics", data={"text": "a draft"})
    position = _position(invitation, "evaluation-metrics", "f1", CORRECT)
    data = {"check-f1": str(position), **({"final": "1"} if final else {})}
    response = client.post(
        f"/c/{token}/theory/evaluation-metrics/checks",
        data=data,
        headers={"HX-Request": "true"} if htmx else {},
    )
    assert response.status_code == 409
    body = _body(response)
    assert "Submit your written answer to this question first" in body
    # The refusal gives nothing of the checks away, not even without script (the whole page).
    assert not [text for text in _every_check_text("evaluation-metrics") if text in body]
    assert db.query(ConceptCheckAnswer).count() == 0
    assert all(answer.checks_submitted_at is None for answer in db.query(TheoryAnswer))
    # The service says the same to any caller.
    with pytest.raises(concept_checks.CandidateError) as refused:
        concept_checks.save(db, invitation, "evaluation-metrics", {"f1": str(position)})
    assert refused.value.code == "answer_not_submitted"


def test_submitting_the_checks_makes_the_picks_final(client, db, world):
    invitation, token = world["people"]["alice"]
    _submit_answer(client, token, "evaluation-metrics")
    assert _pick(client, token, invitation, "evaluation-metrics", "f1", CORRECT).status_code == 200
    # The submit carries the picks on the page (one changed in the same post), none for the rest.
    roc = _position(invitation, "evaluation-metrics", "roc-axes", "roc-precision-recall")
    response = _submit_checks(client, token, "evaluation-metrics", {"check-roc-axes": str(roc)})
    assert response.status_code == 302
    assert response.headers["Location"].endswith("#checks-evaluation-metrics")
    db.expire_all()
    answer = db.query(TheoryAnswer).one()
    assert answer.checks_submitted_at is not None
    picks = {row.check_id: row.choice for row in db.query(ConceptCheckAnswer)}
    assert picks == {"f1": CORRECT, "roc-axes": "roc-precision-recall"}
    total = concept_checks.score(invitation)
    assert (total.correct, total.answered, total.total) == (1, 2, 8)

    late = _pick(client, token, invitation, "evaluation-metrics", "f1", "f1-arithmetic-mean")
    assert late.status_code == 409 and "they are final" in late.get_data(as_text=True)
    again = _submit_checks(client, token, "evaluation-metrics", {"check-f1": "0"}, htmx=True)
    assert again.status_code == 409
    db.expire_all()
    assert {row.check_id: row.choice for row in db.query(ConceptCheckAnswer)} == picks

    body = _body(client.get(f"/c/{token}/work"))
    block = body[body.index('id="checks-evaluation-metrics"') :]
    block = block[: block.index("</form>")]
    assert "You submitted these checks at" in block and "Concept checks submitted" in body
    assert "Submit concept checks" not in block and "Save choices" not in block
    assert "hx-post" not in block
    position = _position(invitation, "evaluation-metrics", "f1", CORRECT)
    assert f'name="check-f1" value="{position}" checked disabled' in block
    # One question's checks submitted, the other's answer not: the explanations stay closed.
    assert client.get(f"/c/{token}/explanations").status_code == 403


def test_a_submit_sent_by_script_reloads_the_page(client, db, world):
    invitation, token = world["people"]["bob"]
    _submit_answer(client, token, "class-imbalance")
    position = _position(invitation, "class-imbalance", "trade-off", CORRECT)
    response = _submit_checks(
        client, token, "class-imbalance", {"check-trade-off": str(position)}, htmx=True
    )
    assert response.status_code == 204
    assert response.headers["HX-Redirect"] == f"/c/{token}/work"
    db.expire_all()
    assert db.query(TheoryAnswer).one().checks_submitted_at is not None
    assert db.query(ConceptCheckAnswer).one().choice == CORRECT


def test_no_pick_after_the_time_is_over_and_the_picks_made_are_final(client, db, world):
    invitation, token = world["people"]["alice"]
    _submit_answer(client, token, "evaluation-metrics")
    _pick(client, token, invitation, "evaluation-metrics", "f1", CORRECT)
    invitation.opened_at = utcnow() - timedelta(hours=5)
    db.commit()
    response = _pick(client, token, invitation, "evaluation-metrics", "f1", "f1-arithmetic-mean")
    assert response.status_code == 409 and "time" in response.get_data(as_text=True)
    assert _submit_checks(client, token, "evaluation-metrics").status_code == 409
    db.expire_all()
    assert db.query(ConceptCheckAnswer).one().choice == CORRECT
    # Never submitted, yet final: the pick made counts, the page shows it read-only.
    assert concept_checks.is_final(invitation, "evaluation-metrics")
    assert concept_checks.score(invitation).correct == 1
    body = _body(client.get(f"/c/{token}/work"))
    block = body[body.index('id="checks-evaluation-metrics"') :]
    block = block[: block.index("</form>")]
    assert "Your time is over: the choices you made are final." in block
    assert "Submit concept checks" not in block and "disabled" in block
    # The time is over with an answer submitted: the explanations open, the pick explained.
    explained = _body(client.get(f"/c/{token}/explanations"))
    assert "(your choice)" in explained


def test_the_checks_are_final_once_the_explanations_are_open(client, db, world):
    invitation, token = world["people"]["alice"]
    for qid in ASKED:
        _submit_answer(client, token, qid)
    assert _pick(client, token, invitation, "evaluation-metrics", "f1", CORRECT).status_code == 200
    # Every written answer submitted is not enough: the checks are still open to change.
    assert client.get(f"/c/{token}/explanations").status_code == 403
    for qid in ASKED:
        assert _submit_checks(client, token, qid).status_code == 302
    assert client.get(f"/c/{token}/explanations").status_code == 200
    late = _pick(client, token, invitation, "evaluation-metrics", "f1", "f1-arithmetic-mean")
    assert late.status_code == 409 and "final" in late.get_data(as_text=True)
    db.expire_all()
    assert db.query(ConceptCheckAnswer).one().choice == CORRECT
    body = client.get(f"/c/{token}/work").get_data(as_text=True)
    assert 'name="check-f1"' in body and "Save choices" not in body
    assert re.search(r'name="check-f1" value="\d" (checked )?disabled', body)
    assert "You submitted every answer and concept check" in body


def test_the_checks_post_needs_the_csrf_token(app, client, db, world):
    invitation, token = world["people"]["alice"]
    _submit_answer(client, token, "evaluation-metrics")
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


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_finish_lists_the_checks_not_submitted_then_makes_the_picks_final(client, db, world, lang):
    """Evaluation metrics: answer and one pick in, checks not submitted; class imbalance: a
    draft, its checks never opened. Finish says both, then the pick is final and scored."""
    invitation, token = world["people"]["alice"]
    _submit_answer(client, token, "evaluation-metrics")
    _pick(client, token, invitation, "evaluation-metrics", "f1", CORRECT)
    client.post(f"/c/{token}/theory/class-imbalance", data={"text": "a draft"})
    client.post(f"/lang/{lang}", data={"next": "/"})
    confirm = _body(client.get(f"/c/{token}/finish"))
    listed = confirm.split('id="checks-unsubmitted"')[1].split("</section>")[0]
    bank = load_bank()
    metrics = listed.split(bank.get("evaluation-metrics").title.get(lang))[1].split("</li>")[0]
    imbalance = listed.split(bank.get("class-imbalance").title.get(lang))[1].split("</li>")[0]
    if lang == "en":
        assert "1 of 4 picked; finishing makes these choices final" in metrics
        assert "never opened" in imbalance and "leaves them unanswered" in imbalance
    else:
        assert "已选 1 / 4 题" in metrics and "尚未开放" in imbalance
    assert client.post(f"/c/{token}/finish").status_code == 302
    db.expire_all()
    answers = {a.question_id: a for a in db.query(TheoryAnswer)}
    assert all(a.submitted_at for a in answers.values())  # the draft handed in by Finish
    assert all(a.checks_submitted_at is None for a in answers.values())
    assert concept_checks.is_final(invitation, "evaluation-metrics")
    assert concept_checks.score(invitation).correct == 1
    late = _pick(client, token, invitation, "evaluation-metrics", "f1", "f1-arithmetic-mean")
    assert late.status_code == 409
    db.expire_all()
    assert db.query(ConceptCheckAnswer).one().choice == CORRECT
    # Everything is final: the explanations open, and the class-imbalance checks read as
    # not answered there.
    explained = _body(client.get(f"/c/{token}/explanations"))
    assert ("(your choice)" if lang == "en" else "你的选择") in explained


# -- after submitting: the correct options with the why -----------------------------------------


def test_the_explanations_show_each_checks_correct_option_the_why_and_the_pick(client, db, world):
    invitation, token = world["people"]["alice"]
    for qid in ASKED:
        _submit_answer(client, token, qid)
    _pick(client, token, invitation, "evaluation-metrics", "roc-axes", "roc-precision-recall")
    _pick(client, token, invitation, "evaluation-metrics", "f1", CORRECT)
    assert client.get(f"/c/{token}/explanations").status_code == 403  # checks not submitted
    for qid in ASKED:
        _submit_checks(client, token, qid)
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
    for qid in ASKED:
        _submit_answer(client, token, qid, "done")
    _pick(client, token, invitation, "evaluation-metrics", "f1", CORRECT)
    for qid in ASKED:
        _submit_checks(client, token, qid)
    response = client.get(f"/c/{token}/explanations")
    assert response.status_code == 403
    assert "harmonic mean" not in response.get_data(as_text=True)


# -- reviewers, exports and the API --------------------------------------------------------------


@pytest.fixture
def answered(client, db, world):
    """Alice: 2 right, 1 wrong (ROC as precision against recall); Bob: nothing picked."""
    invitation, token = world["people"]["alice"]
    _submit_answer(client, token, "evaluation-metrics", "Precision and recall.")
    _submit_answer(client, token, "class-imbalance", "Resample the training split.")
    _pick(client, token, invitation, "evaluation-metrics", "roc-axes", "roc-precision-recall")
    _pick(client, token, invitation, "evaluation-metrics", "f1", CORRECT)
    _pick(client, token, invitation, "class-imbalance", "trade-off", CORRECT)
    _submit_checks(client, token, "class-imbalance")
    db.expire_all()
    assert db.query(ConceptCheckAnswer).count() == 3
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
    """Write, submit: only then do the checks appear; clicks save without a reload, a reload
    keeps them, Chinese reads in Chinese; submitting the checks makes them read-only, and
    once everything is submitted the explanations explain them. Screenshots go to
    ``ASSAY_SCREENSHOTS`` (``docs/screenshots`` to refresh the docs)."""
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
        # Before the written answer: the checks are announced, none of their text is there.
        expect(page.locator("#checks-evaluation-metrics")).to_contain_text(
            "they open once you submit your written answer"
        )
        expect(page.locator("fieldset.check")).to_have_count(0)
        assert roc.prompt.en not in page.content() and wrong not in page.content()

        answer = page.locator("#q-evaluation-metrics")
        answer.locator("textarea").fill("Precision is TP over predicted positives.")
        expect(answer.locator(".saved")).to_contain_text("Draft saved at")
        expect(page.locator("fieldset.check")).to_have_count(0)
        answer.get_by_role("button", name="Submit answer").click()
        page.wait_for_load_state()
        expect(page.locator(".flash.ok")).to_contain_text("Its concept checks are open")
        expect(answer.locator("textarea")).to_be_disabled()
        fieldset = page.locator("#check-evaluation-metrics-roc-axes")
        expect(fieldset).to_be_visible()
        expect(page.locator("#checks-class-imbalance fieldset")).to_have_count(0)

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

        page.locator("#checks-evaluation-metrics").get_by_role(
            "button", name="Submit concept checks"
        ).click()
        page.wait_for_load_state()
        expect(page.locator(".flash.ok")).to_contain_text("your choices are final")
        expect(fieldset.get_by_label(roc.correct_option.text.en)).to_be_disabled()
        expect(fieldset.get_by_label(roc.correct_option.text.en)).to_be_checked()

        # The other question: written, submitted, its checks submitted without a pick.
        other = page.locator("#q-class-imbalance")
        other.locator("textarea").fill("Resample the training split only.")
        other.get_by_role("button", name="Submit answer").click()
        page.wait_for_load_state()
        page.locator("#checks-class-imbalance").get_by_role(
            "button", name="Submit concept checks"
        ).click()
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
    submitted = {a.question_id: a.checks_submitted_at for a in db.query(TheoryAnswer)}
    assert set(submitted) == set(ASKED) and all(submitted.values())


@pytest.mark.databases
def test_a_pick_racing_another_tab_updates_the_row_it_lost_to(db, world):
    """Two tabs insert the same check's first pick: the second one's insert fails on the
    unique constraint inside a savepoint, and its pick lands on the row the first one wrote."""
    invitation, _token = world["people"]["alice"]
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


# -- the migration -------------------------------------------------------------------------------


def test_the_migration_marks_the_checks_of_answers_already_submitted(tmp_path):
    """Before 0018 the picks became final with the last written answer: an answer already
    submitted keeps its checks final (submitted with it), a draft's stay open; down removes
    the column again."""
    import sqlite3

    from alembic import command

    from server.migrate import alembic_config, upgrade

    path = tmp_path / "assay.db"
    url = f"sqlite:///{path}"
    upgrade(url, tmp_path, revision="0013_first_hour")
    with sqlite3.connect(path) as conn:
        at = "'2026-12-05 10:00:00'"
        conn.execute(
            "INSERT INTO users (id, email, name, password_hash, role, active, created_at)"
            f" VALUES (1, 'r@example.test', 'R', 'x', 'recruiter', 1, {at})"
        )
        conn.execute(
            "INSERT INTO assessments (id, owner_id, title, time_limit_minutes, attempt_limit,"
            " dataset_tier, show_scores_to_candidate, blind_review, theory_question_ids,"
            f" created_at) VALUES (1, 1, 'A', 60, 3, 'sample', 0, 0, '[]', {at})"
        )
        conn.execute(
            "INSERT INTO invitations (id, assessment_id, candidate_name, candidate_email,"
            " token_hash, created_at, expires_at, extra_time_factor, check_seed)"
            f" VALUES (1, 1, 'C', 'c@example.test', 'h', {at}, {at}, 1.0, 7)"
        )
        conn.executemany(
            "INSERT INTO theory_answers (invitation_id, question_id, text, submitted_at,"
            " updated_at) VALUES (1, ?, 'x', ?, '2026-12-05 10:00:00')",
            [("class-imbalance", "2026-12-05 10:05:00"), ("evaluation-metrics", None)],
        )
    upgrade(url, tmp_path, revision="0014_checks_submitted")
    with sqlite3.connect(path) as conn:
        rows = dict(conn.execute("SELECT question_id, checks_submitted_at FROM theory_answers"))
    assert rows == {"class-imbalance": "2026-12-05 10:05:00", "evaluation-metrics": None}
    command.downgrade(alembic_config(url), "0013_first_hour")
    with sqlite3.connect(path) as conn:
        columns = {row[1] for row in conn.execute("PRAGMA table_info(theory_answers)")}
    assert "checks_submitted_at" not in columns and "submitted_at" in columns


@pytest.mark.databases
def test_a_pick_racing_the_submit_from_another_tab_is_refused(db, world):
    """Another tab submitted the checks after this request loaded the answer: the row lock
    (re-read) sees the submit, so the late pick is refused and the final picks stay."""
    invitation, _token = world["people"]["alice"]
    answer = TheoryAnswer(
        invitation_id=invitation.id,
        question_id="evaluation-metrics",
        text="Precision and recall.",
        submitted_at=utcnow(),
        updated_at=utcnow(),
    )
    db.add(answer)
    db.commit()
    assert invitation.answers[0].checks_submitted_at is None  # loaded before the other tab
    db.execute(
        sa.update(TheoryAnswer)
        .where(TheoryAnswer.id == answer.id)
        .values(checks_submitted_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    position = _position(invitation, "evaluation-metrics", "f1", CORRECT)
    with pytest.raises(concept_checks.CandidateError) as refused:
        concept_checks.save(db, invitation, "evaluation-metrics", {"f1": str(position)})
    assert refused.value.code == "checks_final"
    db.rollback()
    assert db.query(ConceptCheckAnswer).count() == 0
