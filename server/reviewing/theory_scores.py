"""Theory answers as reviewers see them: the machine's reading of an answer (evidence,
never a score), the reviewers' scores per answer and the candidate's theory total.
"""

from __future__ import annotations

from functools import lru_cache

import sqlalchemy as sa
from sqlalchemy.orm import Session

from graders.theory import TheoryScore, load_bank, score_answer
from server.models import Assessment, Invitation, TheoryReview
from server.reviewing import marking


@lru_cache(maxsize=4096)
def _read(question_id: str, text: str) -> TheoryScore:
    return score_answer(load_bank().get(question_id), text)


def reading(question_id: str, text: str) -> TheoryScore:
    """The machine's reading of one answer: evidence (points mentioned, possible
    misconceptions, with spans) for a reviewer, never shown as a score (cached: the same
    text reads the same)."""
    return _read(question_id, text)


def legacy_theory_reviews(session: Session, invitation_id: int) -> list[TheoryReview]:
    """Whole-answer scores from before per-point marking (history only)."""
    return list(
        session.scalars(
            sa.select(TheoryReview)
            .where(TheoryReview.invitation_id == invitation_id)
            .order_by(TheoryReview.id)
        )
    )


def answer_scores(
    session: Session, invitation: Invitation
) -> tuple[dict[str, marking.AnswerScore], dict[str, list[marking.Marking]]]:
    """Each submitted answer's reviewers' score, and its markings, by question id."""
    answers = {a.question_id: a.text for a in invitation.answers if a.submitted_at}
    found = marking.markings_by_answer(
        session,
        [invitation.id],
        lambda _iid, qid: reading(qid, answers[qid]) if qid in answers else None,
    )
    assessment = invitation.assessment
    scores, markings = {}, {}
    for qid in assessment.theory_question_ids or []:
        if qid not in answers:
            continue
        markings[qid] = found.get((invitation.id, qid), [])
        scores[qid] = marking.answer_score(
            load_bank().get(qid),
            markings[qid],
            bool(assessment.double_review),
            assessment.agreement_margin,
        )
    return scores, markings


def theory_total(
    session: Session, invitation: Invitation
) -> tuple[tuple[float, float] | None, bool]:
    """(reviewers' total over the scored answers, maximum of all questions), None when no
    answer is scored yet; and whether every submitted answer is scored."""
    answers = {a.question_id: a.text for a in invitation.answers if a.submitted_at}
    _scores, markings = answer_scores(session, invitation)
    return total_of_answers(invitation.assessment, answers, lambda qid: markings.get(qid, []))


def total_of_answers(
    assessment: Assessment, answers: dict[str, str], markings_of
) -> tuple[tuple[float, float] | None, bool]:
    """``theory_total`` from the submitted answers' texts and ``markings_of(question id)``.
    Only reviewers' scores count: the machine's reading never makes a total."""
    question_ids = assessment.theory_question_ids or []
    if not question_ids or not answers:
        return None, False
    total = maximum = 0.0
    scored = 0
    confirmed = True
    for qid in question_ids:
        question = load_bank().get(qid)
        maximum += question.max_score
        if qid not in answers:
            continue
        result = marking.answer_score(
            question, markings_of(qid), bool(assessment.double_review), assessment.agreement_margin
        )
        if result.score is None:
            confirmed = False
        else:
            total += result.score
            scored += 1
    return (total if scored else None, maximum), confirmed
