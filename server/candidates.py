"""What a candidate can do through their link. Plain functions: tests call them without HTTP.

The link's token is the key; every function here takes the invitation it opened, so nothing of
one candidate is reachable from another's link.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from pathlib import PurePath

import sqlalchemy as sa
from sqlalchemy.orm import Session

from graders.submissions import check_submission, strip_identity
from graders.theory import load_bank
from server import invitations
from server.assessments import grading_options
from server.models import Invitation, Submission, TheoryAnswer, utcnow

MAX_ANSWER_CHARS = 20_000


class LinkError(Exception):
    """The link does not open an assessment: ``kind`` is unknown, expired or revoked."""

    def __init__(self, kind: str):
        super().__init__(kind)
        self.kind = kind


class CandidateError(ValueError):
    """Refused work; ``code`` for tests and logs, the message for the candidate."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


def open_link(
    session: Session, token: str, now: datetime | None = None, *, expired_ok: bool = False
) -> Invitation:
    """The invitation behind ``token``, or ``LinkError`` saying why it cannot be used.

    ``expired_ok``: an expired link still opens (a submission's status page: what came in
    before the end is graded after it, and the candidate may follow it); a revoked one not.
    """
    invitation = invitations.find_by_token(session, token)
    if invitation is None:
        raise LinkError("unknown")
    if invitation.revoked_at is not None:
        raise LinkError("revoked")
    if not expired_ok and invitations.link_expired(invitation, now or utcnow()):
        raise LinkError("expired")
    return invitation


def mark_viewed(invitation: Invitation, now: datetime | None = None) -> None:
    if invitation.viewed_at is None:
        invitation.viewed_at = now or utcnow()


def deadline_passed(invitation: Invitation, now: datetime | None = None) -> bool:
    """The assessment's deadline is past: nobody may start it any more."""
    deadline = invitation.assessment.deadline
    return deadline is not None and (now or utcnow()) >= deadline


def start_clock(invitation: Invitation, now: datetime | None = None) -> None:
    """Start the candidate's time, once: a second start (new browser) changes nothing.
    ``CandidateError("deadline_passed")`` past the assessment's deadline (not started)."""
    now = now or utcnow()
    if invitation.opened_at is None and deadline_passed(invitation, now):
        raise CandidateError(
            "deadline_passed", "The deadline of this assessment has passed; it cannot be started."
        )
    if invitation.opened_at is None:
        invitation.viewed_at = invitation.viewed_at or now
        invitation.opened_at = now


def attempts_used(invitation: Invitation, slug: str) -> int:
    """Submissions that count: one that ended in a platform failure does not."""
    return sum(
        1 for s in invitation.submissions if s.challenge_slug == slug and s.counts_as_attempt
    )


def _counted_attempts(session: Session, invitation_id: int, slug: str) -> int:
    return session.scalar(
        sa.select(sa.func.count())
        .select_from(Submission)
        .where(
            Submission.invitation_id == invitation_id,
            Submission.challenge_slug == slug,
            Submission.counts_as_attempt.is_(True),
        )
    )


def submit_code(
    session: Session,
    invitation: Invitation,
    slug: str,
    filename: str,
    data: bytes,
    *,
    now: datetime | None = None,
    grace_seconds: int = 0,
) -> Submission:
    """Check, store and queue an upload's dry run; ``CandidateError`` if refused (nothing is
    stored then). The grading is queued once the dry run passes."""
    now = now or utcnow()
    assessment = invitation.assessment
    if slug not in assessment.challenge_slugs:
        raise CandidateError("unknown_challenge", "This assessment has no such challenge.")
    if not invitations.accepting(invitation, now, grace_seconds):
        raise CandidateError(
            "time_over", "Your time for this assessment is over; nothing more is accepted."
        )
    if attempts_used(invitation, slug) >= assessment.attempt_limit:
        raise CandidateError("no_attempts", "You have used every attempt for this challenge.")
    problem = check_submission(filename, data)
    if problem is not None:
        raise CandidateError(problem.code, problem.message)
    suffix = PurePath(filename).suffix.lower()
    if suffix == ".ipynb":
        data = strip_identity(data)  # stored without the author's name
    submission = Submission(
        invitation_id=invitation.id,
        challenge_slug=slug,
        # A fixed name: the uploaded one may carry the candidate's name into the sandbox.
        filename=f"solution{suffix}",
        source=data,
        sha256=hashlib.sha256(data).hexdigest(),
        size=len(data),
        created_at=now,
    )
    invitation.submissions.append(submission)
    session.flush()
    # Two uploads at once both passed the check above; count again now that ours is written.
    if _counted_attempts(session, invitation.id, slug) > assessment.attempt_limit:
        raise CandidateError("no_attempts", "You have used every attempt for this challenge.")
    # The dry run first (server/dryruns.py): only an upload whose contract holds is graded,
    # and one that fails it gives its attempt back.
    from server.dryruns import queue_dry_run

    queue_dry_run(session, submission, grading_options(assessment, slug))
    return submission


