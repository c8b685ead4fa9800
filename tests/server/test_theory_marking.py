"""Reviewers' per-point marking of theory answers (issue 18): the score comes from marks with
the bank's weights, every mark is kept, two markings stay blind to each other until both are
in, agreement is a quadratic-weighted kappa checked against a hand computation, and no page,
export, API answer or webhook shows the machine's reading as a score."""

from __future__ import annotations

import json
import re
from types import SimpleNamespace

import pytest
import sqlalchemy as sa

from graders.theory import load_bank
from server.models import (
    AuditEvent,
    Invitation,
    ReviewAssignment,
    TheoryAnswer,
    TheoryMark,
    Webhook,
    WebhookDelivery,
    utcnow,
)
from server.reviewing import marking, theory_scores
from server.summary.page import SORTS
from tests.server.test_review import ALICE, GOOD_ANSWER, build_world

QID = "class-imbalance"


@pytest.fixture
def world(db, make_user, make_assessment, make_invitation):
    return build_world(db, make_user, make_assessment, make_invitation)


def _url(invitation_id: int, qid: str = QID) -> str:
    return f"/review/candidates/{invitation_id}/theory/{qid}/marks"


def _mark(client, invitation_id, item, mark, kind="point", qid=QID):
    return client.post(_url(invitation_id, qid), json={"kind": kind, "item": item, "mark": mark})


def _mark_all(client, invitation_id, mark, qid=QID):
    for point in load_bank().get(qid).key_points:
        assert _mark(client, invitation_id, point.id, mark, qid=qid).status_code == 200
    return client


# -- the score from the marks ------------------------------------------------------------------


def _rows(marks: dict[tuple[str, str], str]):
    return [
        SimpleNamespace(kind=k, item_id=i, mark=m, created_at=utcnow())
        for (k, i), m in marks.items()
    ]


def test_the_score_is_the_banks_weights_earned_minus_the_penalties():
    question = load_bank().get(QID)  # weights 1,1,2,2,1,1,2 (10); penalties 2,2,2
    marks = {("point", p.id): "correct" for p in question.key_points}
    marks[("point", "resampling")] = "partly"  # 2 -> 1
    marks[("point", "class-weights")] = "wrong"  # 2 -> 0
    assert marking.question_score(question, marks) == 7.0
    marks[("misconception", "accuracy-is-enough")] = "present"
    marks[("misconception", "threshold-on-test")] = "absent"
    assert marking.question_score(question, marks) == 5.0
    everything_wrong = {("point", p.id): "wrong" for p in question.key_points}
    everything_wrong[("misconception", "accuracy-is-enough")] = "present"
    assert marking.question_score(question, everything_wrong) == 0.0  # never below 0


def test_a_marking_is_complete_with_every_point_and_every_flagged_misconception():
    question = load_bank().get(QID)
    points = {("point", p.id): "correct" for p in question.key_points}
    partial = dict(list(points.items())[:-1])
    made = marking.build_marking(question, 1, "R", _rows(partial), set())
    assert not made.complete and made.score is None and made.marked_points == 6
    flagged = {"resample-before-split"}
    made = marking.build_marking(question, 1, "R", _rows(points), flagged)
    assert not made.complete  # the reading flagged a possible misconception: check it first
    done = points | {("misconception", "resample-before-split"): "absent"}
    made = marking.build_marking(question, 1, "R", _rows(done), flagged)
    assert made.complete and made.score == 10.0


# -- the JSON endpoint and the history ---------------------------------------------------------


