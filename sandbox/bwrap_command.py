"""The bwrap command line: namespaces, the read-only root, the tmpfs mounts, and where an
interpreter lives (its venv bound at ``VENV_MOUNT``, the host's other site folders hidden).

Pure construction of arguments (``python_layout`` asks the interpreter once); running them is
``sandbox.bwrap_backend``'s.
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from sandbox.base import Job

SANDBOX_UID = 65534
MB = 1024 * 1024
#: Where the grader environment is bound inside (the same path as in the grader image).
VENV_MOUNT = "/opt/venv"
#: /proc entries a job must not write even if a mapping went wrong (bwrap covers them only
#: when it runs privileged).
PROC_READ_ONLY = ("/proc/sys", "/proc/sysrq-trigger", "/proc/irq", "/proc/bus", "/proc/fs")
#: The only host files from /etc the sandbox sees (for the dynamic loader).
ETC_FILES = ("/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/localtime")


def bwrap_argv(
    job: Job,
    bwrap: str,
    python: PythonLayout,
    etc_fds: dict[str, int],
    command: list[str],
    seccomp_fd: int | None = None,
) -> list[str]:
    """The bwrap command line for ``job`` (everything but the limits set by the launcher).

    ``etc_fds`` maps files such as /etc/passwd to readable descriptors of their content;
    ``seccomp_fd`` holds the compiled filter (every real run passes one).
    """
    disk = str(job.limits.disk_mb * MB)
    argv = [bwrap, "--unshare-all", "--unshare-user", "--disable-userns"]
    argv += ["--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_UID), "--hostname", "sandbox"]
    # --as-pid-1: bwrap_init is pid 1 itself, so the job can neither kill it nor (it is not
    # dumpable, and seccomp denies ptrace) read or write its memory.
    argv += ["--die-with-parent", "--new-session", "--cap-drop", "ALL", "--as-pid-1"]
    argv += ["--proc", "/proc"]
    for path in PROC_READ_ONLY:
        argv += ["--ro-bind-try", path, path]
    argv += ["--dev", "/dev"]
    for path in ("/tmp", "/out", "/dev/shm"):
        argv += ["--size", disk, "--perms", "1777", "--tmpfs", path]
    # After the tmpfs mounts, so a Python installed under /tmp (a CI clone) stays visible.
    argv += root_binds(python, etc_fds)
    argv += ["--ro-bind", str(Path(job.input_dir).resolve()), "/job"]
    # bwrap's root and /dev are tmpfs without a size: make both read-only.
    argv += ["--remount-ro", "/dev", "--remount-ro", "/", "--chdir", "/tmp", "--clearenv"]
    env = {**job.environment(), "PATH": f"{Path(command[0]).parent}:/usr/local/bin:/usr/bin:/bin"}
    for key, value in env.items():
        argv += ["--setenv", key, value]
    if seccomp_fd is not None:
        argv += ["--seccomp", str(seccomp_fd)]
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


def root_binds(python: PythonLayout, etc_fds: dict[str, int]) -> list[str]:
    argv = _system_binds()
    for path in ETC_FILES:
        if os.path.exists(path):
            argv += ["--ro-bind", path, path]
    for path, fd in etc_fds.items():
        argv += ["--ro-bind-data", str(fd), path]
    for path in python.binds:
        if not _inside(path, "/usr"):  # bound above
            argv += ["--ro-bind", path, path]
    if python.venv:
        argv += ["--ro-bind", python.venv, VENV_MOUNT]
    for path in python.hidden:
        argv += ["--size", "4096", "--tmpfs", path, "--remount-ro", path]
    return argv


@dataclass(frozen=True)
class PythonLayout:
    """Where an interpreter lives: folders to bind read-only at their own path, folders in
    them to hide, and the venv (if any), bound at ``VENV_MOUNT``."""

    binds: tuple[str, ...]
    hidden: tuple[str, ...] = ()
    venv: str | None = None

    def inside(self, python: str) -> str:
        """The path of ``python`` inside the sandbox."""
        if self.venv:
            for path in (os.path.abspath(python), os.path.realpath(python)):
                if _inside(path, self.venv):
                    return VENV_MOUNT + path[len(self.venv.rstrip("/")) :]
        return python


LAYOUT_CODE = """\
import json, site, sys, sysconfig
bases = [sys.base_prefix, sys.base_exec_prefix]
base = sysconfig.get_paths(vars={"base": bases[0], "platbase": bases[1]})
print(json.dumps({
    "prefix": sys.prefix,
    "prefixes": [sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix],
    "base_site": [base["purelib"], base["platlib"], *site.getsitepackages(bases)],
    "path": sys.path,
}))
"""


@functools.cache
def python_layout(python: str) -> PythonLayout:
    """Bind the interpreter's venv (at ``VENV_MOUNT``) and base installation; hide the base
    installation's site folders (Debian's dist-packages too) unless the venv uses them:
    they may hold anything the host installed, the dataset packages included."""
    info = json.loads(subprocess.check_output([python, "-I", "-c", LAYOUT_CODE], text=True))
    venv = None
    base_prefixes = {os.path.realpath(info["prefixes"][i]) for i in (1, 3)}
    if os.path.realpath(info["prefix"]) not in base_prefixes:
        venv = os.path.realpath(info["prefix"])
    paths = set(info["prefixes"]) | {os.path.realpath(p) for p in info["prefixes"]}
    paths.add(os.path.dirname(os.path.realpath(python)))
    if venv:
        paths = {p for p in paths if not _inside(os.path.realpath(p), venv)}
    ordered = sorted(paths, key=len)
    binds = [p for i, p in enumerate(ordered) if not any(_inside(p, q) for q in ordered[:i])]
    on_path = {os.path.realpath(p) for p in info["path"]}
    hidden = {
        p
        for p in info["base_site"]
        if os.path.isdir(p) and os.path.realpath(p) not in on_path and not os.path.islink(p)
    }
    return PythonLayout(tuple(binds), tuple(sorted(hidden)), venv)


def _inside(path: str, parent: str) -> bool:
    return path == parent or path.startswith(parent.rstrip("/") + "/")
