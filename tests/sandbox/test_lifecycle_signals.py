"""A killed `assay grade` leaves nothing behind: SIGKILL (the janitor), SIGTERM (the handler).

Each test runs the real CLI on an endless submission in a real sandbox, kills it while its
train sandbox runs, and looks for anything of its owner: containers, cgroups, work folders,
the janitor itself.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sandbox.docker_backend import SLACK_SECONDS
from sandbox.lifecycle import Owner
from sandbox.reaper import find_cgroups, find_folders

pytestmark = pytest.mark.slow

ASSAY = Path(sys.executable).with_name("assay")
HOSTILE = Path(__file__).resolve().parent.parent / "data" / "hostile"
TRAIN_SECONDS = 30


@pytest.fixture(
    params=[
        pytest.param("docker", marks=pytest.mark.docker),
        pytest.param("bwrap", marks=pytest.mark.bwrap),
    ]
)
def backend(request, prepared_data):
    """A backend's name, once it is known to run here (skip or, in CI, fail otherwise)."""
    sandbox = request.getfixturevalue(f"{request.param}_sandbox")
    return request.param, getattr(sandbox, "client", None)


def leftovers(owner: Owner, client) -> list[str]:
    """Everything of ``owner`` still present: containers, cgroups, work folders, janitor."""
    found = []
    if client is not None:
        label = f"assay.owner={owner.id}"
        containers = client.containers.list(all=True, filters={"label": label}, sparse=True)
        found += [f"container {c.id[:12]}" for c in containers]
    found += [f"cgroup {p}" for p in find_cgroups() if f"-{owner.tag}-" in p.name]
    found += [f"folder {p}" for p in find_folders() if f"-{owner.tag}-" in p.name]
    found += [f"janitor {pid}" for pid in janitors(owner)]
    return found


def janitors(owner: Owner) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"sandbox.janitor" in argv and owner.id.encode() in argv:
            pids.append(int(entry.name))
    return pids


def sandboxes(owner: Owner, client) -> int:
    if client is not None:
        label = f"assay.owner={owner.id}"
        return len(client.containers.list(filters={"label": label}, sparse=True))
    return len({p.name for p in find_cgroups() if f"-{owner.tag}-" in p.name})


def start_grading(name: str, client, log: Path) -> tuple[subprocess.Popen, Owner]:
    """`assay grade` of an endless submission, returned once its train sandbox runs."""
    argv = [str(ASSAY), "grade", str(HOSTILE / "infinite_loop.py"), "--challenge"]
    argv += ["lenet5-mnist", "--sandbox", name, "--train-seconds", str(TRAIN_SECONDS)]
    argv += ["--train-limit", "300", "--test-limit", "100"]
    with log.open("wb") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)
    owner = Owner.of_pid(proc.pid)
    assert owner is not None
    deadline = time.monotonic() + 60
    while sandboxes(owner, client) < 2:  # the train sandbox, and the predict one waiting
        assert proc.poll() is None, log.read_text()
        assert time.monotonic() < deadline, "its sandboxes never started: " + log.read_text()
        time.sleep(0.5)
    time.sleep(3)  # well into the train phase
    assert proc.poll() is None, log.read_text()
    return proc, owner


def wait_clean(owner: Owner, client, within: float) -> float:
    """Seconds until nothing of ``owner`` is left; fails with what is left after ``within``."""
    started = time.monotonic()
    while left := leftovers(owner, client):
        assert time.monotonic() - started < within, f"left after {within} s: {left}"
        time.sleep(0.25)
    return time.monotonic() - started


def test_sigkilled_grader_leaves_nothing_behind(backend, tmp_path):
    name, client = backend
    proc, owner = start_grading(name, client, tmp_path / "grade.log")
    assert janitors(owner), "the grader runs no janitor"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    # The janitor removes everything at once. Without it (killed as well), docker's pid 1
    # would end each container by its wall limit plus slack; the test wants the janitor.
    took = wait_clean(owner, client, within=20)
    assert took < TRAIN_SECONDS + SLACK_SECONDS
    print(f"{name}: nothing left {took:.1f} s after SIGKILL")


def assert_signal_cleans_up(name: str, client, log: Path, signum: int) -> None:
    proc, owner = start_grading(name, client, log)
    sent = time.monotonic()
    os.kill(proc.pid, signum)
    assert proc.wait(timeout=10) == 128 + signum
    wait_clean(owner, client, within=5 - (time.monotonic() - sent))
    took = time.monotonic() - sent
    print(f"{name}: {signal.Signals(signum).name} -> exited and clean in {took:.1f} s")
    assert took < 5


def test_sigterm_removes_what_the_grader_started_within_5_s(backend, tmp_path):
    name, client = backend
    assert_signal_cleans_up(name, client, tmp_path / "grade.log", signal.SIGTERM)


@pytest.mark.bwrap
def test_sigint_removes_what_the_grader_started_within_5_s(bwrap_sandbox, prepared_data, tmp_path):
    # The handler is the same for both signals and backends: one more run is enough.
    assert_signal_cleans_up("bwrap", None, tmp_path / "grade.log", signal.SIGINT)
