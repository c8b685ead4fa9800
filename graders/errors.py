"""Domain exceptions of the grading core.

Each carries a message written for the person who has to act on it (an operator,
a candidate or a reviewer); the CLI and the web app show ``str(exc)`` as it is.
"""

from __future__ import annotations

from sandbox.errors import AssayError

__all__ = [
    "AssayError",
    "ChallengeSpecError",
    "DatasetError",
    "PredictionError",
    "UnknownChallengeError",
    "UnknownQuestionError",
]


class ChallengeSpecError(AssayError):
    """A ``challenge.toml`` (or other bank file) is missing, unreadable or invalid."""


class UnknownChallengeError(AssayError):
    """No challenge with the requested slug (or tier): a usage error."""

    exit_code = 2


class UnknownQuestionError(AssayError):
    """No theory question with the requested id: a usage error."""

    exit_code = 2


class DatasetError(AssayError):
    """A dataset is missing, incomplete or fails its checksum; the message names the fix."""


class PredictionError(AssayError):
    """Predictions cannot be scored; ``code`` classifies why (e.g. ``wrong_length``)."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
