"""One phase of a grading (train or predict): its folders, its limits, its sandbox run.

A phase's input folder holds the harness, the submission, ``job.json``, the data it may see
and the progress FIFO; it is mounted read-only at ``/job``. Its output folder receives what
the sandbox left in ``/out``, which is read back through ``graders.readback`` as hostile
input. Every way a phase can end without a usable result is a ``PhaseFailed`` with an error
class from ``graders.catalogue``.
"""

from __future__ import annotations

import atexit
import itertools
import json
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from graders.catalogue import from_sandbox
from graders.challenges import Challenge
from graders.datasets import read_array
from graders.progress import FIFO_NAME, Progress, ProgressChannel
from graders.readback import OutputRejected, read_result
from graders.text import clean
from sandbox.base import Job, Limits, RunResult, Sandbox, wait_for
from sandbox.lifecycle import make_work_dir

HARNESS = Path(__file__).resolve().parent.parent / "sandbox" / "harness.py"
#: In the predict input folder: the trained model, then the file whose creation starts the phase.
READY_DIR = "ready"
GO_FILE = "go"
#: How long an early-started sandbox may wait beyond the phase before it: that phase's
#: container start, saving the model, copying it out.
EARLY_SLACK_SECONDS = 120


class PhaseFailed(Exception):
    """A phase ended without a usable result; carries the error class for the report."""

    def __init__(self, code: str, message: str, detail: str = "", run: RunResult | None = None):
        super().__init__(message)
        self.code, self.detail, self.run = code, detail, run


@dataclass
class PhaseRun:
    result: dict
    run: RunResult
    out: Path
    warm: bool = False  # ran in a sandbox started before its grading (graders/warm.py)


# -- input folders -----------------------------------------------------------------------------


def place(src: Path, dest: Path) -> None:
    """Hard-link when possible (no copy of big data), else copy."""
    try:
        dest.hardlink_to(src)
    except OSError:
        shutil.copyfile(src, dest)


def write_data(src: Path, dest_dir: Path, name: str, limit: int | None) -> str:
    """Place a data split in the input folder (cut to ``limit`` rows); its path in the sandbox.

    Like a whole split, a slice is hard-linked from a file made once per process
    (``sliced``): the input folder is bound read-only, so no sandbox can change it.
    """
    dest = dest_dir / f"{name}{src.suffix}"
    place(src if limit is None else sliced(src, limit), dest)
    return f"/job/{dest.name}"


#: Slices one process keeps (a few tiers times the slices that tests and demos grade).
SLICES_KEPT = 16
_slices_lock = threading.Lock()
_slice_ids = itertools.count()
_slices: dict[tuple, Path] = {}
_slices_dir: list[Path] = []  # this process's folder of slices, once made


def sliced(src: Path, limit: int) -> Path:
    """A read-only file with the first ``limit`` rows of ``src``, made once per process.

    Keyed by the source's inode, size and mtime (not ctime: every hard link of a whole
    split changes it): a prepared tier written again (``assay data prepare --force``
    renames a new folder in) gets new slices. The newest ``SLICES_KEPT`` are kept. The
    folder is owner-tagged: removed at exit, or by the janitor when the process dies.
    """
    st = src.stat()
    key = (str(src), st.st_ino, st.st_size, st.st_mtime_ns, limit)
    with _slices_lock:
        made = _slices.get(key)
        if made is not None and made.is_file():
            return made
        while len(_slices) >= SLICES_KEPT:  # the oldest goes; links to it stay valid
            _slices.pop(next(iter(_slices))).unlink(missing_ok=True)
        if not _slices_dir or not _slices_dir[0].is_dir():
            _slices_dir[:] = [make_work_dir("slices")]
            atexit.register(shutil.rmtree, _slices_dir[0], True)
        dest = _slices_dir[0] / f"{next(_slice_ids)}-{src.stem}-{limit}{src.suffix}"
        arr = read_array(src)[:limit]
        if arr.dtype == object:
            dest.write_text(json.dumps([str(s) for s in arr], ensure_ascii=False), encoding="utf-8")
        else:
            np.save(dest, arr, allow_pickle=False)
        dest.chmod(0o444)
        _slices[key] = dest
        return dest


def write_inputs(arr: np.ndarray, dest_dir: Path, name: str) -> str:
    """Write inputs made on the trusted side (a shuffled or changed set); its path in the sandbox."""
    if arr.dtype == object:
        dest = dest_dir / f"{name}.json"
        dest.write_text(json.dumps([str(s) for s in arr], ensure_ascii=False), encoding="utf-8")
    else:
        dest = dest_dir / f"{name}.npy"
        np.save(dest, arr, allow_pickle=False)
    return f"/job/{dest.name}"


