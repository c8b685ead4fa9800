"""Reviewers' per-point marking of theory answers, its scores and their agreement (no Flask).

The machine's reading of an answer (``graders.theory``) is evidence, never a grade: on answers
it was not tuned on, its total put a correct answer above a wrong one with probability 0.58
(issue 18). The score of an answer is made by reviewers, from marks:

1. A reviewer marks every key point of the question ``correct`` (its full weight from the
   bank), ``partly`` (half its weight) or ``wrong`` (wrong or missing: nothing), and each
   misconception ``present`` (its penalty is taken off) or ``absent``. Their marking of the
   answer is *complete* once every key point is marked and every misconception the reading
   flagged as possible is marked; then its score is the weights earned minus the penalties,
   never below 0, out of the question's maximum (the sum of the weights).
2. Marks are appended (``TheoryMark``), never updated: a reviewer's newest mark of an item
   is the mark, the older ones are the history.
3. One marking per answer (the default): the answer's score is the newest complete
   marking's, shown with who made it.
4. Two markings (the assessment's ``double_review``): the answer has a score once two
   reviewers completed theirs: the mean of the two (the median of all, after a third look).
   Until two are complete, a reviewer sees only their own marks, and nobody sees a score.
   Two scores further apart than the assessment's ``agreement_margin`` list the answer for a
   third look until a third marking is complete.
5. Agreement per question is Cohen's kappa with quadratic weights over the answers marked
   twice (the first two complete markings, scores in half points), with their count.
"""

from __future__ import annotations

import math
import statistics
import warnings
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import sqlalchemy as sa
from sklearn.metrics import cohen_kappa_score
from sqlalchemy.orm import Session

from graders.theory import Question, TheoryScore, load_bank
from server.models import Assessment, Invitation, TheoryAnswer, TheoryMark, User
from server.models.review import (
    ABSENT,
    CORRECT,
    MISCONCEPTION,
    MISCONCEPTION_MARKS,
    PARTLY,
    POINT,
    POINT_MARKS,
    PRESENT,
    WRONG,
)

#: Share of a key point's weight each mark earns.
EARNS = {CORRECT: 1.0, PARTLY: 0.5, WRONG: 0.0}

_CHUNK = 500

TO_REVIEW, SECOND_NEEDED, THIRD_LOOK, SCORED = "to_review", "second_needed", "third_look", "scored"


class MarkError(ValueError):
    """A refused mark; the message says why."""


@dataclass
class Marking:
    """One reviewer's marks on one answer, their score once complete (rule 1)."""

    reviewer_id: int | None
    reviewer_name: str
    marks: dict[tuple[str, str], str] = field(default_factory=dict)
    first_at: datetime | None = None
    last_at: datetime | None = None
    complete: bool = False
    score: float | None = None
    marked_points: int = 0


@dataclass
class AnswerScore:
    """The reviewers' score of one answer: ``state`` is one of TO_REVIEW, SECOND_NEEDED,
    THIRD_LOOK or SCORED; ``score`` is None until it may be shown (rules 3 and 4)."""

    state: str
    score: float | None
    max_score: float
    by: list[str] = field(default_factory=list)
    #: The complete markings' scores, by reviewer name (shown once rule 4 allows).
    scores: list[tuple[str, float]] = field(default_factory=list)


def flagged(reading: TheoryScore | None) -> set[str]:
    """Misconceptions the machine's reading flagged as possible (they must be marked)."""
    return {hit.id for hit in reading.misconceptions} if reading else set()


def question_score(question: Question, marks: dict[tuple[str, str], str]) -> float:
    """Rule 1's score of a complete marking: weights earned minus penalties, at least 0."""
    earned = sum(
        point.weight * EARNS[marks.get((POINT, point.id), WRONG)] for point in question.key_points
    )
    lost = sum(
        m.penalty for m in question.misconceptions if marks.get((MISCONCEPTION, m.id)) == PRESENT
    )
    return float(max(0.0, earned - lost))


def build_marking(
    question: Question, reviewer_id, reviewer_name: str, rows, must_mark: set[str]
) -> Marking:
    """A reviewer's marking from their mark rows (oldest first; any objects with ``kind``,
    ``item_id``, ``mark`` and ``created_at``)."""
    marking = Marking(reviewer_id, reviewer_name)
    for row in rows:
        marking.marks[(row.kind, row.item_id)] = row.mark
        marking.first_at = marking.first_at or row.created_at
        marking.last_at = row.created_at
    points = [(POINT, p.id) for p in question.key_points]
    marking.marked_points = sum(key in marking.marks for key in points)
    marking.complete = marking.marked_points == len(points) and all(
        (MISCONCEPTION, item) in marking.marks for item in must_mark
    )
    if marking.complete:
        marking.score = question_score(question, marking.marks)
    return marking


