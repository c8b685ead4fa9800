"""Concept checks on the server: what a candidate sees and picks, and the exact score.

The rules (option order, what is stored, how a pick scores) are in
:mod:`graders.theory.checks`; this module reads and writes the picks
(:class:`~server.models.ConceptCheckAnswer`) and shapes them for the pages, the exports
and the API.

A question's checks stay hidden (not on the page, refused by :func:`save`) until the
candidate's written answer to it is submitted, which makes that answer final: the options,
the correct one among them, are never read before the answer is written. From then on a pick
is saved as the candidate clicks and can change until they submit the question's checks
(``TheoryAnswer.checks_submitted_at``); when the time ends (the clock, "Finish", a revoked
link) whatever was picked is final as it stands.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from graders.theory import Question, load_bank
from graders.theory.bank import CheckOption, ConceptCheck
from graders.theory.checks import ChecksScore, ChecksTotal, choice_at, option_order, score_checks
from server import invitations
from server.candidates import CandidateError, answers_by_question, explanations_state
from server.models import ConceptCheckAnswer, Invitation, TheoryAnswer, utcnow


@dataclass(frozen=True)
class ShownCheck:
    """One check as this candidate sees it: options in their order, and their pick."""

    check: ConceptCheck
    options: list[CheckOption]
    chosen: int | None
    """The position of the picked option, or None."""

    @property
    def correct_position(self) -> int:
        return next(index for index, option in enumerate(self.options) if option.correct)


def choices(invitation: Invitation) -> dict[str, dict[str, str]]:
    """question id -> check id -> stored option key."""
    found: dict[str, dict[str, str]] = {}
    for answer in invitation.check_answers:
        found.setdefault(answer.question_id, {})[answer.check_id] = answer.choice
    return found


def is_open(invitation: Invitation, question_id: str) -> bool:
    """The written answer to the question is submitted: its checks may be shown."""
    answer = answers_by_question(invitation).get(question_id)
    return answer is not None and answer.submitted_at is not None


def is_final(invitation: Invitation, question_id: str, now: datetime | None = None) -> bool:
    """The picks of the question can no longer change: submitted, or the time is over."""
    answer = answers_by_question(invitation).get(question_id)
    if answer is not None and answer.checks_submitted_at is not None:
        return True
    return not invitations.accepting(invitation, now or utcnow())


def for_work_page(invitation: Invitation, question: Question) -> list[ShownCheck]:
    """What the candidate's page may show of the question's checks: nothing until the
    written answer is submitted (:func:`is_open`), then :func:`shown`."""
    return shown(invitation, question) if is_open(invitation, question.id) else []


@dataclass(frozen=True)
class Unsubmitted:
    """A question whose concept checks the candidate has not submitted (what "Finish" lists)."""

    question: Question
    opened: bool
    """The written answer is submitted, so the checks are open; else they never were."""
    picked: int


def unsubmitted(invitation: Invitation) -> list[Unsubmitted]:
    """The asked questions with checks the candidate has not submitted: open ones with how
    many are picked (final as they are once the time ends), and ones never opened (the
    written answer is a draft or missing: ending the time now leaves them unanswered)."""
    bank = load_bank()
    answers = answers_by_question(invitation)
    picked = choices(invitation)
    result = []
    for qid in invitation.assessment.theory_question_ids or []:
        question = bank.get(qid)
        answer = answers.get(qid)
        if not question.checks or (answer is not None and answer.checks_submitted_at):
            continue
        opened = answer is not None and answer.submitted_at is not None
        result.append(Unsubmitted(question, opened, len(picked.get(qid, {}))))
    return result


def shown(invitation: Invitation, question: Question) -> list[ShownCheck]:
    """The checks of ``question`` in the order and with the options this candidate sees.

    Every check, whatever the state: the candidate's page goes through
    :func:`for_work_page`; the explanations and the reviewers' pages use this directly."""
    picked = choices(invitation).get(question.id, {})
    result = []
    for check in question.checks:
        options = option_order(invitation.check_seed, question.id, check)
        keys = [option.key for option in options]
        choice = picked.get(check.id)
        result.append(ShownCheck(check, options, keys.index(choice) if choice in keys else None))
    return result


