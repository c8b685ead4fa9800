"""Checks on an uploaded submission before any sandbox is started.

The same checks serve the web upload and ``assay grade``: extension, size, UTF-8,
notebook JSON and schema (nbformat), Python syntax. They reuse the harness's own
readers, so the trusted side and the sandbox agree on what a valid file is.
Parsing never executes the code.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path, PurePath

from graders.text import clean
from sandbox import harness

MAX_BYTES = 2 * 1024 * 1024
EXTENSIONS = (".py", ".ipynb")
#: Notebook metadata that names people (Jupyter's, JupyterLab's, nbformat's own and
#: editors'); removed at the top level and from every cell before a notebook is stored or
#: reaches a sandbox.
IDENTITY_KEYS = (
    "author",
    "authors",
    "creator",
    "email",
    "last_modified_by",
    "user",
    "username",
)


def format_size(size: int) -> str:
    """A byte count the one way Assay writes sizes: in MB of 1024 × 1024 bytes, whole when
    exactly whole ("2 MB", the upload limit everywhere), else rounded up to one decimal
    ("2.1 MB" for a byte over the limit: never written as equal to it); small ones in KB."""
    mb = size / (1024 * 1024)
    if mb.is_integer() and mb:
        return f"{mb:.0f} MB"
    if mb >= 0.1:
        return f"{math.ceil(mb * 10) / 10:.1f} MB"
    return f"{max(1, math.ceil(size / 1024))} KB"


#: The upload limit as every page and message writes it.
MAX_SIZE_TEXT = format_size(MAX_BYTES)


def notebook_output_bytes(data: bytes) -> int:
    """How many bytes of a notebook are its cells' outputs (0 if it is not a readable
    notebook): what "clear the outputs" would save."""
    try:
        notebook = json.loads(data.decode("utf-8-sig"))  # a byte-order mark is no JSON
    except (ValueError, UnicodeDecodeError, RecursionError):
        return 0
    cells = notebook.get("cells") if isinstance(notebook, dict) else None
    total = 0
    for cell in cells if isinstance(cells, list) else []:
        if isinstance(cell, dict) and cell.get("outputs"):
            total += len(json.dumps(cell["outputs"]).encode("utf-8"))
    return total


def strip_identity(notebook: bytes) -> bytes:
    """The notebook without the metadata that names its author (``IDENTITY_KEYS``, at the top
    level and in every cell); everything else as written.

    A notebook with none of those keys, or one that does not parse (the upload checks refuse
    it), is returned byte for byte as it came.
    """
    try:
        data = json.loads(notebook.decode("utf-8-sig"))  # a byte-order mark is no JSON
    except (UnicodeDecodeError, ValueError, RecursionError):
        return notebook
    if not isinstance(data, dict):
        return notebook
    cells = data.get("cells") if isinstance(data.get("cells"), list) else []
    holders = [data, *(c for c in cells if isinstance(c, dict))]
    found = False
    for holder in holders:
        metadata = holder.get("metadata")
        if isinstance(metadata, dict):
            for key in IDENTITY_KEYS:
                if key in metadata:
                    del metadata[key]
                    found = True
    if not found:
        return notebook
    return (json.dumps(data, ensure_ascii=False, indent=1) + "\n").encode("utf-8")


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
        sizes = f"the file is {format_size(len(data))}; the limit is {MAX_SIZE_TEXT}"
        outputs = notebook_output_bytes(data) if suffix == ".ipynb" else 0
        if outputs and len(data) - outputs <= MAX_BYTES:
            # The code itself fits: the outputs are what to remove.
            return SubmissionProblem(
                "notebook_outputs_too_large",
                f"{sizes}, of which {format_size(outputs)} are cell outputs: clear the "
                "outputs and upload it again",
            )
        return SubmissionProblem("too_large", sizes)
    if not data.strip():
        return SubmissionProblem("empty", "the file is empty")
    try:
        source, _ = harness.source_from_bytes(data, suffix)
        harness.parse(source, filename)
    except harness.HarnessError as exc:
        return SubmissionProblem(exc.code, str(exc), exc.detail)
    return None


@dataclass(frozen=True)
class SubmissionFacts:
    """What the host's own parse of an upload says: stated in the report as the platform's."""

    mode: str  # "function" (defines build_model) or "script"
    form: str  # "python" or "notebook"
    warnings: tuple[str, ...] = ()  # IPython lines and cells dropped from a notebook


def describe(path: Path) -> SubmissionFacts | None:
    """The facts of the upload at ``path``, or None when it does not parse (its phase fails)."""
    try:
        source, dropped = harness.read_source(path)
        functions = harness.defined_functions(harness.parse(source, path.name))
    except (harness.HarnessError, OSError):
        return None
    mode = "function" if "build_model" in functions else "script"
    form = "notebook" if path.suffix.lower() == ".ipynb" else "python"
    return SubmissionFacts(mode, form, tuple(clean(w, multiline=False) for w in dropped))