def self_check_slice(session: Session, invitation: Invitation, challenge) -> bytes:
    """The self-check's public slice for this candidate: the first train rows of their
    assessment's secret split, the rows the upload's dry run trains on (never a test row)."""
    from graders.selfcheck import assessment_slice
    from server.split_secrets import secret_for

    options = grading_options(invitation.assessment, challenge.spec.slug)
    secret = secret_for(session, invitation.assessment_id)  # the caller commits a new one
    return assessment_slice(challenge, options.tier, secret)


def get_submission(
    session: Session, invitation: Invitation, submission_id: int
) -> Submission | None:
    """The submission if it belongs to ``invitation`` (another candidate's is never returned)."""
    return session.scalar(
        sa.select(Submission).where(
            Submission.id == submission_id, Submission.invitation_id == invitation.id
        )
    )


def answers_by_question(invitation: Invitation) -> dict[str, TheoryAnswer]:
    return {answer.question_id: answer for answer in invitation.answers}


def save_answer(
    session: Session,
    invitation: Invitation,
    question_id: str,
    text: str,
    *,
    submit: bool = False,
    now: datetime | None = None,
) -> TheoryAnswer:
    """Save a draft of one theory question's answer, or submit it.

    Submitting makes the answer final and opens the question's concept checks
    (:mod:`server.concept_checks`), so a submitted answer is never changed again (the checks'
    options must not be read before the answer is written); an empty answer is not submitted.
    """
    now = now or utcnow()
    if question_id not in invitation.assessment.theory_question_ids:
        raise CandidateError("unknown_question", "This assessment has no such question.")
    if not invitations.accepting(invitation, now):
        raise CandidateError(
            "time_over", "Your time for this assessment is over; nothing more is accepted."
        )
    if len(text) > MAX_ANSWER_CHARS:
        raise CandidateError("too_long", f"Answers are limited to {MAX_ANSWER_CHARS} characters.")
    if explanations_state(invitation, now) == "open":
        # Nobody edits an answer while they can read the reference answers.
        raise CandidateError(
            "answers_final",
            "Your answers are final: you submitted every one, and this assessment now shows "
            "you the explanations.",
        )
    answer = answers_by_question(invitation).get(question_id)
    if answer is not None and answer.submitted_at is not None:
        raise CandidateError(
            "answer_final",
            "You submitted this answer: it is final, and its concept checks are open.",
        )
    if submit and not text.strip():
        raise CandidateError(
            "empty_answer",
            "Write your answer before you submit it (a line saying what you do not know "
            "is an answer too).",
        )
    if answer is None:
        answer = TheoryAnswer(invitation_id=invitation.id, question_id=question_id)
        invitation.answers.append(answer)
    answer.text, answer.updated_at = text, now
    if submit:
        answer.submitted_at = now
    session.flush()
    return answer


def unanswered(invitation: Invitation) -> tuple[list[str], list[str]]:
    """What the candidate has not handed in: (theory question ids with no text at all,
    challenge slugs with no upload). What "Finish" lists before it ends the time."""
    texts = {a.question_id: a.text for a in invitation.answers}
    questions = [
        qid
        for qid in invitation.assessment.theory_question_ids or []
        if not (texts.get(qid) or "").strip()
    ]
    uploaded = {s.challenge_slug for s in invitation.submissions}
    challenges = [slug for slug in invitation.assessment.challenge_slugs if slug not in uploaded]
    return questions, challenges


