"""The bubblewrap backend: Linux namespaces without a container engine.

Each job runs under ``bwrap --unshare-all`` (new user, pid, net, ipc, uts and cgroup
namespaces; the network namespace has only a loopback device), as uid/gid 65534 inside,
with every capability dropped, no nested user namespaces, and a read-only root built
from read-only binds of ``/usr`` and of the Python installation that runs the job.
``/tmp`` and ``/out`` are size-limited tmpfs mounts; after the job, ``bwrap_init``
streams ``/out`` to the host as tar, which is extracted with caps.

Limits: memory (no swap), processes and CPU come from a cgroup made per job
(``sandbox.cgroups``), which also reports OOM kills and peak memory. Without a writable
cgroup hierarchy the backend falls back to rlimits (RLIMIT_NPROC, RLIMIT_DATA), and it
refuses to run as root in that case, because RLIMIT_NPROC does not bind root.
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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sandbox import lifecycle
from sandbox.archive import ExtractResult, safe_extract
from sandbox.base import Job, RunResult, Sandbox, wait_for
from sandbox.cgroups import Cgroup
from sandbox.errors import SandboxUnavailable
from sandbox.pidcap import PidsCapWatch
from sandbox.streams import OutputCapture, pump_fd

SANDBOX_UID = 65534
MB = 1024 * 1024
INIT_SCRIPT = Path(__file__).with_name("bwrap_init.py")
INIT_PATH = "/.assay/init.py"
#: The only host files from /etc the sandbox sees (for the dynamic loader).
ETC_FILES = ("/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/localtime")
PASSWD = "root:x:0:0:root:/root:/usr/sbin/nologin\nsandbox:x:65534:65534:sandbox:/tmp:/bin/sh\n"
GROUP = "root:x:0:\nsandbox:x:65534:\n"

# Runs on the host, between Popen and bwrap: joins the job's cgroup and sets rlimits, so
# that bwrap and everything under it inherit both (no preexec_fn, which is unsafe in a
# threaded worker).
LAUNCHER = """\
import json, os, resource, sys
spec = json.loads(sys.argv[1])
for path in spec["procs"]:
    with open(path, "w") as f:
        f.write(str(os.getpid()))
for name, value in spec["rlimits"].items():
    resource.setrlimit(getattr(resource, name), (value, value))
