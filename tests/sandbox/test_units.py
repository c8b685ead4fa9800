"""Unit tests of the sandbox layer that need neither Docker nor bubblewrap."""

from __future__ import annotations

import io
import json
import os
import tarfile
import threading
from pathlib import Path

import pytest

from sandbox import bwrap_backend
from sandbox.archive import MAX_MEMBERS, ChunkReader, safe_extract
from sandbox.base import Job, Limits, wait_for
from sandbox.bwrap_command import PythonLayout, bwrap_argv, python_layout
from sandbox.docker_backend import DockerSandbox, container_options
from sandbox.errors import SandboxUnavailable
from sandbox.registry import BACKENDS, get_sandbox
from sandbox.streams import OutputCapture


def make_job(tmp_path: Path, **limits) -> Job:
    return Job(
        argv=["/job/harness.py", "train", "/job/job.json"],
        input_dir=tmp_path,
        output_dir=tmp_path / "out",
        limits=Limits(**limits),
        env={"SEED": "1"},
    )


# --- Limits, registry ---


@pytest.mark.parametrize("field", ["wall_seconds", "memory_mb", "processes", "disk_mb"])
def test_limits_must_be_positive(field):
    with pytest.raises(ValueError, match=field):
        Limits(**{field: 0})


def test_registry_names_both_backends():
    assert set(BACKENDS) == {"docker", "bwrap"}
    assert BACKENDS["docker"] is DockerSandbox


def test_unknown_backend_is_refused():
    with pytest.raises(SandboxUnavailable, match="choose one of: bwrap, docker"):
        get_sandbox("chroot")


def test_base_environment_wins_over_job_env(tmp_path):
    job = make_job(tmp_path)
    job.env = {"HOME": "/root", "SEED": "1"}
    assert job.environment()["HOME"] == "/tmp"
    assert job.environment()["SEED"] == "1"


def test_wait_for_reports_done_timeout_and_cancel():
    import time

    assert wait_for(lambda t: True, time.monotonic() + 5, None) == "done"
    assert wait_for(lambda t: False, time.monotonic() + 0.2, None) == "timeout"
    cancel = threading.Event()
    cancel.set()
    assert wait_for(lambda t: False, time.monotonic() + 5, cancel) == "cancelled"


# --- docker run options ---


def test_container_options_lock_the_container_down(tmp_path):
    job = make_job(tmp_path, memory_mb=512, cpus=1.5, processes=64, disk_mb=32)
    options = container_options(job, "sha256:abc")
    assert options["image"] == "sha256:abc"
    assert options["network_mode"] == "none"
    assert options["read_only"] is True
    assert options["cap_drop"] == ["ALL"]
    no_new_privileges, profile = options["security_opt"]
    assert no_new_privileges == "no-new-privileges"
    allowed = {
        name
        for rule in json.loads(profile.removeprefix("seccomp="))["syscalls"]
        if rule["action"] == "SCMP_ACT_ALLOW"
        for name in rule["names"]
    }
    assert "read" in allowed and not allowed & {"io_uring_setup", "ptrace"}
    assert options["pids_limit"] == 64
    assert options["mem_limit"] == options["memswap_limit"] == "512m"
    assert options["nano_cpus"] == 1_500_000_000
    assert options["user"] != "0" and not options["user"].startswith("0:")
    assert "size=32m" in options["tmpfs"]["/tmp"] and "size=32m" in options["tmpfs"]["/out"]
    assert options["volumes"] == {str(tmp_path.resolve()): {"bind": "/job", "mode": "ro"}}
    assert options["environment"]["HOME"] == "/tmp"
    assert "device_requests" not in options


def test_container_options_request_gpus(tmp_path):
    options = container_options(make_job(tmp_path, gpus=2), "img")
    [request] = options["device_requests"]
    assert request["Count"] == 2
    assert request["Capabilities"] == [["gpu"]]


# --- bwrap command line ---


def bwrap_command(tmp_path: Path, **limits) -> list[str]:
    job = make_job(tmp_path, **limits)
    python = PythonLayout(
        binds=("/opt/venv", "/opt/python3.11"), hidden=("/opt/python3.11/lib/site-packages",)
    )
    etc = {"/etc/passwd": 7, "/etc/group": 8}
    return bwrap_argv(job, "bwrap", python, etc, ["/opt/venv/bin/python", "x"])


def pairs(argv: list[str], flag: str) -> list[tuple[str, str]]:
    return [(argv[i + 1], argv[i + 2]) for i, arg in enumerate(argv) if arg == flag]


def test_bwrap_isolates_everything(tmp_path):
    argv = bwrap_command(tmp_path)
    for flag in ("--unshare-all", "--unshare-user", "--disable-userns", "--die-with-parent"):
        assert flag in argv
    assert argv[argv.index("--cap-drop") + 1] == "ALL"
    assert argv[argv.index("--uid") + 1] == "65534"
    assert "--clearenv" in argv and "--new-session" in argv
    assert argv[-3:] == ["--", "/opt/venv/bin/python", "x"]