def answer_score(question: Question, markings: list[Marking], double: bool, margin: float):
    """Rules 3 and 4: the answer's score from its reviewers' markings."""
    done = sorted((m for m in markings if m.complete), key=lambda m: m.last_at or datetime.min)
    maximum = float(question.max_score)
    if not done:
        return AnswerScore(TO_REVIEW, None, maximum)
    if not double:
        last = done[-1]
        return AnswerScore(
            SCORED,
            last.score,
            maximum,
            [last.reviewer_name],
            [(m.reviewer_name, m.score) for m in done],
        )
    if len(done) < 2:
        return AnswerScore(SECOND_NEEDED, None, maximum)
    scores = [m.score for m in done]
    names = [m.reviewer_name for m in done]
    state = THIRD_LOOK if len(done) == 2 and abs(scores[0] - scores[1]) > margin else SCORED
    return AnswerScore(
        state,
        float(statistics.median(scores)),
        maximum,
        names,
        list(zip(names, scores, strict=True)),
    )


def others_visible(markings: list[Marking], double: bool) -> bool:
    """Whether a reviewer may see other reviewers' marks of an answer (rule 4)."""
    return not double or sum(m.complete for m in markings) >= 2


# -- reading and writing marks -----------------------------------------------------------------


def _names(session: Session, ids) -> dict[int, str]:
    ids = [i for i in set(ids) if i is not None]
    if not ids:
        return {}
    return dict(session.execute(sa.select(User.id, User.name).where(User.id.in_(ids))).all())


def markings_by_answer(
    session: Session, invitation_ids, readings
) -> dict[tuple[int, str], list[Marking]]:
    """Every marking of the answers of ``invitation_ids``, by (invitation id, question id).

    ``readings(invitation_id, question_id)`` gives the machine's reading of that answer (or
    None): its flagged misconceptions must be marked (rule 1).
    """
    invitation_ids = list(invitation_ids)
    if not invitation_ids:
        return {}
    grouped: dict[tuple[int, str, int | None], list] = defaultdict(list)
    for start in range(0, len(invitation_ids), _CHUNK):  # bound the IN list (SQLite)
        for row in session.execute(
            sa.select(
                TheoryMark.invitation_id,
                TheoryMark.question_id,
                TheoryMark.reviewer_id,
                TheoryMark.kind,
                TheoryMark.item_id,
                TheoryMark.mark,
                TheoryMark.created_at,
            )
            .where(TheoryMark.invitation_id.in_(invitation_ids[start : start + _CHUNK]))
            .order_by(TheoryMark.id)
        ):
            grouped[(row.invitation_id, row.question_id, row.reviewer_id)].append(row)
    names = _names(session, [key[2] for key in grouped])
    bank = load_bank()
    found: dict[tuple[int, str], list[Marking]] = defaultdict(list)
    for (invitation_id, question_id, reviewer_id), rows in grouped.items():
        try:
            question = bank.get(question_id)
        except Exception:  # a question removed from the bank since: its marks stay unread
            continue
        name = names.get(reviewer_id, "?") if reviewer_id is not None else "?"
        must = flagged(readings(invitation_id, question_id))
        found[(invitation_id, question_id)].append(
            build_marking(question, reviewer_id, name, rows, must)
        )
    for markings in found.values():
        markings.sort(key=lambda m: m.first_at or datetime.min)
    return found


