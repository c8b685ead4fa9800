"""Every model, imported here so that ``Base.metadata`` knows all tables (Alembic, tests)."""

from server.models.base import Base, utcnow
from server.models.grading import GRADING_STATES, Grading, ProgressEvent, Submission

__all__ = ["Base", "GRADING_STATES", "Grading", "ProgressEvent", "Submission", "utcnow"]
