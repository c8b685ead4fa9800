"""What the candidate page's theory section and the calibration page show, as plain values
(translated words here; the rules are in ``server.reviewing.marking``)."""

from __future__ import annotations

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.orm import Session

from graders.theory import load_bank
from server.models import Assessment, Invitation, TheoryAnswer, TheoryMark, User
from server.models.review import MISCONCEPTION, POINT
from server.reviewing import blind_review, fragments, marking, theory_scores


def words() -> dict[str, str]:
    """The marking's words in the page's language, translated once per page."""
    return {
        "correct": _("correct"),
        "partly": _("partly"),
        "wrong": _("wrong or missing"),
        "present": _("present"),
        "absent": _("absent"),
    }


def flag_words() -> dict[str, str]:
    """The reading's flags, said as what they are."""
    return {
        "not_text": _("The answer is not text; the machine did not read it."),
        "empty": _("The answer is empty."),
        "too_long": _("The answer is too long for the machine to read; read it yourself."),
        "keyword_stuffing": _(
            "Most key points appear only in lists of terms, not explained in sentences."
        ),
    }


def reading_words() -> dict[str, str]:
    """How a named claim was read (graders.theory.claims)."""
    return {
        "negated": _("negated"),
        "questioned": _("a question"),
        "refuted": _("refuted"),
        "contradicted": _("contradicted by a misconception the answer states"),
    }


def _state_text(result: marking.AnswerScore, margin: float) -> str:
    if result.state == marking.TO_REVIEW:
        return _("to review")
    if result.state == marking.SECOND_NEEDED:
        return _(
            "one marking is in; a second reviewer marks this answer independently before "
            "any score is shown"
        )
    score = f"{result.score:g} / {result.max_score:g}"
    if result.state == marking.THIRD_LOOK:
        detail = "; ".join(f"{name}: {value:g}" for name, value in result.scores)
        return _(
            "%(score)s (mean of two markings: %(detail)s); they differ by more than "
            "%(margin)s points: needs a third look",
            score=score,
            detail=detail,
            margin=f"{margin:g}",
        )
    if len(result.scores) > 1 and result.state == marking.SCORED and len(result.by) > 1:
        detail = "; ".join(f"{name}: {value:g}" for name, value in result.scores)
        return _("Score %(score)s, marked by %(detail)s", score=score, detail=detail)
    return _("Score %(score)s, marked by %(by)s", score=score, by=", ".join(result.by))


def _mine(markings: list[marking.Marking], user: User) -> marking.Marking | None:
    return next((m for m in markings if m.reviewer_id == user.id), None)


def _evidence(question, reading) -> tuple[list[dict], list[dict]]:
    """Each key point as mentioned (with its span) or not, and each misconception with the
    reading's possible span, in the bank's order."""
    matched = {p.id: p for p in reading.matched} if reading else {}
    missed = {p.id: p for p in reading.missed} if reading else {}
    hits = {h.id: h for h in reading.misconceptions} if reading else {}
    corrected = {c.id: c for c in reading.corrections} if reading else {}
    points = []
    for point in question.key_points:
        found = matched.get(point.id)
        mention = missed[point.id].mention if point.id in missed else None
        points.append(
            {
                "point": point,
                "mentioned": found is not None,
                "listed": found is not None and not found.in_sentence,
                "span": found.span if found else (mention.span if mention else None),
                "reading": mention.reading if mention else None,
            }
        )
    items = []
    for item in question.misconceptions:
        hit, fix = hits.get(item.id), corrected.get(item.id)
        items.append(
            {
                "item": item,
                "flagged": hit is not None,
                "span": hit.span if hit else (fix.span if fix else None),
                "corrected": fix.reading if fix else None,
            }
        )
    return points, items


