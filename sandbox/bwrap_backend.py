"""The bubblewrap backend: Linux namespaces without a container engine.

Each job runs under ``bwrap --unshare-all`` (new user, pid, net, ipc, uts and cgroup
namespaces; the network namespace has only a loopback device), as uid/gid 65534 inside,
with every capability dropped, no nested user namespaces, the shared seccomp filter
(``sandbox.seccomp``: Docker's default profile minus io_uring and ptrace), ``/proc/sys``
read-only, and a read-only root built from read-only binds of ``/usr`` and of the grader
environment (``var/grader-env``, the image's package set, at ``/opt/venv``; never the
worker's own venv, which holds the datasets). ``/tmp`` and ``/out`` are size-limited tmpfs
mounts; after the job, ``bwrap_init`` (pid 1, which the job can neither signal nor trace)
streams ``/out`` to the host as tar, which is extracted with caps.

Host user: a grader running as root never runs bwrap as root. The launcher joins the
job's cgroup, sets rlimits, then drops to an unprivileged host uid/gid (``ASSAY_SANDBOX_UID``
/ ``ASSAY_SANDBOX_GID``, default 65533, which owns nothing) before it executes bwrap, whose
user namespace then maps the sandbox user to that uid. A grader that is not root runs bwrap
as itself (the user namespace maps the sandbox user to the worker's uid).

Limits: memory (no swap), processes and CPU come from a cgroup made per job
(``sandbox.cgroups``), which also reports OOM kills and peak memory. Without a writable
cgroup hierarchy the backend falls back to rlimits (RLIMIT_NPROC, RLIMIT_DATA); the job
never runs as root, so RLIMIT_NPROC binds it (it counts every process of that host uid).
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from sandbox import lifecycle, seccomp, settings
from sandbox.archive import ExtractResult, safe_extract
from sandbox.base import Job, RunResult, Sandbox, wait_for
from sandbox.bwrap_command import MB, SANDBOX_UID, bwrap_argv, python_layout, root_binds
from sandbox.cgroups import Cgroup
from sandbox.errors import SandboxUnavailable
from sandbox.paths import make_readable, make_traversable
from sandbox.pidcap import PidsCapWatch
from sandbox.streams import OutputCapture, pump_fd

#: Host uid/gid the sandbox runs as when the grader is root (ASSAY_SANDBOX_UID/_GID): in no
#: distribution's allocated range (Debian reserves 65000-65533), so it owns no files and
#: runs no host process.
DEFAULT_HOST_ID = settings.BY_NAME["ASSAY_SANDBOX_UID"].default  # 65533
INIT_SCRIPT = Path(__file__).with_name("bwrap_init.py")
INIT_PATH = "/.assay/init.py"
REPO_ROOT = Path(__file__).resolve().parents[1]
PASSWD = "root:x:0:0:root:/root:/usr/sbin/nologin\nsandbox:x:65534:65534:sandbox:/tmp:/bin/sh\n"
GROUP = "root:x:0:\nsandbox:x:65534:\n"

# Runs on the host, between Popen and bwrap: joins the job's cgroup and sets rlimits, so
# that bwrap and everything under it inherit both (no preexec_fn, which is unsafe in a
# threaded worker), then, when started as root, drops to the sandbox's host uid for good
# (bwrap run as root would map the sandbox user to host root). Any failure is written to
# the status descriptor and nothing runs; on success exec closes it (the host reads EOF).
LAUNCHER = """\
import json, os, resource, sys
spec = json.loads(sys.argv[1])
status = spec["status_fd"]
try:
    for path in spec["procs"]:
        with open(path, "w") as f:
            f.write(str(os.getpid()))
    for name, value in spec["rlimits"].items():
        resource.setrlimit(getattr(resource, name), (value, value))
    if spec["user"]:
        uid, gid = spec["user"]
        os.setgroups([])
        os.setresgid(gid, gid, gid)
        os.setresuid(uid, uid, uid)
        try:
            os.setuid(0)
        except PermissionError:
            pass
        else:
            raise OSError("root could be regained after the drop")
        if os.getresuid() != (uid,) * 3 or os.getresgid() != (gid,) * 3 or os.getgroups():
            raise OSError("the credentials did not change")
    os.set_inheritable(status, False)
    os.execv(sys.argv[2], sys.argv[2:])
except BaseException as exc:
    os.write(status, f"{type(exc).__name__}: {exc}".encode())
    os._exit(125)
