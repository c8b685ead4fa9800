"""Where Assay finds its challenge definitions and its prepared data.

Both can be moved with environment variables, so a deployment (or a test) can point
at another folder without touching code.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def challenges_dir() -> Path:
    """Folder holding one sub-folder per challenge and ``theory/`` (``ASSAY_CHALLENGES_DIR``)."""
    return Path(os.environ.get("ASSAY_CHALLENGES_DIR") or REPO_ROOT / "challenges")


def data_dir() -> Path:
    """Folder holding prepared datasets (``ASSAY_DATA_DIR``, default ``var/data``)."""
    return Path(os.environ.get("ASSAY_DATA_DIR") or REPO_ROOT / "var" / "data")
