"""Exceptions of the sandbox layer.

A job that crashes, times out or runs out of memory is not an exception: it is a
``RunResult``. These are for the cases where no job could be run at all.
"""

from __future__ import annotations

from graders.errors import AssayError


class SandboxError(AssayError):
    """The sandbox itself failed (engine error, broken image); the job's outcome is unknown."""


class SandboxUnavailable(SandboxError):
    """A backend cannot run on this machine; the message gives the reason and the fix."""