"""


class BwrapSandbox(Sandbox):
    """Runs jobs with bubblewrap and the grader environment's Python (``grader_env()``).

    ``python`` may name another interpreter (a venv's is bound at ``/opt/venv``); it must
    never be the worker's own venv, which holds the dataset packages.
    """

    name = "bwrap"

    def __init__(self, python: str | None = None, bwrap: str = "bwrap"):
        if python is None:
            python = str(_grader_python_or_raise())
        self.python = python
        self.bwrap = shutil.which(bwrap) or bwrap

    @classmethod
    def available(cls) -> tuple[bool, str]:
        """Needs the bwrap binary, user namespaces, the grader environment, libseccomp, and
        (as root) a host uid to drop to that can read that environment."""
        python = grader_env() / "bin" / "python"
        if not python.exists():
            return False, _missing_env_message()
        return _probe(shutil.which("bwrap") or "", str(python))

    def describe(self) -> dict[str, Any]:
        """Backend, bwrap version, interpreter, host user, and how limits are enforced."""
        user = host_user()
        return {
            "backend": self.name,
            "bwrap": _bwrap_version(self.bwrap),
            "python": self.python,
            "host_user": f"{user[0]}:{user[1]}" if user else f"{os.getuid()}:{os.getgid()}",
            "seccomp": "docker-default minus " + ", ".join(sorted(seccomp.DENIED)),
            "limits_via": _limits_via(),
            "image": None,
        }

    def run(self, job: Job) -> RunResult:
        """Run ``job`` under bwrap; see the module docstring for the isolation."""
        if job.limits.gpus:
            raise SandboxUnavailable("the bwrap backend has no GPU support; use docker")
        if host_user() is not None:  # the sandbox's uid is not the owner of the input
            make_readable(Path(job.input_dir))
            make_traversable(Path(job.input_dir))
        cgroup = Cgroup.create(job.limits.memory_mb, job.limits.processes, job.limits.cpus)
        # Named after this process (its owner); a signal handler or the janitor removes it
        # if this process cannot (sandbox.lifecycle).
        token = lifecycle.track("bwrap cgroup", cgroup.remove) if cgroup else None
        try:
            return _Run(self, job, cgroup).execute()
        finally:
            if cgroup is not None:
                cgroup.remove()
                lifecycle.untrack(token)


class _Run:
    """One job's run: processes, pipes and threads, torn down by ``execute``."""

    def __init__(self, sandbox: BwrapSandbox, job: Job, cgroup: Cgroup | None):
        self.sandbox, self.job, self.cgroup = sandbox, job, cgroup
        kill_at = job.limits.flood_bytes
        self.stdout = OutputCapture(job.limits.output_bytes, job.on_stdout_line, kill_at)
        self.stderr = OutputCapture(job.limits.output_bytes, kill_at=kill_at)
        self.extracted = ExtractResult()
        count = cgroup.pids_current if cgroup is not None else lambda: None
        self.pids = PidsCapWatch(count, job.limits.processes)

    def execute(self) -> RunResult:
        start = time.monotonic()
        proc, (out_r, err_r, tar_r) = self._spawn()
        token = lifecycle.track(f"bwrap pid {proc.pid}", lambda: self._kill(proc))
        threads = [pump_fd(out_r, self.stdout), pump_fd(err_r, self.stderr), self._extract(tar_r)]
        deadline = start + self.job.limits.wall_seconds
        outcome = wait_for(lambda t: _exited(proc, t), deadline, self.job.cancel, self._must_stop)
        if outcome != "done":
            self._kill(proc)
        proc.wait()
        lifecycle.untrack(token)
        if self.cgroup is not None:
            self.cgroup.kill()  # nothing may outlive the job
        for thread in threads:
            thread.join(timeout=10)
        return self._result(proc.returncode, outcome, time.monotonic() - start)

    def _must_stop(self) -> bool:
        # Flooded output, or sitting at the pids cap (a fork bomb that swallows its errors).
        return self.stdout.flooded or self.stderr.flooded or self.pids.capped()

    def _spawn(self) -> tuple[subprocess.Popen, tuple[int, int, int]]:
        """Start launcher -> bwrap -> init -> job; return it and the stdout/stderr/tar pipes."""
        (out_r, out_w), (err_r, err_w), (tar_r, tar_w) = os.pipe(), os.pipe(), os.pipe()
        status_r, status_w = os.pipe()
        # Served from descriptors, not bound from the host: nothing of the repository's path
        # needs to be readable by the sandbox's uid or shows in its mount table.
        files = {
            "/etc/passwd": _data_fd(PASSWD),
            "/etc/group": _data_fd(GROUP),
            INIT_PATH: _data_fd(INIT_SCRIPT.read_text()),
        }
        passed = (tar_w, status_w, seccomp.program_fd(), *files.values())
        try:
            proc = subprocess.Popen(
                self._argv(tar_w, status_w, passed[2], files),
                stdin=subprocess.DEVNULL,
                stdout=out_w,
                stderr=err_w,
                pass_fds=passed,
                process_group=0,
                env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
            )
        except BaseException:
            for fd in (out_r, err_r, tar_r, status_r):
                os.close(fd)
            raise
        finally:
            for fd in (out_w, err_w, *passed):
                os.close(fd)
        with os.fdopen(status_r, "rb") as status:
            failure = status.read().decode(errors="replace")
        if failure:  # the launcher could not set up (e.g. drop root): bwrap never started
            proc.wait()
            for fd in (out_r, err_r, tar_r):
                os.close(fd)
            raise SandboxUnavailable(f"the bwrap launcher refused to start the job: {failure}")
        return proc, (out_r, err_r, tar_r)

    def _argv(self, tar_fd: int, status_fd: int, filter_fd: int, files: dict[str, int]):
        limits = self.job.limits
        spec = {
            "procs": self.cgroup.procs_files if self.cgroup else [],
            "rlimits": rlimits(limits, with_cgroup=self.cgroup is not None),
            "user": host_user(),
            "status_fd": status_fd,
        }
        sandbox = self.sandbox
        paths = python_layout(sandbox.python)
        python = paths.inside(sandbox.python)
        inner = [python, "-I", INIT_PATH, str(tar_fd), python, *self.job.argv]
        bwrap = bwrap_argv(self.job, sandbox.bwrap, paths, files, inner, seccomp_fd=filter_fd)
        return [sys.executable, "-I", "-S", "-c", LAUNCHER, json.dumps(spec), *bwrap]

    def _extract(self, fd: int) -> threading.Thread:
        cap = self.job.limits.disk_mb * MB

        def extract():
            with os.fdopen(fd, "rb") as stream:
                self.extracted = safe_extract(stream, self.job.output_dir, cap)

        thread = threading.Thread(target=extract, name="sandbox-extract", daemon=True)
        thread.start()
        return thread

    def _kill(self, proc: subprocess.Popen) -> None:
        # Killing bwrap kills the sandbox (--die-with-parent ends its pid namespace);
        # the cgroup catches anything that escaped the process group.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        if self.cgroup is not None:
            self.cgroup.kill()

    def _result(self, returncode: int, outcome: str, wall: float) -> RunResult:
        finished = outcome == "done"
        cgroup = self.cgroup
        return RunResult(
            exit_code=_shell_status(returncode) if finished else None,
            backend=BwrapSandbox.name,
            timed_out=outcome == "timeout",
            cancelled=outcome == "cancelled",
            output_flooded=outcome == "flooded" and not self.pids.hit,
            pids_capped=self.pids.hit,
            oom_killed=_oom_killed(cgroup, self.stderr.text),
            output_exceeded=self.extracted.exceeded or self.extracted.full,
            wall_seconds=round(wall, 3),
            stdout=self.stdout.text,
            stderr=self.stderr.text,
            stdout_truncated=self.stdout.truncated,
            stderr_truncated=self.stderr.truncated,
            peak_memory_mb=cgroup.peak_memory_mb() if cgroup else None,
        )


def _data_fd(text: str) -> int:
    """A pipe's read end holding ``text`` (small: it must fit in the pipe buffer)."""
    read, write = os.pipe()
    os.write(write, text.encode())
    os.close(write)
    return read


def rlimits(limits, with_cgroup: bool) -> dict[str, int]:
    """rlimits for the sandbox; memory and processes only when no cgroup enforces them."""
    values = {"RLIMIT_CORE": 0, "RLIMIT_FSIZE": limits.disk_mb * MB}
    if not with_cgroup:
        values["RLIMIT_NPROC"] = limits.processes
        values["RLIMIT_DATA"] = limits.memory_mb * MB
    return values


def _exited(proc: subprocess.Popen, timeout: float) -> bool:
    try:
        proc.wait(timeout=timeout)
        return True
    except subprocess.TimeoutExpired:
        return False


def _shell_status(returncode: int) -> int:
    return 128 - returncode if returncode < 0 else returncode


def _oom_killed(cgroup: Cgroup | None, stderr: str) -> bool:
    if cgroup is not None:
        return cgroup.oom_kills() > 0
    # rlimit fallback: RLIMIT_DATA turns the kill into a MemoryError in the job.
    return "MemoryError" in stderr[-2000:]


def host_user() -> tuple[int, int] | None:
    """The host uid/gid jobs run as when this process is root (``ASSAY_SANDBOX_UID`` /
    ``ASSAY_SANDBOX_GID``, default ``DEFAULT_HOST_ID``); None when it is not root (jobs
    then run as this process's own uid, as an unprivileged bwrap always does)."""
    if os.geteuid() != 0:
        return None
    try:
        found = settings.current()
    except settings.SettingsError as exc:
        raise SandboxUnavailable(str(exc)) from exc
    uid = found.sandbox_uid
    gid = found.sandbox_gid if found.sandbox_gid is not None else uid
    if uid <= 0 or gid <= 0:
        raise SandboxUnavailable("ASSAY_SANDBOX_UID/GID must name an unprivileged user, not root")
    return uid, gid


def grader_env() -> Path:
    """The bwrap grader environment: ``ASSAY_GRADER_ENV``, default ``var/grader-env``."""
    return settings.current().grader_env


def _missing_env_message() -> str:
    return (
        f"the bwrap grader environment {grader_env()} is missing; build it with: "
        "make grader-env (scripts/build-grader-env.sh)"
    )


def _grader_python_or_raise() -> Path:
    python = grader_env() / "bin" / "python"
    if not python.exists():
        raise SandboxUnavailable(_missing_env_message())
    return python


@functools.cache
def _probe(bwrap: str, python: str) -> tuple[bool, str]:
    """Run ``python -c pass`` the way a job runs: launcher (drop), namespaces, seccomp."""
    if not bwrap:
        return False, "bubblewrap is not installed (Debian: apt-get install bubblewrap)"
    try:
        user = host_user()
        layout = python_layout(python)
        filter_fd = seccomp.program_fd()
    except (SandboxUnavailable, OSError, subprocess.CalledProcessError) as exc:
        return False, str(exc)
    probe = [bwrap, "--unshare-all", "--unshare-user", "--disable-userns", "--as-pid-1"]
    probe += ["--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_UID), "--cap-drop", "ALL"]
    probe += ["--proc", "/proc", "--dev", "/dev", *root_binds(layout, {})]
    probe += ["--seccomp", str(filter_fd), "--", layout.inside(python), "-I", "-c", "pass"]
    status_r, status_w = os.pipe()
    spec = {"procs": [], "rlimits": {}, "user": user, "status_fd": status_w}
    launcher = [sys.executable, "-I", "-S", "-c", LAUNCHER, json.dumps(spec), *probe]
    try:
        proc = subprocess.run(
            launcher, capture_output=True, text=True, timeout=60, pass_fds=(status_w, filter_fd)
        )
    finally:
        os.close(status_w)
        os.close(filter_fd)
    with os.fdopen(status_r, "rb") as status:
        failure = status.read().decode(errors="replace")
    who = f"host uid {user[0]}" if user else "this user"
    if failure:
        return False, (
            f"cannot drop root to {who} before starting bwrap ({failure}); give the grader "
            "CAP_SETUID/CAP_SETGID or run it as a non-root user"
        )
    if proc.returncode != 0:
        return False, (
            f"bwrap cannot run the grader environment's Python as {who} "
            f"({proc.stderr.strip()[-500:]}): enable unprivileged user namespaces (sysctl "
            "user.max_user_namespaces / kernel.unprivileged_userns_clone=1), and make "
            f"{python} and the folders above it readable by that uid"
        )
    return True, ""


@functools.cache
def _limits_via() -> str:
    cgroup = Cgroup.create(64, 16, 1.0)
    if cgroup is None:
        return "rlimits"
    cgroup.remove()
    return f"cgroup v{cgroup.version}"


@functools.cache
def _bwrap_version(bwrap: str) -> str | None:
    try:
        return subprocess.run([bwrap, "--version"], capture_output=True, text=True).stdout.strip()
    except OSError:
        return None