os.execv(sys.argv[2], sys.argv[2:])
"""


class BwrapSandbox(Sandbox):
    """Runs jobs with bubblewrap and the given (default: the current) Python interpreter."""

    name = "bwrap"

    def __init__(self, python: str | None = None, bwrap: str = "bwrap"):
        self.python = python or sys.executable
        self.bwrap = shutil.which(bwrap) or bwrap

    @classmethod
    def available(cls) -> tuple[bool, str]:
        """Needs the bwrap binary, user namespaces, and a cgroup or a non-root user."""
        return _probe(shutil.which("bwrap") or "")

    def describe(self) -> dict[str, Any]:
        """Backend, bwrap version, interpreter, and how limits are enforced."""
        return {
            "backend": self.name,
            "bwrap": _bwrap_version(self.bwrap),
            "python": self.python,
            "limits_via": _limits_via(),
            "image": None,
        }

    def run(self, job: Job) -> RunResult:
        """Run ``job`` under bwrap; see the module docstring for the isolation."""
        if job.limits.gpus:
            raise SandboxUnavailable("the bwrap backend has no GPU support; use docker")
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
        etc = {"/etc/passwd": _data_fd(PASSWD), "/etc/group": _data_fd(GROUP)}
        child_fds = (out_w, err_w, tar_w, *etc.values())
        try:
            proc = subprocess.Popen(
                self._argv(tar_w, etc),
                stdin=subprocess.DEVNULL,
                stdout=out_w,
                stderr=err_w,
                pass_fds=(tar_w, *etc.values()),
                process_group=0,
                env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
            )
        except BaseException:
            for fd in (out_r, err_r, tar_r):
                os.close(fd)
            raise
        finally:
            for fd in child_fds:
                os.close(fd)
        return proc, (out_r, err_r, tar_r)

    def _argv(self, tar_fd: int, etc: dict[str, int]) -> list[str]:
        limits = self.job.limits
        spec = {
            "procs": self.cgroup.procs_files if self.cgroup else [],
            "rlimits": rlimits(limits, with_cgroup=self.cgroup is not None),
        }
        sandbox = self.sandbox
        paths = python_layout(sandbox.python)
        inner = [sandbox.python, "-I", INIT_PATH, str(tar_fd), sandbox.python, *self.job.argv]
        bwrap = bwrap_argv(self.job, sandbox.bwrap, paths, etc, inner)
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


def bwrap_argv(
    job: Job, bwrap: str, python: PythonLayout, etc_fds: dict[str, int], command: list[str]
) -> list[str]:
    """The bwrap command line for ``job`` (everything but the limits set by the launcher).

    ``etc_fds`` maps files such as /etc/passwd to readable descriptors of their content.
    """
    disk = str(job.limits.disk_mb * MB)
    argv = [bwrap, "--unshare-all", "--unshare-user", "--disable-userns"]
    argv += ["--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_UID), "--hostname", "sandbox"]
    argv += ["--die-with-parent", "--new-session", "--cap-drop", "ALL"]
    argv += ["--proc", "/proc", "--dev", "/dev"]
    for path in ("/tmp", "/out", "/dev/shm"):
        argv += ["--size", disk, "--perms", "1777", "--tmpfs", path]
    # After the tmpfs mounts, so a Python installed under /tmp (a CI clone) stays visible.
    argv += _root_binds(python, etc_fds)
    argv += ["--ro-bind", str(Path(job.input_dir).resolve()), "/job"]
    argv += ["--ro-bind", str(INIT_SCRIPT), INIT_PATH]
    # bwrap's root and /dev are tmpfs without a size: make both read-only.
    argv += ["--remount-ro", "/dev", "--remount-ro", "/", "--chdir", "/tmp", "--clearenv"]
    env = {**job.environment(), "PATH": f"{Path(command[0]).parent}:/usr/local/bin:/usr/bin:/bin"}
    for key, value in env.items():
        argv += ["--setenv", key, value]
    return [*argv, "--", *command]


def _system_binds() -> list[str]:
    """/usr read-only, and /bin, /lib... as the links or read-only binds they are here."""
    argv = ["--ro-bind", "/usr", "/usr"]
    for name in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        top = Path("/") / name
        if top.is_symlink():
            argv += ["--symlink", os.readlink(top), str(top)]
        elif top.is_dir():
            argv += ["--ro-bind", str(top), str(top)]
    return argv


def _root_binds(python: PythonLayout, etc_fds: dict[str, int]) -> list[str]:
    argv = _system_binds()
    for path in ETC_FILES:
        if os.path.exists(path):
            argv += ["--ro-bind", path, path]
    for path, fd in etc_fds.items():
        argv += ["--ro-bind-data", str(fd), path]
    for path in python.binds:
        if not path.startswith("/usr/"):
            argv += ["--ro-bind", path, path]
    for path in python.hidden:
        argv += ["--size", "4096", "--tmpfs", path, "--remount-ro", path]
    return argv


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


@dataclass(frozen=True)
class PythonLayout:
    """Where an interpreter lives: folders to bind read-only, and folders in them to hide."""

    binds: tuple[str, ...]
    hidden: tuple[str, ...] = ()


LAYOUT_CODE = """\
import json, sys, sysconfig
base = sysconfig.get_paths(vars={"base": sys.base_prefix, "platbase": sys.base_exec_prefix})
print(json.dumps({
    "prefixes": [sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix],
    "base_site": [base["purelib"], base["platlib"]],
    "path": sys.path,
}))
"""


@functools.cache
def python_layout(python: str) -> PythonLayout:
    """Bind the interpreter's venv and base installation; hide the base installation's
    site-packages unless the venv uses them (they may hold anything the host installed)."""
    info = json.loads(subprocess.check_output([python, "-I", "-c", LAYOUT_CODE], text=True))
    paths = set(info["prefixes"]) | {os.path.realpath(p) for p in info["prefixes"]}
    paths.add(os.path.dirname(os.path.realpath(python)))
    ordered = sorted(paths, key=len)
    binds = [p for i, p in enumerate(ordered) if not any(_inside(p, q) for q in ordered[:i])]
    on_path = {os.path.realpath(p) for p in info["path"]}
    hidden = {
        p
        for p in info["base_site"]
        if os.path.isdir(p) and os.path.realpath(p) not in on_path and not p.startswith("/usr/")
    }
    return PythonLayout(tuple(binds), tuple(sorted(hidden)))


def _inside(path: str, parent: str) -> bool:
    return path == parent or path.startswith(parent.rstrip("/") + "/")


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


@functools.cache
def _probe(bwrap: str) -> tuple[bool, str]:
    if not bwrap:
        return False, "bubblewrap is not installed (Debian: apt-get install bubblewrap)"
    probe = [bwrap, "--unshare-all", "--unshare-user", "--uid", str(SANDBOX_UID)]
    probe += [*_system_binds(), "--dev", "/dev", "/usr/bin/true"]
    proc = subprocess.run(probe, capture_output=True, text=True, timeout=30)
    if proc.returncode != 0:
        return False, (
            f"bwrap cannot create namespaces here ({proc.stderr.strip()}); enable unprivileged "
            "user namespaces (sysctl kernel.unprivileged_userns_clone=1 / user.max_user_namespaces)"
        )
    if _limits_via() == "rlimits" and os.geteuid() == 0:
        return False, (
            "no writable cgroup hierarchy, and RLIMIT_NPROC does not bind root: run the worker "
            "as a non-root user, or give it a writable (delegated) cgroup"
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