@pytest.mark.databases
def test_each_mark_is_saved_at_once_and_kept_in_the_history(client, db, world, login):
    login(client, world["people"]["reviewer"])
    response = _mark(client, world["alice"], "class-weights", "correct")
    assert response.status_code == 200
    data = response.get_json()
    assert data["mine"]["marks"] == {"point:class-weights": "correct"}
    assert (data["mine"]["marked"], data["mine"]["of"], data["mine"]["complete"]) == (1, 7, False)
    assert data["answer"]["state"] == "to_review" and data["answer"]["score"] is None
    _mark_all(client, world["alice"], "correct")
    data = _mark(client, world["alice"], "resampling", "partly").get_json()
    assert data["mine"]["complete"] and data["mine"]["score"] == 9.0
    assert data["answer"] == {
        "state": "scored",
        "score": 9.0,
        "by": ["Rita Reviewer"],
        "text": "Score 9 / 10, marked by Rita Reviewer",
        "others_visible": True,
    }
    rows = db.scalars(sa.select(TheoryMark).order_by(TheoryMark.id)).all()
    assert len(rows) == 1 + 7 + 1  # every mark kept, the newest per item counts
    assert [r.mark for r in rows if r.item_id == "resampling"] == ["correct", "partly"]
    body = client.get(f"/review/candidates/{world['alice']}").get_data(as_text=True)
    assert "Score 9 / 10, marked by Rita Reviewer" in body
    assert "History" in body and body.count("→") >= 9


def test_a_form_post_without_the_script_marks_too(client, db, world, login):
    login(client, world["people"]["owner"])
    form = {"kind": "point", "item": "focal-loss", "mark": "wrong"}
    response = client.post(_url(world["alice"]), data=form)
    assert response.status_code == 302 and response.headers["Location"].endswith(f"#q-{QID}")
    assert db.scalar(sa.select(TheoryMark.mark)) == "wrong"


@pytest.mark.parametrize(
    ("url_qid", "body", "message"),
    [
        (QID, {"kind": "point", "item": "nope", "mark": "correct"}, "no key point 'nope'"),
        (QID, {"kind": "point", "item": "focal-loss", "mark": "great"}, "a key point is marked"),
        (QID, {"kind": "misconception", "item": "nope", "mark": "present"}, "no misconception"),
        (
            QID,
            {"kind": "misconception", "item": "accuracy-is-enough", "mark": "correct"},
            "a misconception is marked present or absent",
        ),
        (QID, {"kind": "vibe", "item": "focal-loss", "mark": "correct"}, "a mark is on a point"),
        ("feasibility", {"kind": "point", "item": "cost-estimate", "mark": "correct"}, "not part"),
        ("no-such-question", {"kind": "point", "item": "x", "mark": "correct"}, "not part"),
    ],
)
def test_a_bad_mark_is_refused_with_a_clear_json_error(
    client, db, world, login, url_qid, body, message
):
    login(client, world["people"]["reviewer"])
    response = client.post(_url(world["alice"], url_qid), json=body)
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error["code"] == "invalid_mark" and message in error["message"]
    assert db.scalar(sa.select(sa.func.count()).select_from(TheoryMark)) == 0


def test_an_unsubmitted_answer_cannot_be_marked(client, world, login):
    login(client, world["people"]["reviewer"])
    response = _mark(client, world["bob"], "focal-loss", "correct")
    assert response.status_code == 400
    assert "has not submitted this answer" in response.get_json()["error"]["message"]


def test_a_json_mark_needs_the_csrf_token(app, client, db, world, login):
    login(client, world["people"]["reviewer"])
    app.config["WTF_CSRF_ENABLED"] = True
    page = client.get(f"/review/candidates/{world['alice']}").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    body = {"kind": "point", "item": "focal-loss", "mark": "correct"}
    assert client.post(_url(world["alice"]), json=body).status_code == 400
    response = client.post(_url(world["alice"]), json=body, headers={"X-CSRFToken": token})
    assert response.status_code == 200
    assert db.scalar(sa.select(sa.func.count()).select_from(TheoryMark)) == 1


def test_someone_who_cannot_review_the_assessment_cannot_mark(client, db, world, login):
    login(client, world["people"]["other_reviewer"])
    assert _mark(client, world["alice"], "focal-loss", "correct").status_code == 404
    assert db.scalar(sa.select(sa.func.count()).select_from(TheoryMark)) == 0


