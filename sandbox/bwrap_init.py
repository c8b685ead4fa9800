"""Runs INSIDE the bwrap sandbox, in front of the job (standard library only).

Usage: ``python -I bwrap_init.py FD PYTHON ARGS...``. Runs ``PYTHON ARGS...`` in its own
process group, waits for it, kills whatever it left running (so ``/out`` stops changing),
writes ``/out`` as a tar stream to file descriptor ``FD`` (a pipe the host reads with
caps), and exits with the job's status (128 + signal when it was killed).

The job runs as the same user and could interfere with this process; that only spoils
its own result, because the host treats the tar stream as untrusted.
"""

import contextlib
import os
import signal
import subprocess
import sys
import tarfile


def main() -> int:
    fd = int(sys.argv[1])
    os.set_inheritable(fd, False)
    job = subprocess.Popen(sys.argv[2:], process_group=0)
    status = job.wait()
    # kill(-1) reaches every process this user may signal except this one and pid 1.
    with contextlib.suppress(ProcessLookupError):  # nothing left
        os.kill(-1, signal.SIGKILL)
    try:
        with os.fdopen(fd, "wb") as pipe, tarfile.open(fileobj=pipe, mode="w|") as tar:
            tar.add("/out", arcname=".")
    except OSError:
        pass  # the host stopped reading (cap reached); the job's status still counts
    return 128 - status if status < 0 else status


if __name__ == "__main__":
    sys.exit(main())
