"""The grading pipeline: train phase -> predict phase -> score, on any sandbox backend.

Candidate code only ever runs inside ``Sandbox.run``. The train sandbox sees the
submission and the train split; the predict sandbox, a fresh one, sees the saved
model and the test *inputs*; hidden labels stay on this, the trusted, side. Every
outcome is a ``Report``: a crash, a timeout or bad predictions become a failed
report with an error class, never an exception that escapes.

The predict sandbox starts together with the train sandbox and imports TensorFlow
while the model trains (about 5 s saved on every grade); it waits, running no
candidate code, until the trained model is placed in its input folder. Its time
limit counts from then (see ``EarlyPhase``).
"""

from __future__ import annotations

import json
import shutil
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

from graders.challenges import Challenge
from graders.datasets import PreparedDataset, read_array
from graders.report import Report, failed_report
from graders.scoring import blank_report, score_predictions, verdict
from sandbox.base import Job, Limits, RunResult, Sandbox, wait_for
from sandbox.harness import PROGRESS_PREFIX

HARNESS = Path(__file__).resolve().parent.parent / "sandbox" / "harness.py"
DEFAULT_SEED = 1234
LOG_TAIL_CHARS = 20_000
#: In the predict input folder: the trained model, then the file whose creation starts the phase.
READY_DIR = "ready"
GO_FILE = "go"
#: How long an early-started sandbox may wait beyond the phase before it: that phase's
#: container start, saving the model, copying it out.
EARLY_SLACK_SECONDS = 120

Progress = Callable[[dict], None]


@dataclass
class GradeOptions:
    """How to grade: tier, seeds and optional slices (tests and demos grade small slices)."""

    tier: str | None = None
    seed: int = DEFAULT_SEED
    repeats: int = 1
    train_limit: int | None = None
    test_limit: int | None = None
    train_seconds: int | None = None  # override the challenge's limits (tests)
    predict_seconds: int | None = None
    memory_mb: int | None = None
    extra_env: dict[str, str] = field(default_factory=dict)


class PhaseFailed(Exception):
    """A phase ended without a usable result; carries the error class for the report."""

    def __init__(self, code: str, message: str, detail: str = ""):
        super().__init__(message)
        self.code, self.detail = code, detail


# -- job folders -------------------------------------------------------------------------------


def _place(src: Path, dest: Path) -> None:
    """Hard-link when possible (no copy of big data), else copy."""
    try:
        dest.hardlink_to(src)
    except OSError:
        shutil.copyfile(src, dest)


def _write_data(src: Path, dest_dir: Path, name: str, limit: int | None) -> str:
    dest = dest_dir / f"{name}{src.suffix}"
    if limit is None:
        _place(src, dest)
    else:
        arr = read_array(src)[:limit]
        if arr.dtype == object:
            dest.write_text(json.dumps([str(s) for s in arr], ensure_ascii=False), encoding="utf-8")
        else:
            np.save(dest, arr, allow_pickle=False)
    return f"/job/{dest.name}"


def _job_spec(challenge: Challenge) -> dict:
    spec = challenge.spec
    return {
        "slug": spec.slug,
        "input_kind": spec.dataset.input_kind,
        "input_shape": spec.dataset.input_shape,
        "num_classes": spec.dataset.num_classes,
        "script_mode": spec.contract.script_mode,
        "script_dataset": spec.contract.script_dataset,
        "fit": spec.fit.model_dump(),
    }


def _input_dir(work: Path, phase: str, submission: Path) -> tuple[Path, str]:
    folder = work / f"{phase}-in"
    folder.mkdir()
    shutil.copyfile(HARNESS, folder / "harness.py")
    name = "solution" + submission.suffix
    shutil.copyfile(submission, folder / name)
    return folder, f"/job/{name}"


def _write_job(folder: Path, job: dict) -> None:
    (folder / "job.json").write_text(json.dumps(job), encoding="utf-8")


# -- running a phase ---------------------------------------------------------------------------


def _progress_reader(progress: Progress | None) -> Callable[[str], None]:
    def on_line(line: str) -> None:
        if progress is None or not line.startswith(PROGRESS_PREFIX):
            return
        try:
            event = json.loads(line[len(PROGRESS_PREFIX) :])
        except json.JSONDecodeError:
            return
        if isinstance(event, dict):
            progress(event)

    return on_line


def _strip_progress(text: str) -> str:
    return "\n".join(line for line in text.split("\n") if not line.startswith(PROGRESS_PREFIX))


