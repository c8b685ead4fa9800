"""Runs INSIDE the bwrap sandbox as its pid 1, in front of the job (standard library only).

Usage: ``python -I bwrap_init.py FD PYTHON ARGS...``. Runs ``PYTHON ARGS...`` in its own
process group, reaps every process until the job has exited, kills whatever it left
running (so ``/out`` stops changing), writes ``/out`` as a tar stream to file descriptor
``FD`` (a pipe the host reads with caps), and exits with the job's status (128 + signal
when it was killed).

Being pid 1 of the sandbox's pid namespace (``bwrap --as-pid-1``), this process ignores
every signal the job can send it (the kernel delivers none without a handler to a
namespace's init), and it makes itself non-dumpable, so the job (same uid, no
capabilities, ptrace denied by seccomp) cannot open its ``/proc/1/mem`` either. The host
still treats the tar stream as untrusted.
"""

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import tarfile

PR_SET_DUMPABLE = 4


def main() -> int:
    fd = int(sys.argv[1])
    os.set_inheritable(fd, False)
    # Before the job exists: a non-dumpable process's /proc files belong to root and its
    # memory cannot be opened by a process without CAP_SYS_PTRACE.
    if ctypes.CDLL(None, use_errno=True).prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0:
        print("bwrap_init: cannot make itself non-dumpable", file=sys.stderr)
        return 125
    job = subprocess.Popen(sys.argv[2:], process_group=0)
    status = _reap_until(job.pid)
    # kill(-1) from a namespace's init reaches every other process in the namespace.
    with contextlib.suppress(ProcessLookupError):  # nothing left
        os.kill(-1, signal.SIGKILL)
    _reap_until(None)  # all of them gone: nothing writes to /out any more
    try:
        with os.fdopen(fd, "wb") as pipe, tarfile.open(fileobj=pipe, mode="w|") as tar:
            tar.add("/out", arcname=".")
    except OSError:
        pass  # the host stopped reading (cap reached); the job's status still counts
    return status


def _reap_until(pid: int | None) -> int:
    """Reap children (orphans are re-parented to pid 1) until ``pid`` exits, or, with None,
    until none is left; return ``pid``'s shell-style status."""
    while True:
        try:
            done, wait_status = os.wait()
        except ChildProcessError:
            return 0
        except InterruptedError:  # pragma: no cover - PEP 475 retries
            continue
        if done == pid:
            code = os.waitstatus_to_exitcode(wait_status)
            return 128 - code if code < 0 else code


if __name__ == "__main__":
    sys.exit(main())
