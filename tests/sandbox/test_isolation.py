"""Both backends against hostile and ordinary jobs (needs Docker and bubblewrap)."""

from __future__ import annotations

import resource
import select
import socket
import threading
import time
from pathlib import Path

TIMEOUT_SLACK = 10  # seconds a killed job may take beyond its wall limit to be reported


def test_exit_code_stdout_and_stderr(sandbox, make_job):
    job = make_job(
        """
        import sys
        print("hello from the sandbox")
        print("to stderr", file=sys.stderr)
        sys.exit(3)
        """
    )
    result = sandbox.run(job)
    assert result.exit_code == 3
    assert result.stdout == "hello from the sandbox\n"
    assert result.stderr == "to stderr\n"
    assert result.backend == sandbox.name
    assert not (result.timed_out or result.oom_killed or result.stdout_truncated)


def test_environment_and_working_directory(sandbox, make_job):
    job = make_job(
        """
        import os
        print(os.getcwd(), os.environ["HOME"], os.environ["PYTHONUNBUFFERED"],
              os.environ["PYTHONDONTWRITEBYTECODE"], os.environ["EXTRA"])
        """,
        env={"EXTRA": "yes", "HOME": "/root"},
    )
    result = sandbox.run(job)
    assert result.stdout.split() == ["/tmp", "/tmp", "1", "1", "yes"]


def test_stdout_lines_stream_while_the_job_runs(sandbox, make_job):
    arrivals = []
    job = make_job(
        """
        import time
        print("started")
        time.sleep(3)
        print("finished")
        """,
        on_stdout_line=lambda line: arrivals.append((line, time.monotonic())),
    )
    result = sandbox.run(job)
    returned = time.monotonic()
    assert result.exit_code == 0
    assert [line for line, _ in arrivals] == ["started", "finished"]
    assert returned - arrivals[0][1] > 2  # "started" came before the job ended


def test_no_network(sandbox, make_job):
    """The job cannot reach the host's network, probed only on 127.0.0.1.

    A TCP listener and a UDP "resolver" on the host's 127.0.0.1 stand for the outside world:
    inside a sandbox 127.0.0.1 is the sandbox's own loopback, so both attempts are refused;
    with the host's network they would reach the probes. Nothing is aimed at any other
    address and the system resolver is not used (its servers are outside addresses), so a
    broken sandbox sends nothing off this machine.
    """
    tcp, udp = socket.socket(), socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    tcp.bind(("127.0.0.1", 0))
    tcp.listen()
    udp.bind(("127.0.0.1", 0))
    job = make_job(
        f"""
        import socket, struct
        try:
            socket.create_connection(("127.0.0.1", {tcp.getsockname()[1]}), timeout=3)
            print("tcp connected")
        except OSError as exc:
            print("tcp", type(exc).__name__)
        query = struct.pack(">HHHHHH", 1, 0x100, 1, 0, 0, 0) + b"\\5probe\\7invalid\\0\\0\\1\\0\\1"
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.settimeout(3)
            sock.connect(("127.0.0.1", {udp.getsockname()[1]}))
            try:
                sock.send(query)
                sock.recv(512)
                print("udp answered")
            except OSError as exc:
                print("udp", type(exc).__name__)
        """
    )
    try:
        result = sandbox.run(job)
        # A pending connection or a datagram makes a probe readable.
        reached = select.select([tcp, udp], [], [], 0)[0]
    finally:
        tcp.close()
        udp.close()
    assert result.stdout.split("\n")[:2] == [
        "tcp ConnectionRefusedError",
        "udp ConnectionRefusedError",
    ]
    assert reached == []


def test_read_only_everywhere_but_out_and_tmp(sandbox, make_job):
    job = make_job(
        """
        for path in ("/usr/evil", "/job/evil", "/evil", "/etc/evil", "/out/ok.txt", "/tmp/ok"):
            try:
                with open(path, "w") as f:
                    f.write("written")
                print("wrote", path)
            except OSError:
                print("denied", path)
        """
    )
    result = sandbox.run(job)
    assert result.stdout.split("\n")[:-1] == [
        "denied /usr/evil",
        "denied /job/evil",
        "denied /evil",
        "denied /etc/evil",
        "wrote /out/ok.txt",
        "wrote /tmp/ok",
    ]
    assert (job.output_dir / "ok.txt").read_text() == "written"
    assert not (job.input_dir / "evil").exists()