def finish(invitation: Invitation, now: datetime | None = None) -> int:
    """The candidate is done: submit every draft that has text (as theirs: they pressed
    Finish) and end their time now; how many drafts were submitted. ``CandidateError`` when
    the time is already over."""
    now = now or utcnow()
    if not invitations.accepting(invitation, now):
        raise CandidateError(
            "time_over", "Your time for this assessment is over; nothing more is accepted."
        )
    done = 0
    for answer in invitation.answers:
        if answer.submitted_at is None and answer.text.strip():
            answer.submitted_at, answer.updated_at = now, now
            done += 1
    invitations.finish(invitation, now)
    return done


def settle_timed_out(
    session: Session, *, assessment_id: int | None = None, now: datetime | None = None
) -> int:
    """Submit the drafts of every candidate whose time is over (``invitations.
    submit_drafts_by_clock``), of one assessment or all; how many. One query finds the
    invitations that still hold an unsubmitted draft with text; the clock is read in Python."""
    now = now or utcnow()
    query = (
        sa.select(Invitation)
        .join(TheoryAnswer, TheoryAnswer.invitation_id == Invitation.id)
        .where(
            Invitation.opened_at.is_not(None),
            Invitation.revoked_at.is_(None),
            TheoryAnswer.submitted_at.is_(None),
            TheoryAnswer.text != "",
        )
        .distinct()
    )
    if assessment_id is not None:
        from server.models import Assessment

        query = query.where(Invitation.assessment_id == assessment_id)
        assessment = session.get(Assessment, assessment_id)
        if assessment is not None and not (assessment.deadline and assessment.deadline <= now):
            # Only those whose time can be over (a factor is at least 1): a table view must
            # not load every candidate still at work.
            query = query.where(
                sa.or_(
                    Invitation.expires_at <= now,
                    Invitation.finished_at.is_not(None),
                    Invitation.opened_at <= now - timedelta(minutes=assessment.time_limit_minutes),
                )
            )
    done = 0
    for invitation in session.scalars(query):
        done += invitations.submit_drafts_by_clock(invitation, now)
    if done:
        session.flush()
    return done


# -- the theory explanations ------------------------------------------------------------------


def explanations_state(invitation: Invitation, now: datetime | None = None) -> str:
    """Whether the candidate may read the theory explanations now, and if not, why.

    ``open``; ``off`` (the recruiter did not allow it); ``no_questions``; ``not_started``;
    ``not_yet`` (answers or picks can still change); ``nothing_submitted`` (the time is over
    and no answer was submitted). "After they submit" means: every theory question of the
    assessment has a submitted answer and submitted concept checks (a question without checks
    needs none), or the time is over and at least one answer was submitted. Drafts alone do
    not count: reviewers never see drafts, so a candidate who submitted nothing has handed
    nothing in. While the page is open everything is final (``save_answer`` and
    ``concept_checks.save`` refuse), so nobody changes an answer or a pick with the
    reference and the correct options beside it.
    """
    assessment = invitation.assessment
    if not assessment.show_explanations_to_candidate:
        return "off"
    if not assessment.theory_question_ids:
        return "no_questions"
    if invitation.opened_at is None:
        return "not_started"
    submitted = {a.question_id for a in invitation.answers if a.submitted_at is not None}
    asked = set(assessment.theory_question_ids)
    if asked <= submitted and all(checks_final_by_candidate(invitation, qid) for qid in asked):
        return "open"
    if invitations.accepting(invitation, now or utcnow()):
        return "not_yet"
    return "open" if submitted & asked else "nothing_submitted"


def checks_final_by_candidate(invitation: Invitation, question_id: str) -> bool:
    """The candidate submitted this question's concept checks, or it has none to submit."""
    answer = answers_by_question(invitation).get(question_id)
    if answer is not None and answer.checks_submitted_at is not None:
        return True
    return not load_bank().get(question_id).checks
