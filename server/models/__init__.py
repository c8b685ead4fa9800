"""Every model, imported here so that ``Base.metadata`` knows all tables (Alembic, tests)."""

from server.models.accounts import ADMIN, RECRUITER, REVIEWER, ROLES, User
from server.models.assessments import Assessment, AssessmentChallenge
from server.models.base import Base, utcnow
from server.models.grading import GRADING_STATES, Grading, ProgressEvent, Submission
from server.models.invitations import Invitation, TheoryAnswer
from server.models.mail import MailOutbox

__all__ = [
    "ADMIN",
    "GRADING_STATES",
    "RECRUITER",
    "REVIEWER",
    "ROLES",
    "Assessment",
    "AssessmentChallenge",
    "Base",
    "Grading",
    "Invitation",
    "MailOutbox",
    "ProgressEvent",
    "Submission",
    "TheoryAnswer",
    "User",
    "utcnow",
]
