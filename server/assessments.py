"""Creating assessments and finding them for a staff user. Plain functions, no Flask."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from graders.challenges import all_challenges
from graders.pipeline import GradeOptions
from graders.theory import load_bank
from server.models import ADMIN, Assessment, AssessmentChallenge, Invitation, User, utcnow
from server.split_secrets import secret_for

TIERS = ("sample", "full")


class AssessmentError(ValueError):
    """A refused assessment; the message says why."""


@dataclass
class AssessmentDraft:
    """What a recruiter filled in; ``bars`` maps a challenge slug to ``{metric: bar}``."""

    title: str
    challenges: list[str]
    theory_question_ids: list[str] = field(default_factory=list)
    time_limit_minutes: int = 120
    deadline: datetime | None = None
    attempt_limit: int = 3
    dataset_tier: str = "sample"
    show_scores_to_candidate: bool = False
    blind_review: bool = True
    #: Candidates may read their questions' explanations once they have submitted.
    show_explanations_to_candidate: bool = False
    bars: dict[str, dict[str, float]] = field(default_factory=dict)


def validate(draft: AssessmentDraft) -> None:
    """Raise ``AssessmentError`` naming the first thing wrong with ``draft``."""
    known = all_challenges()
    if not draft.title.strip():
        raise AssessmentError("give the assessment a title")
    if not draft.challenges:
        raise AssessmentError("choose at least one challenge")
    unknown = [slug for slug in draft.challenges if slug not in known]
    if unknown:
        raise AssessmentError(f"unknown challenge(s): {', '.join(unknown)}")
    bank_ids = set(load_bank().ids)
    missing = [qid for qid in draft.theory_question_ids if qid not in bank_ids]
    if missing:
        raise AssessmentError(f"unknown theory question(s): {', '.join(missing)}")
    if draft.show_explanations_to_candidate and not draft.theory_question_ids:
        raise AssessmentError(
            "candidates can read explanations of theory questions only: choose at least one"
        )
    if not 1 <= draft.time_limit_minutes <= 7 * 24 * 60:
        raise AssessmentError("the time limit must be between 1 minute and 7 days")
    if not 1 <= draft.attempt_limit <= 50:
        raise AssessmentError("the attempt limit must be between 1 and 50")
    if draft.dataset_tier not in TIERS:
        raise AssessmentError(f"unknown dataset tier {draft.dataset_tier!r}")
    for slug, bars in draft.bars.items():
        if slug not in draft.challenges:
            raise AssessmentError(f"a bar for {slug}, which is not in the assessment")
        metrics = set(known[slug].spec.metrics)
        for metric, bar in bars.items():
            if metric not in metrics:
                raise AssessmentError(f"{slug} does not report {metric!r}")
            if not 0.0 <= bar <= 1.0:
                raise AssessmentError(f"the bar for {slug} {metric} must lie between 0 and 1")


def create_assessment(session: Session, owner: User, draft: AssessmentDraft) -> Assessment:
    """A new assessment owned by ``owner`` (flushed); ``AssessmentError`` if the draft is wrong."""
    validate(draft)
    assessment = Assessment(
        owner_id=owner.id,
        title=draft.title.strip(),
        time_limit_minutes=draft.time_limit_minutes,
        deadline=draft.deadline,
        attempt_limit=draft.attempt_limit,
        dataset_tier=draft.dataset_tier,
        show_scores_to_candidate=draft.show_scores_to_candidate,
        blind_review=draft.blind_review,
        show_explanations_to_candidate=draft.show_explanations_to_candidate,
        theory_question_ids=list(draft.theory_question_ids),
        challenges=[
            AssessmentChallenge(challenge_slug=slug, position=i, bars=draft.bars.get(slug) or None)
            for i, slug in enumerate(draft.challenges)
        ],
    )
    session.add(assessment)
    session.flush()
    secret_for(session, assessment.id)  # the sample tiers' test split, drawn secretly
    return assessment


def started(session: Session, assessment: Assessment) -> bool:
    """Whether any candidate has started the assessment (its clock runs): from then on it is
    fixed, so that every candidate sits the same one."""
    return (
        session.scalar(
            sa.select(Invitation.id)
            .where(Invitation.assessment_id == assessment.id, Invitation.opened_at.is_not(None))
            .limit(1)
        )
        is not None
    )


def draft_of(assessment: Assessment) -> AssessmentDraft:
    """The assessment as a draft (the edit form's values, a duplicate's)."""
    return AssessmentDraft(
        title=assessment.title,
        challenges=list(assessment.challenge_slugs),
        theory_question_ids=list(assessment.theory_question_ids or []),
        time_limit_minutes=assessment.time_limit_minutes,
        deadline=assessment.deadline,
        attempt_limit=assessment.attempt_limit,
        dataset_tier=assessment.dataset_tier,
        show_scores_to_candidate=assessment.show_scores_to_candidate,
        blind_review=assessment.blind_review,
        show_explanations_to_candidate=assessment.show_explanations_to_candidate,
        bars={c.challenge_slug: dict(c.bars) for c in assessment.challenges if c.bars},
    )


def update_assessment(session: Session, assessment: Assessment, draft: AssessmentDraft) -> None:
    """Change an assessment nobody has started (``AssessmentError`` once someone has, or if
    the draft is wrong). Challenges kept keep their row; the order follows the draft."""
    if started(session, assessment):
        raise AssessmentError("a candidate has started this assessment: it can no longer change")
    validate(draft)
    assessment.title = draft.title.strip()
    assessment.time_limit_minutes = draft.time_limit_minutes
    assessment.deadline = draft.deadline
    assessment.attempt_limit = draft.attempt_limit
    assessment.dataset_tier = draft.dataset_tier
    assessment.show_scores_to_candidate = draft.show_scores_to_candidate
    assessment.blind_review = draft.blind_review
    assessment.show_explanations_to_candidate = draft.show_explanations_to_candidate
    assessment.theory_question_ids = list(draft.theory_question_ids)
    kept = {c.challenge_slug: c for c in assessment.challenges}
    for link in list(assessment.challenges):
        if link.challenge_slug not in draft.challenges:
            assessment.challenges.remove(link)
    session.flush()  # the removed rows go before a re-added slug could collide
    for position, slug in enumerate(draft.challenges):
        link = kept.get(slug)
        if link is None:
            link = AssessmentChallenge(challenge_slug=slug)
            assessment.challenges.append(link)
        link.position, link.bars = position, draft.bars.get(slug) or None
    session.flush()


def duplicate(session: Session, owner: User, assessment: Assessment, title: str) -> Assessment:
    """A copy of ``assessment`` owned by ``owner``, with no candidates; a deadline already
    past is dropped (the copy could not be sat)."""
    draft = draft_of(assessment)
    draft.title = title[:200]
    if draft.deadline is not None and draft.deadline <= utcnow():
        draft.deadline = None
    return create_assessment(session, owner, draft)


def preview_invitation(assessment: Assessment) -> Invitation:
    """An invitation for the preview pages only: never added to a session, so nothing is
    recorded and no link exists."""
    from datetime import timedelta

    now = utcnow()
    return Invitation(
        assessment=assessment,
        assessment_id=assessment.id,
        candidate_name="",
        candidate_email="",
        token_hash="",
        created_at=now,
        expires_at=now + timedelta(days=14),
        extra_time_factor=1.0,
    )


def visible_assessments(session: Session, user: User) -> list[Assessment]:
    """Admins see every assessment; a recruiter sees their own."""
    query = sa.select(Assessment).order_by(Assessment.created_at.desc())
    if user.role != ADMIN:
        query = query.where(Assessment.owner_id == user.id)
    return list(session.scalars(query))


def get_assessment(session: Session, assessment_id: int, user: User) -> Assessment | None:
    """The assessment if ``user`` may manage it, else None (the view answers 404)."""
    assessment = session.get(Assessment, assessment_id)
    if assessment is None or (user.role != ADMIN and assessment.owner_id != user.id):
        return None
    return assessment


def grading_options(assessment: Assessment, slug: str) -> GradeOptions:
    """What the worker grades this challenge with: the tier, and any bar the recruiter set."""
    link = assessment.challenge(slug)
    bars = dict(link.bars) if link is not None and link.bars else {}
    return GradeOptions(tier=assessment.dataset_tier, bars=bars)


def parse_bars(text: str) -> dict[str, float]:
    """``"accuracy=0.95, f1=0.8"`` as ``{metric: bar}``; empty text is no override."""
    bars: dict[str, float] = {}
    for item in text.replace(";", ",").split(","):
        if not item.strip():
            continue
        metric, sep, value = item.partition("=")
        try:
            if not sep:
                raise ValueError
            bars[metric.strip()] = float(value)
        except ValueError:
            raise AssessmentError(
                f"write a bar as metric=value, e.g. accuracy=0.95 (got {item.strip()!r})"
            ) from None
    return bars
