"""Every model, imported here so that ``Base.metadata`` knows all tables (Alembic, tests)."""

from server.models.accounts import ADMIN, RECRUITER, REVIEWER, ROLES, User
from server.models.api import ApiToken, Webhook, WebhookDelivery
from server.models.assessments import Assessment, AssessmentChallenge
from server.models.base import Base, utcnow
from server.models.dryruns import DryRun
from server.models.grading import (
    GRADING_STATES,
    Grading,
    GradingDuration,
    ProgressEvent,
    Submission,
)
from server.models.invitations import ConceptCheckAnswer, Invitation, TheoryAnswer
from server.models.mail import MailOutbox
from server.models.renders import GradingRender, SubmissionRender
from server.models.review import (
    DECISIONS,
    AuditEvent,
    CandidateSummary,
    Decision,
    RetentionPolicy,
    Reveal,
    ReviewAssignment,
    TheoryMark,
    TheoryReview,
)
from server.models.similarity import SimilarityCheck, SimilarityPair
from server.models.splits import SplitSecret
from server.models.workers import WorkerRecord

__all__ = [
    "ADMIN",
    "DECISIONS",
    "GRADING_STATES",
    "RECRUITER",
    "REVIEWER",
    "ROLES",
    "Assessment",
    "AssessmentChallenge",
    "ApiToken",
    "AuditEvent",
    "Base",
    "CandidateSummary",
    "ConceptCheckAnswer",
    "Decision",
    "DryRun",
    "Grading",
    "GradingDuration",
    "GradingRender",
    "Invitation",
    "MailOutbox",
    "ProgressEvent",
    "RetentionPolicy",
    "Reveal",
    "ReviewAssignment",
    "SimilarityCheck",
    "SplitSecret",
    "SimilarityPair",
    "Submission",
    "SubmissionRender",
    "WorkerRecord",
    "TheoryAnswer",
    "TheoryMark",
    "TheoryReview",
    "User",
    "Webhook",
    "WebhookDelivery",
    "utcnow",
]