def test_the_repository_and_host_packages_are_hidden(sandbox, make_job):
    repo = Path(__file__).resolve().parents[2]
    job = make_job(
        f"""
        import os, sys, sysconfig
        print(sorted(os.listdir({str(repo)!r})) if os.path.exists({str(repo)!r}) else "absent")
        base_site = sysconfig.get_paths(vars={{"base": sys.base_prefix}})["purelib"]
        print(base_site in sys.path or not os.listdir(base_site) if os.path.isdir(base_site) else True)
        """
    )
    repo_view, base_site_clean = sandbox.run(job).stdout.split("\n")[:2]
    assert repo_view in ("absent", "['.venv']")  # bwrap binds only the venv
    assert base_site_clean == "True"


def test_runs_as_non_root_without_capabilities(sandbox, make_job):
    job = make_job(
        """
        import os
        status = dict(line.split(":\\t") for line in open("/proc/self/status").read().splitlines() if ":\\t" in line)
        print(os.getuid(), os.geteuid(), os.getgid(), int(status["CapEff"], 16), int(status["NoNewPrivs"]))
        """
    )
    uid, euid, gid, caps, _no_new_privs = map(int, sandbox.run(job).stdout.split())
    assert uid != 0 and euid != 0 and gid != 0
    assert caps == 0


def test_wall_limit_kills_an_endless_loop(sandbox, make_job):
    job = make_job("while True:\n    pass\n", wall_seconds=3)
    started = time.monotonic()
    result = sandbox.run(job)
    assert result.timed_out
    assert result.exit_code is None
    assert time.monotonic() - started < 3 + TIMEOUT_SLACK


def test_memory_hog_is_oom_killed(sandbox, make_job):
    job = make_job(
        """
        blocks = []
        for _ in range(32):  # 2 GiB, touched page by page
            blocks.append(b"x" * (64 << 20))
        print("survived")
        """,
        memory_mb=256,
    )
    result = sandbox.run(job)
    assert result.oom_killed
    assert "survived" not in result.stdout
    if sandbox.describe().get("limits_via") != "rlimits":  # rlimits: a MemoryError instead
        assert result.exit_code == 137


def test_fork_bomb_is_contained(sandbox, make_job):
    job = make_job(
        """
        import os
        reported = False
        while True:
            try:
                os.fork()
            except OSError:
                if not reported:
                    print("fork refused", flush=True)
                    reported = True
        """,
        processes=64,
        wall_seconds=8,
    )
    started = time.monotonic()
    result = sandbox.run(job)
    assert time.monotonic() - started < 8 + TIMEOUT_SLACK
    # Swallowing the errors does not help: sitting at the cap ends the job (sandbox.pidcap).
    assert result.pids_capped and not result.timed_out
    assert "fork refused" in result.stdout


def test_stdout_past_the_capture_limit_is_truncated(sandbox, make_job):
    lines = []
    job = make_job(
        """
        import sys
        print("progress 1")
        chunk = "x" * (1 << 20)
        for _ in range(32):
            sys.stdout.write(chunk)
        print("done", file=sys.stderr)
        """,
        output_bytes=50_000,
        wall_seconds=300,
        on_stdout_line=lines.append,
    )
    result = sandbox.run(job)
    assert result.exit_code == 0
    assert result.stdout_truncated and not result.stderr_truncated
    assert not result.output_flooded
    assert len(result.stdout) == 50_000
    assert lines == ["progress 1"]
    assert result.stderr == "done\n"


def test_gigabytes_of_stdout_kill_the_job_at_the_flood_limit(sandbox, make_job):
    job = make_job(
        """
        import sys
        print("progress 1")
        chunk = "x" * (1 << 20)
        for _ in range(4096):
            sys.stdout.write(chunk)
        print("never reached", file=sys.stderr)
        """,
        output_bytes=50_000,
        flood_bytes=64 << 20,
        wall_seconds=300,
    )
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result = sandbox.run(job)
    rss_growth_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before) / 1024
    assert result.output_flooded and result.stdout_truncated
    assert result.exit_code is None and not result.ok
    assert "never reached" not in result.stderr
    assert result.wall_seconds < 60
    assert rss_growth_mb < 100