def save(
    session: Session,
    invitation: Invitation,
    question_id: str,
    positions: dict[str, str],
    *,
    submit: bool = False,
    now: datetime | None = None,
) -> list[ConceptCheckAnswer]:
    """Store the options picked at ``positions`` (check id -> position as posted); with
    ``submit``, also make the question's picks final (checks left unpicked score nothing).

    Refused, with nothing of the request stored: an unknown question; time over; the
    written answer not submitted yet (``answer_not_submitted``: the checks are not open);
    the question's checks already submitted (``checks_final``); answers final; a check id
    the question does not have or a position that is not one of its options.
    """
    now = now or utcnow()
    if question_id not in invitation.assessment.theory_question_ids:
        raise CandidateError("unknown_question", "This assessment has no such question.")
    if not invitations.accepting(invitation, now):
        raise CandidateError(
            "time_over", "Your time for this assessment is over; nothing more is accepted."
        )
    answer: TheoryAnswer | None = answers_by_question(invitation).get(question_id)
    if answer is None or answer.submitted_at is None:
        raise CandidateError(
            "answer_not_submitted",
            "Submit your written answer to this question first: its concept checks open then.",
        )
    # Lock the answer's row (PostgreSQL; SQLite writes one at a time): a pick racing the
    # submit from another tab waits for it and then sees the checks final.
    session.refresh(answer, ["checks_submitted_at"], with_for_update=True)
    if answer.checks_submitted_at is not None:
        raise CandidateError(
            "checks_final", "You submitted the concept checks of this question: they are final."
        )
    if explanations_state(invitation, now) == "open":
        raise CandidateError(
            "answers_final",
            "Your answers are final: you submitted every one, and this assessment now shows "
            "you the explanations.",
        )
    question = load_bank().get(question_id)
    picks: dict[str, str] = {}
    for check_id, raw in positions.items():
        check = question.check(check_id)
        position = int(raw) if raw.isdigit() else -1
        choice = choice_at(invitation.check_seed, question_id, check, position) if check else None
        if choice is None:
            raise CandidateError("unknown_option", "This concept check has no such option.")
        picks[check_id] = choice
    existing = {
        answer.check_id: answer
        for answer in invitation.check_answers
        if answer.question_id == question_id
    }
    saved = []
    for check_id, choice in picks.items():
        row = existing.get(check_id)
        if row is None:
            row = _insert(session, invitation, question_id, check_id, choice, now)
        row.choice, row.seed, row.answered_at = choice, invitation.check_seed, now
        saved.append(row)
    if submit:
        answer.checks_submitted_at = now
    session.flush()
    return saved


def _insert(
    session: Session,
    invitation: Invitation,
    question_id: str,
    check_id: str,
    choice: str,
    now: datetime,
) -> ConceptCheckAnswer:
    """A new pick row; a second tab that inserted it a moment earlier wins the row, not the pick."""
    row = ConceptCheckAnswer(
        invitation_id=invitation.id,
        question_id=question_id,
        check_id=check_id,
        choice=choice,
        seed=invitation.check_seed,
        answered_at=now,
    )
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        row = session.scalar(
            sa.select(ConceptCheckAnswer).filter_by(
                invitation_id=invitation.id, question_id=question_id, check_id=check_id
            )
        )
    session.refresh(invitation, ["check_answers"])
    return row


def score(invitation: Invitation) -> ChecksTotal:
    """The exact concept-check score over the questions this assessment asked."""
    bank = load_bank()
    picked = choices(invitation)
    return ChecksTotal(
        tuple(
            score_checks(bank.get(qid), picked.get(qid, {}))
            for qid in invitation.assessment.theory_question_ids or []
        )
    )


def by_question(invitation: Invitation) -> dict[str, ChecksScore]:
    """question id -> its checks as answered, for the pages."""
    return {item.question_id: item for item in score(invitation).per_question}


def totals(
    session: Session, question_ids: list[str], invitation_ids: list[int]
) -> dict[int, ChecksTotal]:
    """invitation id -> exact concept-check score, in one query (the candidates table, exports)."""
    bank = load_bank()
    questions = [bank.get(qid) for qid in question_ids]
    picked: dict[int, dict[str, dict[str, str]]] = {iid: {} for iid in invitation_ids}
    if invitation_ids:
        rows = session.execute(
            sa.select(
                ConceptCheckAnswer.invitation_id,
                ConceptCheckAnswer.question_id,
                ConceptCheckAnswer.check_id,
                ConceptCheckAnswer.choice,
            ).where(ConceptCheckAnswer.invitation_id.in_(invitation_ids))
        )
        for invitation_id, question_id, check_id, choice in rows:
            picked[invitation_id].setdefault(question_id, {})[check_id] = choice
    return {
        iid: ChecksTotal(tuple(score_checks(q, picks.get(q.id, {})) for q in questions))
        for iid, picks in picked.items()
    }