# -- the table: reviewers' scores only ---------------------------------------------------------


@pytest.mark.databases
def test_the_table_shows_to_review_and_sorts_on_reviewers_scores(client, db, world, login):
    login(client, world["people"]["owner"])
    page = f"/review/assessments/{world['assessment']}"
    body = client.get(page).get_data(as_text=True)
    row = re.search(rf'<tr id="cand-{world["alice"]}">(.*?)</tr>', body, re.S).group(1)
    assert "to review" in row and "/ 20" not in row
    waiting = client.get(page + "?theory=to_review").get_data(as_text=True)
    assert [int(i) for i in re.findall(r'<tr id="cand-(\d+)"', waiting)] == [world["alice"]]
    _mark_all(client, world["alice"], "correct")
    _mark_all(client, world["alice"], "wrong", qid="evaluation-metrics")
    body = client.get(page + "?sort=theory&dir=asc").get_data(as_text=True)
    row = re.search(rf'<tr id="cand-{world["alice"]}">(.*?)</tr>', body, re.S).group(1)
    assert "10 / 20" in row and "to review" not in row
    ids = [int(i) for i in re.findall(r'<tr id="cand-(\d+)"', body)]
    assert ids[0] == world["alice"]  # the only one with a reviewers' score; unscored last
    scored = client.get(page + "?theory=scored").get_data(as_text=True)
    assert [int(i) for i in re.findall(r'<tr id="cand-(\d+)"', scored)] == [world["alice"]]
    assert "theory scored (1)" in scored and "theory to review (0)" in scored
    from server.api import tokens

    _row, token = tokens.create(db, world["people"]["owner"], "ats", "read")
    db.commit()
    api = client.get(
        f"/api/v1/assessments/{world['assessment']}/candidates?theory=scored",
        headers={"Authorization": f"Bearer {token}"},
    ).get_json()
    assert [c["theory"] for c in api["candidates"]] == [
        {"total": 10.0, "max": 20.0, "all_scored": True}
    ]
    descending = client.get(page + "?sort=theory&dir=desc").get_data(as_text=True)
    assert [int(i) for i in re.findall(r'<tr id="cand-(\d+)"', descending)][-1] == world["alice"]


# -- two reviewers -----------------------------------------------------------------------------


def _double(client, db, world, login, margin="2"):
    login(client, world["people"]["owner"])
    form = {"on": "1", "margin": margin}
    response = client.post(f"/review/assessments/{world['assessment']}/double-review", data=form)
    assert response.status_code == 302
    assessment = db.get(Invitation, world["alice"]).assessment
    db.refresh(assessment)
    assert assessment.double_review and assessment.agreement_margin == float(margin)
    assert db.scalar(sa.select(AuditEvent.detail).where(AuditEvent.action == "double_review"))


