"""One seccomp profile for both backends: Docker's default, minus io_uring and ptrace.

The profile is Docker's own default (``seccomp_docker_default.json``, vendored unmodified;
see the NOTICE beside it) with ``DENIED`` taken out of its allow rules. Docker gets it as
``security_opt=["seccomp=<json>"]`` (Debian's docker.io 20.10 would otherwise allow
io_uring); bwrap gets it compiled to a BPF program with libseccomp (``bwrap --seccomp FD``).

Compiling interprets the profile's conditions the way Docker does (``setupSeccomp`` in
moby's profiles/seccomp) for a job that holds no capabilities: a rule that ``includes``
a capability is dropped, a rule that ``excludes`` one is kept; ``arches`` and
``minKernel`` are matched against this machine. Arguments on different indexes are ANDed
in one rule; several conditions on the same index become one rule each (ORed), as runc does.
Everything else gets the default action (EPERM). Only the native architecture is in the
filter: a 32-bit or x32 system call is refused outright (Docker allows them through the same
allow list), which is stricter.
"""

from __future__ import annotations

import ctypes
import errno
import functools
import json
import os
import platform
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from sandbox.errors import SandboxUnavailable

PROFILE_FILE = Path(__file__).with_name("seccomp_docker_default.json")

#: Allowed by Docker's default profile, denied here. io_uring bypasses the system-call
#: filter for the operations it queues and has been a steady source of kernel exploits;
#: ptrace would let the job rewrite the sandbox's own init (the process that writes the
#: tar the host extracts). TensorFlow and Keras use neither.
DENIED = frozenset({"io_uring_setup", "io_uring_enter", "io_uring_register", "ptrace"})

# libseccomp's constants (seccomp.h).
SCMP_ACT_ALLOW = 0x7FFF0000
SCMP_ACT_KILL_PROCESS = 0x80000000
SCMP_FLTATR_ACT_BADARCH = 2
_NR_SCMP_ERROR = -1
ACTIONS = {
    "SCMP_ACT_ALLOW": lambda _errno: SCMP_ACT_ALLOW,
    "SCMP_ACT_ERRNO": lambda err: 0x00050000 | ((errno.EPERM if err is None else err) & 0xFFFF),
    "SCMP_ACT_KILL": lambda _errno: 0x00000000,
    "SCMP_ACT_KILL_THREAD": lambda _errno: 0x00000000,
    "SCMP_ACT_KILL_PROCESS": lambda _errno: SCMP_ACT_KILL_PROCESS,
    "SCMP_ACT_TRAP": lambda _errno: 0x00030000,
}
COMPARE = {
    "SCMP_CMP_NE": 1,
    "SCMP_CMP_LT": 2,
    "SCMP_CMP_LE": 3,
    "SCMP_CMP_EQ": 4,
    "SCMP_CMP_GE": 5,
    "SCMP_CMP_GT": 6,
    "SCMP_CMP_MASKED_EQ": 7,
}
#: ``platform.machine()`` -> the architecture names Docker's profile uses.
DOCKER_ARCH = {"x86_64": "amd64", "aarch64": "arm64", "ppc64le": "ppc64le", "s390x": "s390x"}


class _ArgCmp(ctypes.Structure):
    """struct scmp_arg_cmp."""

    _fields_ = [
        ("arg", ctypes.c_uint),
        ("op", ctypes.c_int),
        ("datum_a", ctypes.c_uint64),
        ("datum_b", ctypes.c_uint64),
    ]


@functools.cache
def profile() -> dict[str, Any]:
    """Docker's default profile with ``DENIED`` removed from every rule that allows."""
    data = json.loads(PROFILE_FILE.read_text())
    rules = []
    for rule in data["syscalls"]:
        if rule["action"] == "SCMP_ACT_ALLOW":
            rule = {**rule, "names": [n for n in rule["names"] if n not in DENIED]}
            if not rule["names"]:
                continue
        rules.append(rule)
    return {**data, "syscalls": rules}


def docker_security_opt() -> str:
    """The ``security_opt`` entry that gives a container this profile."""
    return "seccomp=" + json.dumps(profile(), separators=(",", ":"))


def applicable_rules(
    data: dict[str, Any],
    *,
    caps: Iterable[str] = (),
    arch: str | None = None,
    kernel: tuple[int, int] | None = None,
) -> list[dict[str, Any]]:
    """The rules of ``data`` that apply to a job holding ``caps`` on ``arch`` and ``kernel``
    (default: none, this machine), by Docker's rules for ``includes`` and ``excludes``."""
    caps = set(caps)
    arch = arch or DOCKER_ARCH.get(platform.machine(), platform.machine())
    kernel = kernel or _kernel_version()
    kept = []
    for rule in data["syscalls"]:
        inc, exc = rule.get("includes") or {}, rule.get("excludes") or {}
        if arch in exc.get("arches", ()) or caps & set(exc.get("caps", ())):
            continue
        if exc.get("minKernel") and kernel >= _version(exc["minKernel"]):
            continue
        if inc.get("arches") and arch not in inc["arches"]:
            continue
        if not set(inc.get("caps", ())) <= caps:
            continue
        if inc.get("minKernel") and kernel < _version(inc["minKernel"]):
            continue
        kept.append(rule)
    return kept


