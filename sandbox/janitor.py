"""The janitor: removes what a grader left when the grader dies, however it dies.

Started by ``sandbox.lifecycle.start_janitor`` as ``python -m sandbox.janitor OWNER_ID``,
in its own session, with the read end of a pipe as stdin. Only the grader holds the write
end, so the pipe reads EOF exactly when the grader has exited (even by SIGKILL); then the
janitor removes the owner's containers (when the grader said it used Docker), cgroups and
work folders, and exits. Lines on the pipe before that name what else to clean
(``docker``).
"""

from __future__ import annotations

import signal
import sys

from sandbox.lifecycle import Owner
from sandbox.reaper import reap_owner


def main(argv: list[str]) -> int:
    owner = Owner.parse(argv[1]) if len(argv) == 2 else None
    if owner is None:
        print("usage: python -m sandbox.janitor HOST/PID/START", file=sys.stderr)
        return 2
    # A terminal's Ctrl-C or hang-up is for the grader; the janitor ends with the pipe.
    for sig in (signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)
    told = set()
    for line in sys.stdin.buffer:  # blocks until the grader writes or exits
        told.add(line.strip().decode("ascii", "replace"))
    reap_owner(owner, docker="docker" in told)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
