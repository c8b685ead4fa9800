"""Exceptions of the sandbox layer, and ``AssayError``, the base of every expected failure.

``AssayError`` lives here, in the lowest layer, so that nothing in ``sandbox/`` imports
from ``graders/`` (``graders.errors`` re-exports it). A job that crashes, times out or runs
out of memory is not an exception: it is a ``RunResult``. These are for the cases where no
job could be run at all.
"""

from __future__ import annotations


class AssayError(Exception):
    """Base class: an expected failure with a human-readable message.

    ``exit_code`` is what the CLI exits with: 3 (the platform failed) unless a
    subclass says otherwise.
    """

    exit_code = 3


class SandboxError(AssayError):
    """The sandbox itself failed (engine error, broken image); the job's outcome is unknown."""


class SandboxUnavailable(SandboxError):
    """A backend cannot run on this machine; the message gives the reason and the fix."""