@pytest.mark.databases
def test_the_second_reviewer_sees_nothing_of_the_first_until_both_are_in(
    app, client, db, world, login
):
    _double(client, db, world, login)
    first = app.test_client()
    login(first, world["people"]["reviewer"])  # Rita
    _mark_all(first, world["alice"], "correct")
    data = _mark(first, world["alice"], "focal-loss", "correct").get_json()
    assert data["mine"]["complete"] and data["mine"]["score"] == 10.0
    assert data["answer"]["state"] == "second_needed" and data["answer"]["score"] is None
    # The second (the owner, logged in on ``client``) sees no mark, name or score of Rita's.
    body = client.get(f"/review/candidates/{world['alice']}").get_data(as_text=True)
    section = re.search(rf'<section class="card theory" id="q-{QID}".*?</section>', body, re.S)
    shown = section.group(0)
    assert "Rita Reviewer" not in shown and "10 / 10" not in shown
    assert 'aria-pressed="true"' not in shown and "→" not in shown
    assert "marks stay hidden until two markings are complete" in shown
    table = client.get(f"/review/assessments/{world['assessment']}").get_data(as_text=True)
    assert "10 / 20" not in table and "to review" in table
    csv_body = client.get(f"/review/assessments/{world['assessment']}/export.csv").get_data(
        as_text=True
    )
    assert "Rita" not in csv_body and ",10.0000," not in csv_body
    exported = client.get(f"/review/assessments/{world['assessment']}/export.json").get_json()
    alice = next(c for c in exported["candidates"] if c["candidate"]["name"] == ALICE)
    answer = next(t for t in alice["theory"] if t["question"] == QID)
    assert answer["state"] == "second_needed" and answer["score"] is None
    assert answer["markings"] == []
    # The second marking completes: both see both, and the score is their mean.
    for point in load_bank().get(QID).key_points:
        mark = "wrong" if point.id in ("resampling", "class-weights") else "correct"
        _mark(client, world["alice"], point.id, mark)
    data = _mark(client, world["alice"], "focal-loss", "correct").get_json()
    assert data["answer"]["state"] == "third_look"  # 10 and 6 differ by more than 2
    assert data["answer"]["score"] == 8.0 and data["answer"]["others_visible"]
    for who in (client, first):
        shown = who.get(f"/review/candidates/{world['alice']}").get_data(as_text=True)
        assert "Rita Reviewer: 10" in shown and "Owner Person: 6" in shown
        assert "needs a third look" in shown
    exported = client.get(f"/review/assessments/{world['assessment']}/export.json").get_json()
    alice = next(c for c in exported["candidates"] if c["candidate"]["name"] == ALICE)
    answer = next(t for t in alice["theory"] if t["question"] == QID)
    assert [(m["reviewer"], m["score"]) for m in answer["markings"]] == [
        ("Rita Reviewer", 10.0),
        ("Owner Person", 6.0),
    ]
    calibration = client.get(f"/review/assessments/{world['assessment']}/calibration")
    listed = calibration.get_data(as_text=True)
    assert 'id="third-look"' in listed and ALICE in listed and "Rita Reviewer 10" in listed
    # A blind reviewer's third-look list names "Candidate 1", never the name.
    blind = first.get(f"/review/assessments/{world['assessment']}/calibration")
    assert ALICE not in blind.get_data(as_text=True)
    assert "Candidate 1" in blind.get_data(as_text=True)


def test_a_third_marking_settles_the_answer_on_the_median(app, client, db, world, login, make_user):
    _double(client, db, world, login, margin="1")
    third = make_user(role="reviewer", name="Tess Third")
    db.add(ReviewAssignment(assessment_id=world["assessment"], user_id=third.id))
    db.commit()
    rita = app.test_client()
    login(rita, world["people"]["reviewer"])
    tess = app.test_client()
    login(tess, third)
    _mark_all(rita, world["alice"], "correct")  # 10
    _mark_all(client, world["alice"], "wrong")  # 0
    assert (
        _mark(client, world["alice"], "focal-loss", "wrong").get_json()["answer"]["state"]
        == "third_look"
    )
    _mark_all(tess, world["alice"], "partly")  # 5
    data = _mark(tess, world["alice"], "focal-loss", "partly").get_json()
    assert data["answer"]["state"] == "scored" and data["answer"]["score"] == 5.0


# -- agreement ---------------------------------------------------------------------------------


