"""Host folders a sandbox's unprivileged uid must read (shared by the backends)."""

from __future__ import annotations

import os
import stat
from pathlib import Path


def make_readable(path: Path) -> None:
    """Let any uid read the folder ``path`` and what is in it (a+rX; links are left alone).

    The sandbox's uid is not the host owner of the files (docker: uid 10001; bwrap under a
    root grader: ``ASSAY_SANDBOX_UID``).
    """
    for root, dirs, files in os.walk(path):
        os.chmod(root, os.stat(root).st_mode | 0o555)
        for name in files:
            file = os.path.join(root, name)
            if not os.path.islink(file):
                os.chmod(file, os.stat(file).st_mode | 0o444)
        dirs[:] = [d for d in dirs if not os.path.islink(os.path.join(root, d))]


def make_traversable(path: Path) -> None:
    """Add search permission for others (o+x, not read: names stay unlistable) to every
    folder above ``path`` that lacks it, so an unprivileged uid can reach ``path``.

    ``tempfile.TemporaryDirectory`` makes 0700 folders; bwrap, run as the sandbox's uid,
    opens the bind source by its path.
    """
    for parent in Path(os.path.realpath(path)).parents:
        mode = os.stat(parent).st_mode
        if not mode & stat.S_IXOTH:
            os.chmod(parent, stat.S_IMODE(mode) | stat.S_IXOTH)