def classify(run: RunResult, phase: str, limits: Limits, out: Path) -> dict:
    """The harness's ``result.json`` if the phase ended well; else ``PhaseFailed`` with a class."""
    if run.cancelled:
        raise PhaseFailed("cancelled", f"grading was cancelled during the {phase} phase")
    if run.timed_out:
        raise PhaseFailed(
            "timeout", f"the {phase} phase ran past its limit of {limits.wall_seconds:g} s"
        )
    if run.oom_killed:
        raise PhaseFailed(
            "out_of_memory", f"the {phase} phase used more than its {limits.memory_mb} MB of memory"
        )
    if run.output_flooded:
        raise PhaseFailed(
            "output_too_large",
            f"the {phase} phase printed more than {limits.flood_bytes // 2**20} MB",
        )
    if run.output_exceeded:
        raise PhaseFailed(
            "output_too_large", f"the {phase} phase wrote more than {limits.disk_mb} MB of files"
        )
    result = _read_result(out)
    if result is None:
        raise PhaseFailed(*_no_result_reason(run, phase, limits))
    if result.get("status") != "ok":
        raise PhaseFailed(
            result.get("code", "crashed"),
            result.get("message", "unknown error"),
            result.get("detail", ""),
        )
    return result


def _read_result(out: Path) -> dict | None:
    try:
        result = json.loads((out / "result.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return result if isinstance(result, dict) else None


def _no_result_reason(run: RunResult, phase: str, limits: Limits) -> tuple[str, str, str]:
    tail = run.stderr[-2000:]
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
    if run.exit_code is not None and run.exit_code < 0 or (run.exit_code or 0) > 128:
        signal = -run.exit_code if run.exit_code < 0 else run.exit_code - 128
        return (
            "crashed",
            f"the {phase} phase was killed by signal {signal} before it reported",
            tail,
        )
    return "crashed", f"the {phase} phase exited (code {run.exit_code}) without a result", tail


@dataclass
class PhaseRun:
    result: dict
    run: RunResult
    out: Path


def _phase_job(
    phase: str,
    input_dir: Path,
    work: Path,
    limits: Limits,
    options: GradeOptions,
    progress: Progress | None,
    cancel,
) -> Job:
    out = work / f"{phase}-out"
    out.mkdir()
    env = {"TF_CPP_MIN_LOG_LEVEL": "2", "KERAS_BACKEND": "tensorflow", **options.extra_env}
    return Job(
        argv=["/job/harness.py", "/job/job.json"],
        input_dir=input_dir,
        output_dir=out,
        limits=limits,
        env=env,
        on_stdout_line=_progress_reader(progress),
        cancel=cancel,
    )


def _finish(run: RunResult, phase: str, limits: Limits, out: Path) -> PhaseRun:
    try:
        result = classify(run, phase, limits, out)
    except PhaseFailed as exc:
        exc.run = run
        raise
    return PhaseRun(result, run, out)


def run_phase(sandbox: Sandbox, phase: str, job: Job, progress: Progress | None) -> PhaseRun:
    """Run one phase of the harness in ``sandbox``; ``PhaseFailed`` when it did not succeed."""
    if progress:
        progress({"event": "phase", "phase": phase, "status": "sandbox"})
    return _finish(sandbox.run(job), phase, job.limits, job.output_dir)


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
        input_dir: Path,
        work: Path,
        limits: Limits,
        wait_seconds: float,
        options: GradeOptions,
        progress: Progress | None,
    ):
        self.phase, self.limits, self.progress = phase, limits, progress
        self.ready = input_dir / READY_DIR
        self.ready.mkdir(mode=0o755, exist_ok=True)
        self.kill = threading.Event()
        outer = replace(limits, wall_seconds=limits.wall_seconds + wait_seconds)
        self.job = _phase_job(phase, input_dir, work, outer, options, progress, self.kill)
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

    def _ended(self, timeout: float) -> bool:
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def go(self, cancel=None) -> PhaseRun:
        """Start the phase (its input must be in place) and wait for it, within its limit."""
        if self.progress:
            self.progress({"event": "phase", "phase": self.phase, "status": "sandbox"})
        (self.ready / GO_FILE).touch()
        started = time.monotonic()
        outcome = wait_for(self._ended, started + self.limits.wall_seconds, cancel)
        if outcome != "done":
            self.abandon()
        if self._error is not None:
            raise self._error
        run = replace(
            self._run,
            wall_seconds=round(max(0.0, self._ended_at - started), 3),
            timed_out=self._run.timed_out or outcome == "timeout",
            cancelled=outcome == "cancelled" or (self._run.cancelled and outcome != "timeout"),
        )
        return _finish(run, self.phase, self.limits, self.job.output_dir)

    def abandon(self) -> None:
        """Kill the sandbox (if it still runs) and wait until it is cleaned up."""
        self.kill.set()
        self._thread.join()


def phase_limits(challenge: Challenge, phase: str, options: GradeOptions) -> Limits:
    lim = challenge.spec.limits
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


# -- one grading run ---------------------------------------------------------------------------


def _train(
    challenge, dataset, submission, work, seed, options, sandbox, progress, cancel
) -> PhaseRun:
    folder, sub = _input_dir(work, "train", submission)
    data = {
        "train_x": _write_data(dataset.x_path("train"), folder, "train_x", options.train_limit),
        "train_y": _write_data(dataset.y_path("train"), folder, "train_y", options.train_limit),
    }
    _write_job(
        folder,
        {
            "phase": "train",
            "submission": sub,
            "challenge": _job_spec(challenge),
            "seed": seed,
            "output": "/out",
            "data": data,
        },
    )
    limits = phase_limits(challenge, "train", options)
    job = _phase_job("train", folder, work, limits, options, progress, cancel)
    return run_phase(sandbox, "train", job, progress)


def _start_predict(challenge, dataset, submission, work, options, sandbox, progress) -> EarlyPhase:
    folder, sub = _input_dir(work, "predict", submission)
    sets = ["test", *challenge.spec.dataset.extra_sets]
    data = {
        name: _write_data(dataset.x_path(name), folder, f"{name}_x", options.test_limit)
        for name in sets
    }
    _write_job(
        folder,
        {
            "phase": "predict",
            "submission": sub,
            "challenge": _job_spec(challenge),
            "model": f"/job/{READY_DIR}/model.keras",
            "start_when": f"/job/{READY_DIR}/{GO_FILE}",
            "output": "/out",
            "data": data,
        },
    )
    limits = phase_limits(challenge, "predict", options)
    wait = phase_limits(challenge, "train", options).wall_seconds + EARLY_SLACK_SECONDS
    return EarlyPhase(sandbox, "predict", folder, work, limits, wait, options, progress)


def _predict(early: EarlyPhase, trained: PhaseRun, cancel) -> PhaseRun:
    model = early.ready / "model.keras"
    _place(trained.out / "model.keras", model)
    model.chmod(0o644)  # the sandbox's user is not the owner
    return early.go(cancel)


def _load_predictions(out: Path, names: list[str], limit: int | None) -> dict[str, object]:
    loaded = {}
    for name in names:
        path = out / f"predictions_{name}.npy"
        if path.is_file():
            loaded[name] = np.load(path, allow_pickle=False)
    return loaded


class _SlicedDataset:
    """A dataset view whose hidden labels are cut to the same slice as the test inputs."""

    def __init__(self, dataset: PreparedDataset, limit: int | None):
        self._dataset, self._limit = dataset, limit

    def __getattr__(self, name):
        return getattr(self._dataset, name)

    def load_y(self, split: str) -> np.ndarray:
        y = self._dataset.load_y(split)
        return y if split == "train" or self._limit is None else y[: self._limit]


def grade_once(
    challenge: Challenge,
    dataset: PreparedDataset,
    submission: Path,
    sandbox: Sandbox,
    seed: int,
    options: GradeOptions,
    progress: Progress | None = None,
    cancel=None,
) -> Report:
    """Train, predict and score one submission once with ``seed``."""
    report = blank_report(challenge, dataset)
    report.reproducibility.update(_record(sandbox, challenge, options, seed))
    with tempfile.TemporaryDirectory(prefix="assay-grade-") as tmp:
        work = Path(tmp)
        phase = "train"
        early = _start_predict(challenge, dataset, submission, work, options, sandbox, progress)
        try:
            trained = _train(
                challenge, dataset, submission, work, seed, options, sandbox, progress, cancel
            )
            _note_phase(report, trained, "train")
            report.history = _read_history(trained.out)
            phase = "predict"
            predicted = _predict(early, trained, cancel)
            _note_phase(report, predicted, "predict")
        except PhaseFailed as exc:
            run = getattr(exc, "run", None)
            if run is not None:
                _note_logs(report, run, phase)
            return failed_report(report, exc.code, str(exc), phase=phase, detail=exc.detail)
        finally:
            early.abandon()
        names = ["test", *challenge.spec.dataset.extra_sets]
        predictions = _load_predictions(predicted.out, names, options.test_limit)
        view = _SlicedDataset(dataset, options.test_limit)
        return score_predictions(challenge, view, predictions, report)


def _record(sandbox: Sandbox, challenge: Challenge, options: GradeOptions, seed: int) -> dict:
    record = {**sandbox.describe(), "seed": seed}
    for phase in ("train", "predict"):
        record[f"{phase}_limits"] = asdict(phase_limits(challenge, phase, options))
    if options.train_limit or options.test_limit:
        record["slice"] = {"train": options.train_limit, "test": options.test_limit}
    return record


def _note_phase(report: Report, phase_run: PhaseRun, phase: str) -> None:
    result, run = phase_run.result, phase_run.run
    report.warnings += [w for w in result.get("warnings", []) if w not in report.warnings]
    rec = report.reproducibility
    rec[f"{phase}_wall_seconds"] = round(run.wall_seconds, 2)
    if run.peak_memory_mb is not None:
        rec[f"{phase}_peak_memory_mb"] = round(run.peak_memory_mb, 1)
    for key in ("param_count", "mode"):
        if key in result:
            rec[key] = result[key]
    # Time inside the candidate's code (build + train, or predict); the rest of the wall
    # time is the platform's: container start, imports, saving and loading the model.
    if f"{phase}_seconds" in result:
        rec[f"{phase}_code_seconds"] = result[f"{phase}_seconds"]
    if "versions" in result:
        rec["versions"] = result["versions"]
    _note_logs(report, run, phase)


def _note_logs(report: Report, run: RunResult, phase: str) -> None:
    for stream in ("stdout", "stderr"):
        text = _strip_progress(getattr(run, stream))[-LOG_TAIL_CHARS:]
        if getattr(run, f"{stream}_truncated"):
            text += f"\n[... {stream} truncated at the sandbox's output limit ...]"
        report.logs[f"{phase} {stream}"] = text


def _read_history(out: Path) -> dict[str, list[float]]:
    try:
        history = json.loads((out / "history.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(history, dict):
        return {}
    return {str(k): [float(x) for x in v] for k, v in history.items() if isinstance(v, list)}


# -- repeats -----------------------------------------------------------------------------------


def grade(
    challenge: Challenge,
    dataset: PreparedDataset,
    submission: Path,
    sandbox: Sandbox,
    options: GradeOptions | None = None,
    progress: Progress | None = None,
    cancel=None,
) -> Report:
    """Grade ``submission``; with ``options.repeats`` > 1, train with several seeds.

    The verdict of repeated runs uses the mean of each metric; the report lists every
    run and flags the result as borderline when a bar lies within one standard
    deviation of the mean. The details shown (confusion matrix, curves) are the first run's.
    """
    options = options or GradeOptions()
    started = time.monotonic()
    reports = []
    for i in range(max(1, options.repeats)):
        seed = options.seed + i
        if progress:
            progress({"event": "run", "run": i + 1, "runs": options.repeats, "seed": seed})
        report = grade_once(
            challenge, dataset, submission, sandbox, seed, options, progress, cancel
        )
        reports.append(report)
        if report.status == "failed":
            return _with_runs(report, reports, started)
    first = reports[0]
    if len(reports) > 1:
        _combine(challenge, dataset, first, reports)
    return _with_runs(first, reports, started)


def _with_runs(report: Report, reports: list[Report], started: float) -> Report:
    report.runs = [
        {
            "seed": r.reproducibility.get("seed"),
            "status": r.status,
            "passed": r.passed,
            "metrics": {m.name: m.value for m in r.test.metrics} if r.test else {},
            "value": r.test.value(r.primary_metric) if r.test else None,
        }
        for r in reports
    ]
    report.reproducibility["total_wall_seconds"] = round(time.monotonic() - started, 2)
    return report


def _combine(
    challenge: Challenge, dataset: PreparedDataset, report: Report, reports: list[Report]
) -> None:
    means, spreads = {}, {}
    for metric in challenge.spec.bars(dataset.tier):
        values = [r.test.value(metric) for r in reports]
        if any(v is None for v in values):
            means[metric] = None
            continue
        means[metric] = statistics.fmean(values)
        spreads[metric] = statistics.stdev(values)
    report.verdict = verdict(challenge.spec, dataset.tier, means)
    report.verdict.borderline = any(
        means[c.metric] is not None and abs(means[c.metric] - c.bar) <= spreads.get(c.metric, 0)
        for c in report.verdict.checks
    )
    summary = ", ".join(f"{m} {means[m]:.4f} ± {spreads[m]:.4f}" for m in spreads)
    report.verdict.note = f"verdict on the mean of {len(reports)} runs: {summary}"
