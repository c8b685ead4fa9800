"""Where Assay finds its challenge definitions and its prepared data.

Both can be moved with environment variables (``ASSAY_CHALLENGES_DIR``, ``ASSAY_DATA_DIR``,
declared in ``sandbox.settings``), so a deployment (or a test) can point at another folder
without touching code.
"""

from __future__ import annotations

from pathlib import Path

from sandbox.settings import current

REPO_ROOT = Path(__file__).resolve().parent.parent


def challenges_dir() -> Path:
    """Folder holding one sub-folder per challenge and ``theory/`` (``ASSAY_CHALLENGES_DIR``)."""
    return current().challenges_dir


def data_dir() -> Path:
    """Folder holding prepared datasets (``ASSAY_DATA_DIR``, default ``var/data``)."""
    return current().data_dir
