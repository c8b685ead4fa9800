"""Creating assessments: challenges, theory questions, limits and per-challenge bars."""

from __future__ import annotations

import pytest

from graders.options import dumps_options
from graders.pipeline import GradeOptions
from server.assessments import (
    AssessmentDraft,
    AssessmentError,
    create_assessment,
    grading_options,
    parse_bars,
)
from server.models import Assessment


def test_create_with_both_challenges_theory_and_a_bar(db, make_user):
    owner = make_user()
    draft = AssessmentDraft(
        title="ML engineer",
        challenges=["lenet5-mnist", "sentiment-bilstm"],
        theory_question_ids=["feasibility", "evaluation-metrics"],
        bars={"lenet5-mnist": {"accuracy": 0.95}},
    )
    assessment = create_assessment(db, owner, draft)
    db.commit()
    assert assessment.challenge_slugs == ["lenet5-mnist", "sentiment-bilstm"]
    # Typed, and stored as only what differs from the defaults (graders.options).
    assert grading_options(assessment, "lenet5-mnist") == GradeOptions(
        tier="sample", bars={"accuracy": 0.95}
    )
    assert dumps_options(grading_options(assessment, "lenet5-mnist")) == (
        '{"bars": {"accuracy": 0.95}, "tier": "sample"}'
    )
    assert grading_options(assessment, "sentiment-bilstm") == GradeOptions(tier="sample")


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"challenges": []}, "at least one challenge"),
        ({"challenges": ["nope"]}, "unknown challenge"),
        ({"theory_question_ids": ["nope"]}, "unknown theory question"),
        ({"time_limit_minutes": 0}, "time limit"),
        ({"attempt_limit": 0}, "attempt limit"),
        ({"dataset_tier": "huge"}, "tier"),
        ({"bars": {"lenet5-mnist": {"roc_auc": 0.9}}}, "does not report"),
        ({"bars": {"lenet5-mnist": {"accuracy": 1.5}}}, "between 0 and 1"),
        ({"bars": {"sentiment-bilstm": {"f1": 0.5}}}, "not in the assessment"),
        ({"title": "  "}, "title"),
    ],
)
def test_a_wrong_draft_is_refused(db, make_user, changes, reason):
    draft = AssessmentDraft(title="T", challenges=["lenet5-mnist"])
    for key, value in changes.items():
        setattr(draft, key, value)
    with pytest.raises(AssessmentError, match=reason):
        create_assessment(db, make_user(), draft)


def test_parse_bars():
    assert parse_bars("") == {}
    assert parse_bars("accuracy=0.95; f1_macro = 0.9") == {"accuracy": 0.95, "f1_macro": 0.9}
    with pytest.raises(AssessmentError):
        parse_bars("accuracy")


def test_recruiter_creates_an_assessment_through_the_page(client, db, make_user, login):
    recruiter = make_user(role="recruiter")
    login(client, recruiter)
    page = client.get("/recruiter/assessments/new").get_data(as_text=True)
    assert "lenet5-mnist" in page and "feasibility" in page
    response = client.post(
        "/recruiter/assessments/new",
        data={
            "title": "Spring hiring",
            "challenges": ["lenet5-mnist", "sentiment-bilstm"],
            "theory": ["class-imbalance"],
            "time_limit_minutes": "90",
            "attempt_limit": "2",
            "dataset_tier": "sample",
            "show_scores_to_candidate": "y",
            "bars-lenet5-mnist": "accuracy=0.9",
        },
    )
    assert response.status_code == 302
    assessment = db.query(Assessment).one()
    assert assessment.owner_id == recruiter.id
    assert assessment.time_limit_minutes == 90 and assessment.attempt_limit == 2
    assert assessment.show_scores_to_candidate is True
    assert assessment.theory_question_ids == ["class-imbalance"]
    assert assessment.challenge("lenet5-mnist").bars == {"accuracy": 0.9}


def test_a_wrong_bar_on_the_page_is_explained(client, db, make_user, login):
    login(client, make_user(role="recruiter"))
    response = client.post(
        "/recruiter/assessments/new",
        data={
            "title": "T",
            "challenges": ["lenet5-mnist"],
            "time_limit_minutes": "90",
            "attempt_limit": "2",
            "dataset_tier": "sample",
            "bars-lenet5-mnist": "accuracy",
        },
    )
    assert response.status_code == 200
    assert "metric=value" in response.get_data(as_text=True)
    assert db.query(Assessment).count() == 0