def test_bwrap_mounts(tmp_path):
    argv = bwrap_command(tmp_path, disk_mb=16)
    ro_binds = dict((dest, src) for src, dest in pairs(argv, "--ro-bind"))
    assert ro_binds["/job"] == str(tmp_path.resolve())
    assert ro_binds["/usr"] == "/usr"
    assert ro_binds["/opt/venv"] == "/opt/venv"
    assert "--bind" not in argv  # nothing of the host is writable
    assert "/etc" not in ro_binds and "/etc/passwd" not in ro_binds
    assert pairs(argv, "--ro-bind-data") == [("7", "/etc/passwd"), ("8", "/etc/group")]
    tmpfs = [(argv[i - 1], argv[i + 1]) for i, arg in enumerate(argv) if arg == "--tmpfs"]
    # The sized tmpfs mounts come first: a Python installed under /tmp (a CI clone) is bound
    # after them, so it is not hidden by the sandbox's own /tmp.
    assert tmpfs == [
        ("1777", "/tmp"),
        ("1777", "/out"),
        ("1777", "/dev/shm"),
        ("4096", "/opt/python3.11/lib/site-packages"),  # hidden, read-only below
    ]
    assert pairs(argv, "--size")[1] == (str(16 * 1024 * 1024), "--perms")
    remounted = [argv[i + 1] for i, arg in enumerate(argv) if arg == "--remount-ro"]
    assert remounted == ["/opt/python3.11/lib/site-packages", "/dev", "/"]


def test_bwrap_environment(tmp_path):
    env = dict(pairs(bwrap_command(tmp_path), "--setenv"))
    assert env["HOME"] == "/tmp"
    assert env["PYTHONUNBUFFERED"] == "1" and env["PYTHONDONTWRITEBYTECODE"] == "1"
    assert env["SEED"] == "1"
    assert env["PATH"].startswith("/opt/venv/bin:")


def test_rlimits_fall_back_when_there_is_no_cgroup():
    limits = Limits(processes=64, memory_mb=256, disk_mb=8)
    assert bwrap_backend.rlimits(limits, with_cgroup=True) == {
        "RLIMIT_CORE": 0,
        "RLIMIT_FSIZE": 8 << 20,
    }
    fallback = bwrap_backend.rlimits(limits, with_cgroup=False)
    assert fallback["RLIMIT_NPROC"] == 64
    assert fallback["RLIMIT_DATA"] == 256 << 20


def test_python_layout_covers_the_interpreter():
    import sys

    layout = python_layout(sys.executable)
    assert layout.venv == os.path.realpath(sys.prefix)  # bound at /opt/venv
    assert layout.inside(sys.executable).startswith("/opt/venv/bin/")
    assert any(sys.base_prefix.startswith(path) for path in layout.binds)
    assert not any(a != b and b.startswith(a + "/") for a in layout.binds for b in layout.binds)
    assert not any(path in sys.path for path in layout.hidden)


# --- output capture ---


def test_capture_keeps_the_first_bytes_and_streams_lines():
    lines = []
    capture = OutputCapture(limit=12, on_line=lines.append)
    for chunk in (b"one\ntw", b"o\r\nthree\nfour\n"):
        capture.feed(chunk)
    capture.close()
    assert capture.text == "one\ntwo\r\nthr"
    assert capture.truncated and capture.total_bytes == 20
    assert lines == ["one", "two"]  # "thr" was cut short: not delivered


def test_capture_delivers_an_unterminated_last_line():
    lines = []
    capture = OutputCapture(limit=100, on_line=lines.append)
    capture.feed(b"a\nb")
    capture.close()
    assert lines == ["a", "b"] and not capture.truncated


def test_capture_survives_a_failing_callback():
    capture = OutputCapture(limit=100, on_line=lambda line: 1 / 0)
    capture.feed(b"x\ny\n")
    assert capture.text == "x\ny\n"


def test_capture_replaces_invalid_utf8():
    capture = OutputCapture(limit=100)
    capture.feed(b"ok \xff\n")
    assert capture.text == "ok \ufffd\n"


# --- tar extraction ---


def tar_bytes(*members: tuple[tarfile.TarInfo, bytes]) -> io.BytesIO:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for info, data in members:
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if info.isfile() else None)
    buffer.seek(0)
    return buffer


