"""Checks on an uploaded submission before any sandbox is started.

The same checks serve the web upload and ``assay grade``: extension, size, UTF-8,
notebook JSON and schema (nbformat), Python syntax. They reuse the harness's own
readers, so the trusted side and the sandbox agree on what a valid file is.
Parsing never executes the code.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePath

from sandbox import harness

MAX_BYTES = 2 * 1024 * 1024
EXTENSIONS = (".py", ".ipynb")


@dataclass(frozen=True)
class SubmissionProblem:
    """Why a submission was refused: a ``code`` and a message the candidate can act on."""

    code: str
    message: str
    detail: str = ""


def check_submission(filename: str, data: bytes) -> SubmissionProblem | None:
    """None when ``data`` may be graded, else the first problem found."""
    suffix = PurePath(filename).suffix.lower()
    if suffix not in EXTENSIONS:
        return SubmissionProblem(
            "bad_extension", f"{filename!r}: upload a .py file or a .ipynb notebook"
        )
    if len(data) > MAX_BYTES:
        return SubmissionProblem(
            "too_large",
            f"the file is {len(data) / 1e6:.1f} MB; the limit is {MAX_BYTES / 1e6:.1f} MB",
        )
    if not data.strip():
        return SubmissionProblem("empty", "the file is empty")
    try:
        source, _ = harness.source_from_bytes(data, suffix)
        harness.parse(source, filename)
    except harness.HarnessError as exc:
        return SubmissionProblem(exc.code, str(exc), exc.detail)
    return None