def test_weighted_kappa_matches_a_hand_computation():
    # Two reviewers, maximum 2 (half-point steps 0..4). Doubled scores: a = 0 2 4 4,
    # b = 0 4 4 2; quadratic weights (i - j)^2 / 16. Observed disagreement: (0 + 4/16 + 0 +
    # 4/16) / 4 = 0.125. Both marginals are {0: 1/4, 2: 1/4, 4: 1/2}, so the disagreement
    # expected by chance is 2 * (1/16 * 4/16 + 1/8 * 16/16 + 1/8 * 4/16) = 0.34375.
    # kappa = 1 - 0.125 / 0.34375 = 7/11.
    assert marking.kappa([0, 1, 2, 2], [0, 2, 2, 1], 2) == pytest.approx(7 / 11)
    assert marking.kappa([1, 2], [1, 2], 2) == pytest.approx(1.0)
    assert marking.kappa([1], [2], 2) is None  # one answer: no agreement to measure
    assert marking.kappa([1, 1], [1, 1], 2) is None  # no spread: undefined, not "perfect"


@pytest.mark.databases
def test_the_calibration_page_gives_kappa_per_question_with_the_count(
    app, client, db, world, login, make_invitation
):
    assessment = db.get(Invitation, world["alice"]).assessment
    people = [world["alice"]]
    for n in range(3):
        invitation, _ = make_invitation(assessment=assessment, candidate_name=f"Extra {n}")
        db.add(
            TheoryAnswer(
                invitation_id=invitation.id,
                question_id=QID,
                text=GOOD_ANSWER,
                submitted_at=utcnow(),
            )
        )
        people.append(invitation.id)
    db.commit()
    rita = app.test_client()
    login(rita, world["people"]["reviewer"])
    login(client, world["people"]["owner"])
    # Rita: 10 10 0 0; the owner: 10 0 0 0. Only 0 and 10 (steps 0 and 20) occur, so the
    # quadratic weights are 0 or 1: observed disagreement 1/4; by chance 1/2 * 3/4 +
    # 1/2 * 1/4 = 1/2; kappa = 1 - (1/4) / (1/2) = 0.5.
    for invitation_id, (a, b) in zip(
        people,
        [("correct", "correct"), ("correct", "wrong"), ("wrong", "wrong"), ("wrong", "wrong")],
        strict=True,
    ):
        _mark_all(rita, invitation_id, a)
        _mark_all(client, invitation_id, b)
    body = client.get(f"/review/assessments/{world['assessment']}/calibration").get_data(
        as_text=True
    )
    row = re.search(rf'<tr id="kappa-{QID}">(.*?)</tr>', body, re.S).group(1)
    assert re.findall(r'<td class="num">([^<]+)</td>', row) == ["4", "0.50"]
    other = re.search(r'<tr id="kappa-evaluation-metrics">(.*?)</tr>', body, re.S).group(1)
    assert "not enough answers marked twice" in other
    agreement, _waiting = marking.calibration(
        db, assessment, lambda i, q: theory_scores.reading(q, GOOD_ANSWER)
    )
    assert agreement[0].count == 4 and agreement[0].kappa == pytest.approx(0.5)


def test_a_bad_margin_is_refused(client, db, world, login):
    login(client, world["people"]["owner"])
    url = f"/review/assessments/{world['assessment']}/double-review"
    body = client.post(url, data={"on": "1", "margin": "lots"}, follow_redirects=True)
    assert "the margin is a number of points" in body.get_data(as_text=True)
    assert not db.get(Invitation, world["alice"]).assessment.double_review


def test_marking_words_in_chinese(client, world, login):
    login(client, world["people"]["reviewer"])
    client.post("/lang/zh", data={"next": "/"})
    body = client.get(f"/review/candidates/{world['alice']}").get_data(as_text=True)
    for word in ("待评阅", "参考答案", "提到"):
        assert word in body
    response = _mark(client, world["alice"], "nope", "correct")
    assert response.status_code == 400


# -- no automatic theory score anywhere --------------------------------------------------------

CANARY = 4242.5