def member(name: str, kind=tarfile.REGTYPE, link: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, link
    return info


def test_extract_writes_files_and_folders(tmp_path):
    stream = tar_bytes(
        (member(".", tarfile.DIRTYPE), b""),
        (member("./model", tarfile.DIRTYPE), b""),
        (member("./model/weights.h5"), b"w" * 100),
    )
    result = safe_extract(stream, tmp_path, capacity=1 << 20)
    assert (tmp_path / "model" / "weights.h5").read_bytes() == b"w" * 100
    assert result.files == 1 and not result.exceeded and not result.full


@pytest.mark.parametrize(
    "bad",
    [
        member("../escape"),
        member("/etc/escape"),
        member("./a/../../escape"),
        member("./link", tarfile.SYMTYPE, "/etc/passwd"),
        member("./hard", tarfile.LNKTYPE, "/etc/passwd"),
        member("./fifo", tarfile.FIFOTYPE),
        member("./dev", tarfile.CHRTYPE),
    ],
    ids=lambda info: info.name,
)
def test_extract_skips_what_could_leave_the_folder(tmp_path, bad):
    dest = tmp_path / "dest"
    dest.mkdir()
    result = safe_extract(tar_bytes((bad, b"")), dest, capacity=1 << 20)
    assert result.skipped == [bad.name]
    assert list(dest.iterdir()) == []
    assert not (tmp_path / "escape").exists()


def test_extract_stops_at_the_capacity(tmp_path):
    stream = tar_bytes((member("a"), b"x" * 8192), (member("b"), b"x" * 8192))
    result = safe_extract(stream, tmp_path, capacity=10_000)
    assert result.exceeded and result.files == 1


def test_extract_flags_a_full_out(tmp_path):
    result = safe_extract(tar_bytes((member("a"), b"x" * 8192)), tmp_path, capacity=8192)
    assert result.full and not result.exceeded


def test_extract_caps_the_member_count(tmp_path):
    files = [(member(f"f{i}"), b"") for i in range(MAX_MEMBERS + 5)]
    result = safe_extract(tar_bytes(*files), tmp_path, capacity=1 << 30)
    assert result.exceeded and result.files == MAX_MEMBERS


def test_extract_bounds_an_endless_stream(tmp_path):
    # A pax header claiming 5 GB, then endless bytes: tarfile would buffer it all.
    header = tarfile.TarInfo("././@PaxHeader")
    header.type, header.size = tarfile.XHDTYPE, 5 * 10**9

    def endless():
        yield header.tobuf(format=tarfile.GNU_FORMAT)
        while True:
            yield b"a" * 65536

    result = safe_extract(ChunkReader(endless()), tmp_path, capacity=4096)
    assert result.exceeded and result.error is not None


def test_extract_reports_garbage(tmp_path):
    result = safe_extract(io.BytesIO(b"not a tar archive" * 100), tmp_path, capacity=1 << 20)
    assert result.error and result.files == 0


def test_bwrap_refuses_gpu_jobs(tmp_path):
    with pytest.raises(SandboxUnavailable, match="GPU"):
        bwrap_backend.BwrapSandbox().run(make_job(tmp_path, gpus=1))


# --- harness: an early-started sandbox waits for its input ---


def test_harness_waits_until_the_go_file_exists(tmp_path):
    from sandbox.harness import wait_until_exists

    go = tmp_path / "go"
    threading.Timer(0.3, go.touch).start()
    waiter = threading.Thread(target=wait_until_exists, args=(str(go),))
    waiter.start()
    waiter.join(0.15)
    assert waiter.is_alive()  # still waiting: nothing has been handed over yet
    waiter.join(5)
    assert not waiter.is_alive() and go.exists()


def test_stop_strays_kills_what_the_harness_forked_and_nothing_else(tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import textwrap

    # A stand-in harness in its own process group: forks three sleepers, stops them.
    script = tmp_path / "h.py"
    script.write_text(
        textwrap.dedent(
            f"""
            import os, sys, time
            sys.path.insert(0, {str(Path(__file__).resolve().parents[2])!r})
            import sandbox.harness as h
            kids = []
            for _ in range(3):
                pid = os.fork()
                if pid == 0:
                    time.sleep(60)
                    os._exit(0)
                kids.append(pid)
            h.stop_strays()  # not the harness: must do nothing
            assert all(os.waitpid(k, os.WNOHANG) == (0, 0) for k in kids)
            h.HARNESS_PID = os.getpid()
            h.stop_strays()
            print(sorted(os.waitpid(k, 0)[1] for k in kids))
            """
        )
    )
    bystander = subprocess.Popen(["sleep", "30"])  # another process group: left alone
    try:
        out = subprocess.run(
            [sys.executable, str(script)],
            capture_output=True,
            text=True,
            timeout=30,
            start_new_session=True,
        )
        assert out.returncode == 0, out.stderr
        assert out.stdout.strip() == str([int(signal.SIGKILL)] * 3)  # killed, not exited
        assert bystander.poll() is None
    finally:
        os.kill(bystander.pid, signal.SIGKILL)
        bystander.wait()