def record_mark(
    session: Session,
    user: User,
    invitation: Invitation,
    question_id: str,
    kind: str,
    item_id: str,
    mark: str,
) -> TheoryMark:
    """Append ``user``'s mark of one key point or misconception of one submitted answer."""
    if question_id not in (invitation.assessment.theory_question_ids or []):
        raise MarkError("that question is not part of this assessment")
    answer = session.scalar(
        sa.select(TheoryAnswer).where(
            TheoryAnswer.invitation_id == invitation.id,
            TheoryAnswer.question_id == question_id,
            TheoryAnswer.submitted_at.is_not(None),
        )
    )
    if answer is None:
        raise MarkError("the candidate has not submitted this answer")
    question = load_bank().get(question_id)
    if kind == POINT:
        if item_id not in {p.id for p in question.key_points}:
            raise MarkError(f"no key point {item_id!r} in this question")
        if mark not in POINT_MARKS:
            raise MarkError(f"a key point is marked {', '.join(POINT_MARKS)}")
    elif kind == MISCONCEPTION:
        if item_id not in {m.id for m in question.misconceptions}:
            raise MarkError(f"no misconception {item_id!r} in this question")
        if mark not in MISCONCEPTION_MARKS:
            raise MarkError(f"a misconception is marked {PRESENT} or {ABSENT}")
    else:
        raise MarkError(f"a mark is on a {POINT} or a {MISCONCEPTION}")
    row = TheoryMark(
        invitation_id=invitation.id,
        question_id=question_id,
        reviewer_id=user.id,
        kind=kind,
        item_id=item_id,
        mark=mark,
    )
    session.add(row)
    session.flush()
    return row


def history(session: Session, invitation_id: int, question_id: str) -> list[TheoryMark]:
    """Every mark of one answer, oldest first."""
    return list(
        session.scalars(
            sa.select(TheoryMark)
            .where(TheoryMark.invitation_id == invitation_id, TheoryMark.question_id == question_id)
            .order_by(TheoryMark.id)
        )
    )


def set_double_review(session: Session, actor: User, assessment: Assessment, on: bool, margin):
    """Ask for two markings per answer (or one), with the margin for a third look."""
    from server import audit

    try:
        margin = float(margin)
    except (TypeError, ValueError):
        raise MarkError("the margin is a number of points, such as 2") from None
    if not math.isfinite(margin) or not 0 <= margin <= 100:
        raise MarkError("the margin lies between 0 and 100 points")
    assessment.double_review = bool(on)
    assessment.agreement_margin = margin
    audit.record(
        session,
        "double_review",
        actor_id=actor.id,
        assessment_id=assessment.id,
        on=bool(on),
        margin=margin,
    )


# -- agreement ---------------------------------------------------------------------------------


def kappa(first: list[float], second: list[float], max_score: float) -> float | None:
    """Quadratic-weighted Cohen's kappa of two reviewers' scores (half-point steps on the
    scale 0..max_score); None when it is undefined (under two answers, or no spread)."""
    if len(first) < 2:
        return None
    steps = list(range(int(round(2 * max_score)) + 1))
    a = [int(round(2 * value)) for value in first]
    b = [int(round(2 * value)) for value in second]
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        value = float(cohen_kappa_score(a, b, labels=steps, weights="quadratic"))
    return None if math.isnan(value) else value


@dataclass
class QuestionAgreement:
    question: Question
    count: int
    kappa: float | None


@dataclass
class ThirdLook:
    invitation_id: int
    question: Question
    scores: list[tuple[str, float]]


def calibration(session: Session, assessment: Assessment, readings):
    """Per-question agreement over the answers marked twice (rule 5), and the answers that
    wait for a third look (rule 4): ([QuestionAgreement], [ThirdLook])."""
    ids = list(
        session.scalars(
            sa.select(TheoryMark.invitation_id)
            .distinct()
            .join(Invitation, Invitation.id == TheoryMark.invitation_id)
            .where(Invitation.assessment_id == assessment.id)
        )
    )
    found = markings_by_answer(session, ids, readings)
    bank = load_bank()
    pairs: dict[str, tuple[list[float], list[float]]] = defaultdict(lambda: ([], []))
    waiting = []
    for (invitation_id, question_id), markings in sorted(found.items()):
        if question_id not in (assessment.theory_question_ids or []):
            continue
        question = bank.get(question_id)
        done = sorted((m for m in markings if m.complete), key=lambda m: m.last_at or datetime.min)
        if len(done) >= 2:
            pairs[question_id][0].append(done[0].score)
            pairs[question_id][1].append(done[1].score)
        result = answer_score(question, markings, True, assessment.agreement_margin)
        if assessment.double_review and result.state == THIRD_LOOK:
            waiting.append(ThirdLook(invitation_id, question, result.scores))
    agreement = []
    for question_id in assessment.theory_question_ids or []:
        question = bank.get(question_id)
        first, second = pairs.get(question_id, ([], []))
        agreement.append(
            QuestionAgreement(question, len(first), kappa(first, second, question.max_score))
        )
    return agreement, waiting