def test_filling_out_stops_at_the_disk_limit(sandbox, make_job):
    job = make_job(
        """
        written = 0
        try:
            with open("/out/big", "wb") as f:
                while True:
                    f.write(b"x" * (1 << 20))
                    f.flush()
                    written += 1
        except OSError as exc:
            print("stopped", written, exc.errno)
        """,
        disk_mb=16,
    )
    result = sandbox.run(job)
    written = int(result.stdout.split()[1])
    assert written <= 16
    assert result.output_exceeded
    assert (job.output_dir / "big").stat().st_size <= 16 << 20


def test_filling_tmp_stops_at_the_disk_limit(sandbox, make_job):
    job = make_job(
        """
        written = 0
        try:
            with open("/tmp/big", "wb") as f:
                while True:
                    f.write(b"x" * (1 << 20))
                    f.flush()
                    written += 1
        except OSError as exc:
            print("stopped", written, exc.errno)
        """,
        disk_mb=16,
    )
    result = sandbox.run(job)
    assert result.stdout.startswith("stopped")
    assert int(result.stdout.split()[1]) <= 16
    assert not result.output_exceeded


def test_killing_its_own_process_group_returns_a_result(sandbox, make_job):
    job = make_job("import os, signal\nprint('bye', flush=True)\nos.killpg(0, signal.SIGKILL)\n")
    started = time.monotonic()
    result = sandbox.run(job)
    assert time.monotonic() - started < 15
    assert result.exit_code == 137
    assert result.stdout == "bye\n"
    assert not result.timed_out


def test_cancel_kills_the_job(sandbox, make_job):
    cancel = threading.Event()
    job = make_job("import time\nwhile True:\n    time.sleep(0.1)\n", cancel=cancel)
    timer = threading.Timer(1.0, cancel.set)
    timer.start()
    started = time.monotonic()
    result = sandbox.run(job)
    assert result.cancelled and not result.timed_out
    assert result.exit_code is None
    assert time.monotonic() - started < 1 + TIMEOUT_SLACK


def test_left_running_children_do_not_hold_up_the_result(sandbox, make_job):
    job = make_job(
        """
        import subprocess, sys
        subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])
        print("parent exits")
        """
    )
    started = time.monotonic()
    result = sandbox.run(job)
    assert result.exit_code == 0
    assert time.monotonic() - started < 15


def test_outputs_nested_folders_and_skips_links(sandbox, make_job):
    job = make_job(
        """
        import os
        os.makedirs("/out/model/assets")
        open("/out/model/assets/vocab.txt", "w").write("a b c")
        os.symlink("/etc/passwd", "/out/link")
        """
    )
    result = sandbox.run(job)
    assert result.exit_code == 0
    assert (job.output_dir / "model" / "assets" / "vocab.txt").read_text() == "a b c"
    assert not (job.output_dir / "link").exists()


def test_peak_memory_is_reported_or_none(sandbox, make_job):
    job = make_job("data = b'x' * (100 << 20)\nprint(len(data))\n")
    result = sandbox.run(job)
    assert result.exit_code == 0
    if result.peak_memory_mb is not None:
        assert result.peak_memory_mb >= 90


def test_killing_every_process_it_can_returns_a_result(sandbox, make_job):
    job = make_job(
        """
        import os, signal
        open("/out/before.txt", "w").write("kept")
        os.kill(-1, signal.SIGKILL)  # ProcessLookupError when nothing else is in reach
        """
    )
    started = time.monotonic()
    result = sandbox.run(job)
    assert time.monotonic() - started < 15
    assert result.exit_code is not None and not result.timed_out
    if sandbox.name == "docker":  # pid 1 runs as another uid: the copy-out still works
        assert (job.output_dir / "before.txt").read_text() == "kept"


def test_a_job_after_hostile_ones_runs_normally(sandbox, make_job):
    job = make_job("import numpy\nprint(int(numpy.arange(10).sum()))\n")
    result = sandbox.run(job)
    assert result.ok
    assert result.stdout == "45\n"
