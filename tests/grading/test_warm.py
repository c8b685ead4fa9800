"""Warm train sandboxes (issue 14), in each real backend: one job each, replaced when they
die or wait too long, and nothing of one candidate reaches the next."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest

from graders.challenges import get_challenge
from graders.datasets import open_dataset
from graders.phases import phase_limits
from graders.pipeline import GradeOptions, grade
from graders.warm import Shape, WarmPool, WarmSlotSpent

pytestmark = pytest.mark.slow

LENET = get_challenge("lenet5-mnist")
STARTER = LENET.path("starter.py")
#: The dense-only starter on a small slice: a real model, trained in a second or two.
SMALL = {"train_limit": 256, "test_limit": 100, "train_seconds": 120, "predict_seconds": 60}

# Candidate A plants something everywhere a later candidate might look, then fails.
PLANT = """
import os, subprocess, sys
for folder in ("/tmp", "/out", "/dev/shm"):
    try:
        with open(os.path.join(folder, "assay_mark_a"), "w") as f:
            f.write("ASSAY_MARK_A")
    except OSError:
        pass
os.environ["ASSAY_MARK_A"] = "1"
subprocess.Popen(
    [sys.executable, "-c", "import time; time.sleep(600)", "ASSAY_MARK_A"],
    start_new_session=True,  # out of the harness's process group: it would stop it otherwise
)
raise RuntimeError("planted")
"""

# Candidate B looks for any of it (the marker is built, so this file does not hold it).
LOOK = """
import os, stat
mark = "ASSAY_MARK_" + "A"
seen = []
for top in ("/tmp", "/out", "/dev/shm", "/job"):
    for root, dirs, files in os.walk(top):
        for name in files:
            path = os.path.join(root, name)
            try:
                if not stat.S_ISREG(os.lstat(path).st_mode):
                    continue  # the progress FIFO
                with open(path, "rb") as f:
                    data = f.read()
            except OSError:
                continue
            if mark.encode() in data or mark.lower() in name:
                seen.append(path)
for pid in os.listdir("/proc"):
    if pid.isdigit():
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if mark.encode() in f.read():
                    seen.append("process " + pid)
        except OSError:
            pass