def compile_bpf(data: dict[str, Any] | None = None, caps: Iterable[str] = ()) -> bytes:
    """``data`` (default: ``profile()``) as a BPF program for this machine's architecture,
    for a job holding ``caps`` (default: none): what ``bwrap --seccomp FD`` reads."""
    data = profile() if data is None else data
    lib = _libseccomp()
    default = _action(data["defaultAction"], data.get("defaultErrnoRet"))
    ctx = lib.seccomp_init(default)
    if not ctx:
        raise SandboxUnavailable("libseccomp could not create a filter (seccomp_init)")
    try:
        # A system call of another ABI (i386, x32) is not checked against the rules: kill it.
        _check(lib.seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS))
        for rule in applicable_rules(data, caps=caps):
            action = _action(rule["action"], rule.get("errnoRet"))
            if action == default:
                continue  # libseccomp refuses a rule that repeats the default
            for name in rule["names"]:
                number = lib.seccomp_syscall_resolve_name(name.encode())
                if number == _NR_SCMP_ERROR:
                    continue  # not a system call on this architecture (Docker skips it too)
                for args in _condition_sets(rule.get("args") or []):
                    array = (_ArgCmp * len(args))(*args)
                    _check(lib.seccomp_rule_add_array(ctx, action, number, len(args), array))
        fd = os.memfd_create("assay-seccomp")
        try:
            _check(lib.seccomp_export_bpf(ctx, fd))
            os.lseek(fd, 0, os.SEEK_SET)
            return _read_all(fd)
        finally:
            os.close(fd)
    finally:
        lib.seccomp_release(ctx)


@functools.cache
def default_program() -> bytes:
    """``compile_bpf()`` of the shared profile, compiled once per process."""
    return compile_bpf()


def program_fd() -> int:
    """A new descriptor (close-on-exec: pass it with ``pass_fds``) at offset 0 holding
    ``default_program()``."""
    fd = os.memfd_create("assay-seccomp")
    os.write(fd, default_program())
    os.lseek(fd, 0, os.SEEK_SET)
    return fd


def _condition_sets(args: list[dict[str, Any]]) -> list[list[_ArgCmp]]:
    """runc's reading: ANDed in one rule, unless two conditions share an index (then ORed)."""
    conditions = [
        _ArgCmp(a["index"], COMPARE[a["op"]], a.get("value", 0), a.get("valueTwo", 0)) for a in args
    ]
    indexes = [a["index"] for a in args]
    if len(set(indexes)) < len(indexes):
        return [[c] for c in conditions]
    return [conditions]


def _action(name: str, errno_ret: int | None) -> int:
    if name not in ACTIONS:
        raise ValueError(f"seccomp action {name!r} is not supported")
    return ACTIONS[name](errno_ret)


def _version(text: str) -> tuple[int, int]:
    major, minor = (text.split(".") + ["0"])[:2]
    return int(major), int(minor)


def _kernel_version() -> tuple[int, int]:
    release = os.uname().release
    numbers = release.split("-")[0].split(".")
    return int(numbers[0]), int("".join(c for c in numbers[1] if c.isdigit()) or 0)


def _check(rc: int) -> None:
    if rc < 0:
        raise SandboxUnavailable(f"libseccomp failed: {os.strerror(-rc)}")


def _read_all(fd: int) -> bytes:
    chunks = []
    while chunk := os.read(fd, 65536):
        chunks.append(chunk)
    return b"".join(chunks)


@functools.cache
def _libseccomp() -> ctypes.CDLL:
    try:
        lib = ctypes.CDLL("libseccomp.so.2", use_errno=True)
    except OSError as exc:
        raise SandboxUnavailable(
            "libseccomp is missing, so no seccomp filter can be built for bwrap "
            "(Debian: apt-get install libseccomp2)"
        ) from exc
    lib.seccomp_init.restype = ctypes.c_void_p
    lib.seccomp_init.argtypes = [ctypes.c_uint32]
    lib.seccomp_release.argtypes = [ctypes.c_void_p]
    lib.seccomp_attr_set.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_uint32]
    lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
    lib.seccomp_rule_add_array.argtypes = [
        ctypes.c_void_p,
        ctypes.c_uint32,
        ctypes.c_int,
        ctypes.c_uint,
        ctypes.POINTER(_ArgCmp),
    ]
    lib.seccomp_export_bpf.argtypes = [ctypes.c_void_p, ctypes.c_int]
    return lib