def test_no_page_export_api_answer_or_webhook_shows_an_automatic_theory_score(
    app, client, db, world, login, monkeypatch
):
    """The rubric's total is set to a value no real answer can have; then every page,
    export, API answer, webhook payload and the CLI's JSON is walked for it."""
    from graders.theory import scoring

    real_total = scoring._total

    def canary_total(result):
        real_total(result)
        result.score = CANARY

    monkeypatch.setattr(scoring, "_total", canary_total)
    theory_scores._read.cache_clear()
    assert theory_scores.reading(QID, GOOD_ANSWER).score == CANARY  # the canary is in the reading
    owner = world["people"]["owner"]
    db.add(
        Webhook(
            owner_id=owner.id,
            url="http://127.0.0.1:9/hook",
            secret="s",
            events=["submission.graded", "decision.made"],
        )
    )
    db.commit()
    from server import webhooks
    from server.api import tokens
    from server.models import Submission

    submission = db.get(Submission, world["sub"])
    webhooks.graded_hook(app.extensions["assay.sessions"])(submission.latest.id)
    _row, token = tokens.create(db, owner, "walk", "read")
    db.commit()
    bodies: dict[str, str] = {}
    for who in ("owner", "reviewer"):
        visitor = app.test_client()
        login(visitor, world["people"][who])
        _mark(visitor, world["alice"], "focal-loss", "partly")
        visitor.post(f"/review/candidates/{world['alice']}/decision", data={"decision": "hold"})
        pages = [
            "/review/",
            f"/review/assessments/{world['assessment']}",
            f"/review/candidates/{world['alice']}",
            f"/review/submissions/{world['sub']}",
            f"/review/submissions/{world['sub']}/report.json",
            f"/review/assessments/{world['assessment']}/export.csv",
            f"/review/assessments/{world['assessment']}/export.json",
            f"/review/assessments/{world['assessment']}/calibration",
            "/review/theory",
        ]
        pages += [
            f"/review/assessments/{world['assessment']}?sort={key}&dir={d}"
            for key in SORTS
            for d in ("asc", "desc")
        ]
        for url in pages:
            response = visitor.get(url)
            assert response.status_code == 200, url
            bodies[f"{who} {url}"] = response.get_data(as_text=True)
        bodies[f"{who} mark json"] = json.dumps(
            _mark(visitor, world["alice"], "focal-loss", "wrong").get_json()
        )
    api = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    for url in (
        "/api/v1/assessments",
        f"/api/v1/assessments/{world['assessment']}/candidates",
        f"/api/v1/assessments/{world['assessment']}/submissions",
        f"/api/v1/submissions/{world['sub']}/report",
    ):
        response = api.get(url, headers=headers)
        assert response.status_code == 200, url
        bodies[f"api {url}"] = response.get_data(as_text=True)
    payloads = db.scalars(sa.select(WebhookDelivery.payload)).all()
    assert {json.loads(p)["event"] for p in payloads} == {"submission.graded", "decision.made"}
    bodies |= {f"webhook {n}": p for n, p in enumerate(payloads)}
    from click.testing import CliRunner

    from graders.cli import main

    cli = CliRunner().invoke(main, ["theory", "score", QID, "-", "--json"], input=GOOD_ANSWER)
    assert json.loads(cli.stdout)["suggested_score"] is None
    bodies["cli json"] = cli.stdout
    text = CliRunner().invoke(main, ["theory", "score", QID, "-"], input=GOOD_ANSWER)
    bodies["cli text"] = text.stdout
    assert len(bodies) > 40
    for name, body in bodies.items():
        assert "4242" not in body, name
        assert "suggested score" not in body.lower(), name


def test_deleting_a_candidate_deletes_their_marks(client, db, world, login):
    login(client, world["people"]["owner"])
    _mark_all(client, world["alice"], "correct")
    response = client.post(
        f"/review/candidates/{world['alice']}/delete", data={"confirm": "delete"}
    )
    assert response.status_code == 302
    db.expire_all()
    assert db.scalar(sa.select(sa.func.count()).select_from(TheoryMark)) == 0
    event = db.scalar(sa.select(AuditEvent).where(AuditEvent.action == "deletion"))
    assert event.detail["theory_marks"] == 7