seen += [key for key in os.environ if mark in key]
raise RuntimeError(f"seen={seen!r} pid={os.getpid()}")
"""


def train_shape(**options) -> Shape:
    dataset = open_dataset("mnist", "sample")
    return Shape.of(phase_limits(LENET, "train", dataset.tier, GradeOptions(**options)))


def grade_warm(sandbox, pool, path: Path, **options):
    dataset = open_dataset("mnist", "sample")
    return grade(LENET, dataset, path, sandbox, GradeOptions(**options), warm=pool)


def wait_until(predicate, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.1)


def harness_pids(folder: Path) -> list[int]:
    """Host pids of the processes whose /job is ``folder`` (its mount table names the source)."""
    pids = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            mounts = Path(entry.path, "mountinfo").read_text()
            cmdline = Path(entry.path, "cmdline").read_bytes()
        except OSError:
            continue
        if b"harness.py" in cmdline and f"{folder} /job " in mounts.replace("\\040", " "):
            pids.append(int(entry.name))
    return pids


@pytest.fixture
def pool(sandbox, prepared_data):
    pools = []

    def make(**kwargs) -> WarmPool:
        kwargs.setdefault("shape", train_shape(**SMALL))
        made = WarmPool(sandbox, **kwargs)
        pools.append(made)
        return made

    yield make
    for made in pools:
        made.close()


def test_grading_takes_a_warm_sandbox_that_never_gets_a_second_job(sandbox, pool, tmp_path):
    warm = pool()
    (first,) = warm.idle()
    report = grade_warm(sandbox, warm, STARTER, **SMALL)
    assert report.status == "graded", report.error
    assert (
        report.test is not None
        and report.reproducibility["reported_by_sandbox"]["train_code_seconds"] > 0
    )
    assert report.reproducibility["train_sandbox"] == "warm" and warm.served == 1
    assert first.used and not first.work.exists()  # spent and removed
    with pytest.raises(WarmSlotSpent):
        first.hand_over(STARTER, dict, first.shape.limits, tmp_path)
    (second,) = warm.idle()  # its replacement, started at the hand-over
    assert second is not first and second.work != first.work and not second.used


def test_candidate_sees_nothing_of_the_grading_before(sandbox, pool, tmp_path):
    warm = pool()
    plant, look = tmp_path / "plant.py", tmp_path / "look.py"
    plant.write_text(PLANT)
    look.write_text(LOOK)
    first = grade_warm(sandbox, warm, plant, **SMALL)
    assert first.status == "failed" and "planted" in first.error.message, first.error
    second = grade_warm(sandbox, warm, look, **SMALL)
    assert second.status == "failed", second.error
    assert "seen=[]" in second.error.message, second.error.message
    assert warm.served == 2  # both went through warm sandboxes
    # The look does find what is there: both in one file, in one sandbox.
    both = tmp_path / "both.py"
    wait = "import time\ntime.sleep(2)  # the planted process has exec'd\n"
    both.write_text(PLANT.replace('raise RuntimeError("planted")', wait) + LOOK)
    third = grade_warm(sandbox, warm, both, **SMALL)
    message = third.error.message
    for where in ("/tmp/assay_mark_a", "/out/assay_mark_a", "process ", "'ASSAY_MARK_A'"):
        assert where in message, message


def test_warm_sandbox_killed_while_waiting_is_replaced_and_the_grading_runs(sandbox, pool):
    warm = pool(check_seconds=3600)  # no background check: the grading itself finds it dead
    (slot,) = warm.idle()
    wait_until(lambda: harness_pids(slot.folder))
    for pid in harness_pids(slot.folder):
        os.kill(pid, signal.SIGKILL)
    wait_until(lambda: not slot.early.alive())
    report = grade_warm(sandbox, warm, STARTER, **SMALL)
    assert report.status == "graded", report.error
    assert report.reproducibility["train_sandbox"] == "cold"  # graded, not lost
    assert warm.replaced == 1 and warm.served == 0
    (fresh,) = warm.idle()
    assert fresh is not slot and fresh.early.alive()
    report = grade_warm(sandbox, warm, STARTER, **SMALL)
    assert report.status == "graded", report.error
    assert report.reproducibility["train_sandbox"] == "warm" and warm.served == 1


def test_warm_sandbox_that_waits_too_long_is_replaced(bwrap_only, prepared_data):
    warm = WarmPool(bwrap_only, train_shape(**SMALL), max_wait=2, check_seconds=0.5)
    try:
        (slot,) = warm.idle()
        wait_until(lambda: warm.replaced >= 1, 30)
        assert slot not in warm.idle() and not slot.early.alive()
        assert len(warm.idle()) == 1
    finally:
        warm.close()


def test_grading_of_another_shape_runs_cold_and_reshapes_the_pool(bwrap_only, prepared_data):
    warm = WarmPool(bwrap_only, train_shape(**SMALL, memory_mb=3000))
    try:
        report = grade_warm(bwrap_only, warm, STARTER, **SMALL)
        assert report.status == "graded", report.error
        assert report.reproducibility["train_sandbox"] == "cold" and warm.served == 0
        (slot,) = warm.idle()
        assert slot.shape.fits(train_shape(**SMALL).limits)
    finally:
        warm.close()


def test_assay_grade_warm_trains_every_repeat_in_a_fresh_warm_sandbox(
    bwrap_only, prepared_data, tmp_path
):
    from click.testing import CliRunner

    from graders.cli import main

    out = tmp_path / "report.json"
    args = ["grade", str(STARTER), "--challenge", "lenet5-mnist", "--sandbox", "bwrap"]
    args += ["--warm", "--repeats", "2", "--train-limit", "256", "--test-limit", "100"]
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:  # `assay grade` installs its own signal handlers: give pytest its own back
        result = CliRunner().invoke(main, [*args, "--json", str(out)])
    finally:
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
    assert result.exit_code in (0, 1), result.output
    report = json.loads(out.read_text())
    assert report["reproducibility"]["train_sandbox"] == "warm"
    assert [run["status"] for run in report["runs"]] == ["graded", "graded"]