def job_spec(challenge: Challenge) -> dict:
    """The part of the challenge the harness needs."""
    spec = challenge.spec
    return {
        "slug": spec.slug,
        "input_kind": spec.dataset.input_kind,
        "input_shape": spec.dataset.input_shape,
        "num_classes": spec.dataset.num_classes,
        "required": spec.contract.required,
        "optional": spec.contract.optional,
        "predict": spec.contract.predict,
        "script_mode": spec.contract.script_mode,
        "script_dataset": spec.contract.script_dataset,
        "fit": spec.fit.model_dump(),
    }


def input_dir(work: Path, phase: str, submission: Path | None) -> tuple[Path, str | None]:
    """A fresh input folder for ``phase`` holding the harness and the submission.

    ``submission`` None: the phase runs no candidate code (the platform predicts), so the
    file is not placed at all; nothing in that sandbox can import it.
    """
    folder = work / f"{phase}-in"
    folder.mkdir(mode=0o755)
    shutil.copyfile(HARNESS, folder / "harness.py")
    if submission is None:
        return folder, None
    name = "solution" + submission.suffix
    shutil.copyfile(submission, folder / name)
    return folder, f"/job/{name}"


def write_job(folder: Path, job: dict) -> None:
    job = {**job, "progress": f"/job/{FIFO_NAME}"}
    (folder / "job.json").write_text(json.dumps(job), encoding="utf-8")


def phase_limits(challenge: Challenge, phase: str, tier: str, options) -> Limits:
    """The limits of ``phase`` on ``tier``, with the options' overrides (tests, demos)."""
    lim = challenge.spec.limits_for(tier)
    seconds = lim.train_seconds if phase == "train" else lim.predict_seconds
    override = options.train_seconds if phase == "train" else options.predict_seconds
    return Limits(
        wall_seconds=float(override or seconds),
        memory_mb=options.memory_mb or lim.memory_mb,
        cpus=lim.cpus,
        processes=lim.processes,
        output_bytes=lim.log_kb * 1024,
        disk_mb=lim.output_mb,
        gpus=lim.gpus,
    )


# -- running -----------------------------------------------------------------------------------


def classify(run: RunResult, phase: str, limits: Limits, out: Path) -> dict:
    """The harness's result if the phase ended well; else ``PhaseFailed`` with a class."""

    def failed(code: str, message: str, detail: str = "") -> PhaseFailed:
        return PhaseFailed(code, message, detail, run)

    if run.cancelled:
        raise failed("cancelled", f"grading was cancelled during the {phase} phase")
    if getattr(run, "pids_capped", False):
        raise failed(
            "too_many_processes",
            f"the {phase} phase sat at its limit of {limits.processes} processes and was stopped",
        )
    if run.timed_out:
        raise failed(
            "timeout", f"the {phase} phase ran past its limit of {limits.wall_seconds:g} s"
        )
    if run.oom_killed:
        raise failed(
            "out_of_memory", f"the {phase} phase used more than its {limits.memory_mb} MB of memory"
        )
    if run.output_flooded:
        raise failed(
            "output_too_large",
            f"the {phase} phase printed more than {limits.flood_bytes // 2**20} MB",
        )
    if run.output_exceeded:
        raise failed(
            "output_too_large", f"the {phase} phase wrote more than {limits.disk_mb} MB of files"
        )
    try:
        result = read_result(out, phase)
    except OutputRejected as exc:
        raise failed(exc.code, str(exc)) from None
    if result is None:
        raise failed(*_no_result_reason(run, phase, limits))
    if result["phase"] != phase:
        raise failed("invalid_output", f"the {phase} phase's result.json is for another phase")
    if result["status"] != "ok":
        code = from_sandbox(result["code"]).code
        raise failed(code, result["message"] or "unknown error", result["detail"])
    return result


def _no_result_reason(run: RunResult, phase: str, limits: Limits) -> tuple[str, str, str]:
    tail = clean(run.stderr[-2000:])
    if run.stdout_truncated or run.stderr_truncated:
        return (
            "output_too_large",
            f"the {phase} phase printed more than {limits.output_bytes} bytes",
            tail,
        )
    if any(
        s in run.stderr
        for s in ("can't start new thread", "Resource temporarily unavailable", "fork")
    ):
        return (
            "too_many_processes",
            f"the {phase} phase hit the limit of {limits.processes} processes",
            tail,
        )
    if run.exit_code is not None and (run.exit_code < 0 or run.exit_code > 128):
        signal = -run.exit_code if run.exit_code < 0 else run.exit_code - 128
        return (
            "crashed",
            f"the {phase} phase was killed by signal {signal} before it reported",
            tail,
        )
    return "crashed", f"the {phase} phase exited (code {run.exit_code}) without a result", tail