def candidate_theory(session: Session, user: User, invitation: Invitation, lang: str):
    """One entry per question of the assessment: the answer with its evidence, the user's
    own marks, the other reviewers' where rule 4 allows, the answer's score and history."""
    bank = load_bank()
    assessment = invitation.assessment
    answers = {a.question_id: a for a in invitation.answers if a.submitted_at}
    scores, markings = theory_scores.answer_scores(session, invitation)
    legacy = theory_scores.legacy_theory_reviews(session, invitation.id)
    double = bool(assessment.double_review)
    out = []
    for qid in assessment.theory_question_ids or []:
        question = bank.get(qid)
        answer = answers.get(qid)
        reading = theory_scores.reading(qid, answer.text) if answer else None
        points, items = _evidence(question, reading)
        mine = _mine(markings.get(qid, []), user)
        visible = marking.others_visible(markings.get(qid, []), double)
        others = [m for m in markings.get(qid, []) if m.reviewer_id != user.id] if visible else []
        history = (
            [
                h
                for h in marking.history(session, invitation.id, qid)
                if visible or h.reviewer_id == user.id
            ]
            if answer
            else []
        )
        out.append(
            {
                "question": question,
                "answer": answer,
                "reading": reading,
                "segments": fragments.answer_segments(answer.text, reading, lang) if answer else [],
                "points": points,
                "flagged": [m for m in items if m["flagged"] or m["corrected"]],
                "unflagged": [m for m in items if not (m["flagged"] or m["corrected"])],
                "mine": mine,
                "my_marks": {f"{k}:{i}": v for (k, i), v in (mine.marks if mine else {}).items()},
                "others": others,
                "hidden": not visible,
                "result": scores.get(qid),
                "state_text": _state_text(scores[qid], assessment.agreement_margin)
                if qid in scores
                else "",
                "history": history,
                "labels": {
                    **{f"{POINT}:{p.id}": p.label.get(lang) for p in question.key_points},
                    **{
                        f"{MISCONCEPTION}:{m.id}": m.label.get(lang)
                        for m in question.misconceptions
                    },
                },
                "legacy": [r for r in legacy if r.question_id == qid],
            }
        )
    return out


def state_json(session: Session, user: User, invitation: Invitation, question_id: str) -> dict:
    """The marking's state after a mark, for the page's script."""
    scores, markings = theory_scores.answer_scores(session, invitation)
    question = load_bank().get(question_id)
    mine = _mine(markings.get(question_id, []), user)
    result = scores[question_id]
    if mine and mine.complete:
        mine_text = _(
            "Your marking: %(s)s / %(m)s", s=f"{mine.score:g}", m=f"{question.max_score:g}"
        )
    else:
        mine_text = _(
            "Your marking: %(n)d of %(of)d key points marked",
            n=mine.marked_points if mine else 0,
            of=len(question.key_points),
        )
    return {
        "mine_text": mine_text,
        "mine": {
            "marks": {f"{k}:{i}": v for (k, i), v in (mine.marks if mine else {}).items()},
            "marked": mine.marked_points if mine else 0,
            "of": len(question.key_points),
            "complete": bool(mine and mine.complete),
            "score": mine.score if mine else None,
            "max": float(question.max_score),
        },
        "answer": {
            "state": result.state,
            "score": result.score,
            "by": result.by,
            "text": _state_text(result, invitation.assessment.agreement_margin),
            "others_visible": marking.others_visible(
                markings.get(question_id, []), bool(invitation.assessment.double_review)
            ),
        },
    }


def calibration(session: Session, user: User, assessment: Assessment):
    """Agreement per question, and the answers waiting for a third look with the candidate
    as ``user`` may see them (blind review holds here too)."""
    # Only the answers someone marked are read (one query, whatever the candidates' number).
    marked = sa.select(TheoryMark.invitation_id).distinct()
    texts = {
        (row.invitation_id, row.question_id): row.text
        for row in session.execute(
            sa.select(TheoryAnswer.invitation_id, TheoryAnswer.question_id, TheoryAnswer.text)
            .join(Invitation, Invitation.id == TheoryAnswer.invitation_id)
            .where(
                Invitation.assessment_id == assessment.id,
                TheoryAnswer.submitted_at.is_not(None),
                TheoryAnswer.invitation_id.in_(marked),
            )
        )
    }

    def readings(invitation_id, question_id):
        text = texts.get((invitation_id, question_id))
        return theory_scores.reading(question_id, text) if text is not None else None

    agreement, waiting = marking.calibration(session, assessment, readings)
    who = blind_review.identities(session, user, assessment, [w.invitation_id for w in waiting])
    return agreement, list(zip(waiting, who, strict=True))