def phase_job(phase: str, folder: Path, work: Path, limits: Limits, extra_env, cancel) -> Job:
    out = work / f"{phase}-out"
    out.mkdir()
    env = {"TF_CPP_MIN_LOG_LEVEL": "2", "KERAS_BACKEND": "tensorflow", **extra_env}
    return Job(
        argv=["/job/harness.py", "/job/job.json"],
        input_dir=folder,
        output_dir=out,
        limits=limits,
        env=env,
        cancel=cancel,
    )


def run_phase(
    sandbox: Sandbox,
    phase: str,
    job: Job,
    progress: Progress | None,
    on_start: Callable[[], None] | None = None,
) -> PhaseRun:
    """Run one phase in ``sandbox``, its progress read from the FIFO; ``PhaseFailed`` if it failed.

    ``on_start`` is called as the sandbox is asked to start: work the phase does not need
    (the predict inputs) begins there, beside the sandbox's start, not before it.
    """
    if progress:
        progress({"event": "phase", "phase": phase, "status": "sandbox"})
    if on_start is not None:
        on_start()
    channel = ProgressChannel(job.input_dir, phase, progress)
    try:
        run = sandbox.run(job)
    finally:
        channel.close()
    return PhaseRun(classify(run, phase, job.limits, job.output_dir), run, job.output_dir)


class EarlyPhase:
    """A phase whose sandbox starts before its input is complete, to get its start-up done.

    The harness imports TensorFlow, then waits (running no candidate code) until the file
    ``READY_DIR/GO_FILE`` exists in its input folder, which ``go`` creates once the rest of
    the input is in place. The phase's limit (``limits.wall_seconds``) counts from ``go``;
    before it, the sandbox may wait at most ``wait_seconds``. ``abandon`` kills it when the
    phase before failed. The sandbox runs in a thread; ``Sandbox.run`` blocks.
    """

    def __init__(
        self,
        sandbox: Sandbox,
        phase: str,
        folder: Path,
        work: Path,
        limits: Limits,
        wait_seconds: float,
        extra_env: dict,
        progress: Progress | None,
    ):
        self.phase, self.limits, self.progress = phase, limits, progress
        self.ready = folder / READY_DIR
        self.ready.mkdir(mode=0o755, exist_ok=True)
        self.kill = threading.Event()
        outer = replace(limits, wall_seconds=limits.wall_seconds + wait_seconds)
        self.job = phase_job(phase, folder, work, outer, extra_env, self.kill)
        # Events go through _deliver: a sandbox started warm learns its grading's callback
        # only at the hand-over, and the host learns whether the harness took the job.
        self.started = threading.Event()
        self.channel = ProgressChannel(folder, phase, self._deliver)
        self._run: RunResult | None = None
        self._error: BaseException | None = None
        self._ended_at = 0.0
        self._thread = threading.Thread(
            target=self._target, args=(sandbox,), name=f"assay-{phase}-sandbox", daemon=True
        )
        self._thread.start()

    def _target(self, sandbox: Sandbox) -> None:
        try:
            self._run = sandbox.run(self.job)
        except BaseException as exc:  # re-raised in the grading thread by go()
            self._error = exc
        self._ended_at = time.monotonic()

    def _deliver(self, event: dict) -> None:
        if event.get("event") == "phase" and event.get("status") == "start":
            self.started.set()
        if self.progress:
            self.progress(event)

    def alive(self) -> bool:
        """The sandbox still runs (it has not ended, been killed or failed to start)."""
        return self._thread.is_alive() and not self.kill.is_set()

    def _ended(self, timeout: float) -> bool:
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def go(self, cancel=None, on_go: Callable[[], None] | None = None) -> PhaseRun:
        """Start the phase (its input must be in place) and wait for it, within its limit.

        ``on_go`` is called once the sandbox has been told to start (as ``run_phase``'s
        ``on_start``).
        """
        if self.progress:
            self.progress({"event": "phase", "phase": self.phase, "status": "sandbox"})
        (self.ready / GO_FILE).touch()
        if on_go is not None:
            on_go()
        started = time.monotonic()
        outcome = wait_for(self._ended, started + self.limits.wall_seconds, cancel)
        if outcome != "done":
            self.abandon()
        self.channel.close()
        if self._error is not None:
            raise self._error
        run = replace(
            self._run,
            wall_seconds=round(max(0.0, self._ended_at - started), 3),
            timed_out=self._run.timed_out or outcome == "timeout",
            cancelled=outcome == "cancelled" or (self._run.cancelled and outcome != "timeout"),
        )
        result = classify(run, self.phase, self.limits, self.job.output_dir)
        return PhaseRun(result, run, self.job.output_dir)

    def abandon(self) -> None:
        """Kill the sandbox (if it still runs) and wait until it is cleaned up."""
        self.kill.set()
        self._thread.join()
        self.channel.close()
