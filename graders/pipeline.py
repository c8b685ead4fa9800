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

import contextlib
import math
import statistics
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from graders.catalogue import sandbox_warnings
from graders.challenges import Challenge
from graders.datasets import PreparedDataset
from graders.modelfile import Carried, carried_flags
from graders.phases import (
    PhaseFailed,
    PhaseRun,
    input_dir,
    phase_job,
    phase_limits,
    run_phase,
    write_data,
    write_job,
)
from graders.phases import job_spec as _job_spec
from graders.predict_phase import (
    SlicedDataset,
    load_predictions,
    run_predict,
    start_predict,
    undisguised,
)
from graders.progress import Progress
from graders.readback import OutputRejected, read_history
from graders.report import Report, failed_report
from graders.scoring import blank_report, score_predictions, score_shadow, verdict
from graders.shadow import new_seed
from graders.signals import source_flags
from graders.submissions import describe
from graders.text import clean
from sandbox.base import RunResult, Sandbox
from sandbox.lifecycle import owned_work_dir

DEFAULT_SEED = 1234
#: The reproducibility record's entry for figures the sandbox reported about itself.
CLAIMS = "reported_by_sandbox"
LOG_TAIL_CHARS = 20_000


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
    #: An assessment's own bars for this grading's tier (metric -> bar), replacing the
    #: challenge's; recorded in the report (``reproducibility["bars_set_by_assessment"]``).
    bars: dict[str, float] = field(default_factory=dict)
    #: The secret the sample tiers' train/test partition is drawn with (graders/splits.py):
    #: an assessment's, or an operator's ``--split-seed``; None draws a fresh one. Never
    #: recorded in a report.
    split_seed: str | None = field(default=None, repr=False)


# -- one grading run ---------------------------------------------------------------------------


def _train(
    challenge,
    dataset,
    submission,
    work,
    seed,
    options,
    sandbox,
    progress,
    cancel,
    warm=None,
    on_start=None,
) -> PhaseRun:
    def make_job(folder: Path, sub: str) -> dict:
        data = {
            "train_x": write_data(dataset.x_path("train"), folder, "train_x", options.train_limit),
            "train_y": write_data(dataset.y_path("train"), folder, "train_y", options.train_limit),
        }
        return {
            "phase": "train",
            "submission": sub,
            "challenge": _job_spec(challenge),
            "seed": seed,
            "output": "/out",
            "data": data,
        }

    limits = phase_limits(challenge, "train", dataset.tier, options)
    # A warm sandbox (graders/warm.py) when one fits; None back: it died first, grade cold.
    slot = warm.take(limits, options.extra_env) if warm is not None else None
    if slot is not None:
        trained = slot.hand_over(submission, make_job, limits, work, progress, cancel, on_start)
        if trained is not None:
            return trained
    folder, sub = input_dir(work, "train", submission)
    write_job(folder, make_job(folder, sub))
    job = phase_job("train", folder, work, limits, options.extra_env, cancel)
    return run_phase(sandbox, "train", job, progress, on_start)


def grade_once(
    challenge: Challenge,
    dataset: PreparedDataset,
    submission: Path,
    sandbox: Sandbox,
    seed: int,
    options: GradeOptions,
    progress: Progress | None = None,
    cancel=None,
    warm=None,
) -> Report:
    """Train, predict and score one submission once with ``seed``.

    ``warm``: a ``graders.warm.WarmPool`` whose started train sandbox this grading takes.
    """
    report = blank_report(challenge, dataset)
    report.reproducibility.update(_record(sandbox, challenge, dataset.tier, options, seed))
    report.flags += source_flags(submission)
    facts = describe(submission)  # the host's parse, not the sandbox's word
    if facts is not None:
        report.reproducibility.update(mode=facts.mode, file=facts.form)
        report.warnings += list(facts.warnings)
    shadow_seed = new_seed()
    with owned_work_dir("grade") as tmp:  # owner-tagged: the janitor removes it if we die
        work = Path(tmp)
        work.chmod(0o711)  # sandbox users traverse it to their input folders, never list it
        phase = "train"
        early, disguises, hidden = start_predict(
            challenge, dataset, submission, work, options, sandbox, progress, shadow_seed
        )
        try:
            trained = _train(
                challenge,
                dataset,
                submission,
                work,
                seed,
                options,
                sandbox,
                progress,
                cancel,
                warm,
                on_start=hidden.start,
            )
            _note_phase(report, trained, "train")
            report.reproducibility["train_sandbox"] = "warm" if trained.warm else "cold"
            report.history = _readback(read_history, trained.out)
            phase = "predict"
            disk_mb = phase_limits(challenge, "train", dataset.tier, options).disk_mb
            platform_loads = challenge.spec.contract.predict != "candidate"
            predicted, model_bytes, carried = run_predict(
                early, trained, cancel, disk_mb, hidden, platform_loads
            )
            report.reproducibility["model_kb"] = math.ceil(model_bytes / 1024)
            _note_phase(report, predicted, "predict")
            _note_carried(report, carried, challenge)
            phase = "score"
            names = {d.name: own for own, d in disguises.items()}
            names.update((name, name) for name in challenge.spec.dataset.extra_sets)
            loaded = _readback(load_predictions, predicted.out, names)
        except PhaseFailed as exc:
            if exc.run is not None:
                _note_logs(report, exc.run, phase)
            return failed_report(report, exc.code, str(exc), phase=phase, detail=exc.detail)
        finally:
            early.abandon()
            hidden.join()  # nothing writes into the folder once it is removed
        predictions = undisguised(loaded, disguises)
        view = SlicedDataset(dataset, options.test_limit)
        report = score_predictions(challenge, view, predictions, report)
        if report.status == "graded" and "shadow" in disguises:
            score_shadow(challenge, view, predictions.get("shadow"), report, shadow_seed)
        return report


def _readback(read, *args):
    """``read(*args)``, its ``OutputRejected`` turned into the phase's failure.

    Any other exception while reading what a sandbox wrote is the candidate's too
    (``invalid_output``): never ``platform_error``, which the worker retries for free.
    """
    try:
        return read(*args)
    except OutputRejected as exc:
        raise PhaseFailed(exc.code, str(exc)) from None
    except Exception as exc:
        reason = clean(f"{type(exc).__name__}: {exc}", multiline=False, limit=200)
        raise PhaseFailed(
            "invalid_output", f"the sandbox's output cannot be read ({reason})"
        ) from None


def _record(
    sandbox: Sandbox, challenge: Challenge, tier: str, options: GradeOptions, seed: int
) -> dict:
    record = {**sandbox.describe(), "seed": seed}
    for phase in ("train", "predict"):
        record[f"{phase}_limits"] = asdict(phase_limits(challenge, phase, tier, options))
    if options.train_limit or options.test_limit:
        record["slice"] = {"train": options.train_limit, "test": options.test_limit}
    if options.bars:
        record["bars_set_by_assessment"] = dict(options.bars)
    return record


def _note_phase(report: Report, phase_run: PhaseRun, phase: str) -> None:
    """What the host records of a phase: its own clock and measures, the sandbox's warnings
    as catalogue codes rendered here, and the sandbox's other figures only as its claims."""
    result, run = phase_run.result, phase_run.run
    report.warnings += [w for w in sandbox_warnings(result["warnings"]) if w not in report.warnings]
    rec = report.reproducibility
    rec[f"{phase}_wall_seconds"] = round(run.wall_seconds, 2)
    if run.peak_memory_mb is not None:
        rec[f"{phase}_peak_memory_mb"] = round(run.peak_memory_mb, 1)
    # Where the platform predicts, the predict sandbox runs no candidate code: its count of
    # the weights it loaded is the platform's. The train phase's is a claim, used only when
    # the predict phase gave none (a challenge whose candidate predicts may leave it out).
    # Written by the harness from inside the candidate's process: shown as claims, never
    # used for a decision (time inside the candidate's code, the sandbox's library versions).
    claims = rec.setdefault(CLAIMS, {})
    if result.get("param_count") is not None:
        if phase == "predict":
            rec["param_count"] = result["param_count"]
        else:
            claims["param_count"] = result["param_count"]
    if result.get(f"{phase}_seconds") is not None:
        claims[f"{phase}_code_seconds"] = result[f"{phase}_seconds"]
    if result.get("versions"):
        claims["versions"] = result["versions"]
    _note_logs(report, run, phase)


def _note_carried(report: Report, carried: Carried, challenge: Challenge) -> None:
    """The budget's count: the weights the predict phase loaded plus what config and assets
    carry (``graders.modelfile``); a model that keeps unusually much outside its weights is
    flagged for the reviewer even within budget."""
    rec = report.reproducibility
    weights = rec.pop("param_count", rec.get(CLAIMS, {}).get("param_count"))
    rec.update(
        weights=weights,
        config_numbers=carried.config_numbers,
        asset_entries=carried.asset_entries,
        config_kb=math.ceil(carried.config_bytes / 1024),
        assets_kb=math.ceil(carried.assets_bytes / 1024),
    )
    if weights is not None:
        rec["param_count"] = weights + carried.numbers
    report.flags += carried_flags(carried, challenge.spec.budget.max_params)


def _note_logs(report: Report, run: RunResult, phase: str) -> None:
    """The tails of the phase's stdout and stderr, control characters escaped."""
    for stream in ("stdout", "stderr"):
        text = clean(getattr(run, stream)[-LOG_TAIL_CHARS:])
        if getattr(run, f"{stream}_truncated"):
            text += f"\n[... {stream} truncated at the sandbox's output limit ...]"
        report.logs[f"{phase} {stream}"] = text


# -- repeats -----------------------------------------------------------------------------------


def grade(
    challenge: Challenge,
    dataset: PreparedDataset,
    submission: Path,
    sandbox: Sandbox,
    options: GradeOptions | None = None,
    progress: Progress | None = None,
    cancel=None,
    warm=None,
) -> Report:
    """Grade ``submission``; with ``options.repeats`` > 1, train with several seeds.

    ``warm``: a ``graders.warm.WarmPool``; each run takes one of its train sandboxes.

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
        # Holding the pool: the warm slot this run takes is replaced after it, not during it.
        with warm.holding() if warm is not None else contextlib.nullcontext():
            report = grade_once(
                challenge, dataset, submission, sandbox, seed, options, progress, cancel, warm
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
            "shadow_gap": r.shadow.get("gap"),
        }
        for r in reports
    ]
    report.reproducibility["total_wall_seconds"] = round(time.monotonic() - started, 2)
    return report


def _model_figures(reports: list[Report]) -> dict[str, float]:
    """The largest parameter count and model size over the runs (the budget holds for each)."""
    figures = {}
    for key in ("param_count", "model_kb"):
        values = [r.reproducibility.get(key) for r in reports]
        if all(v is not None for v in values):
            figures[key] = max(values)
    return figures


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
    report.verdict = verdict(challenge.spec, dataset.tier, means, _model_figures(reports))
    report.verdict.borderline = any(
        means.get(c.metric) is not None and abs(means[c.metric] - c.bar) <= spreads.get(c.metric, 0)
        for c in report.verdict.checks  # budget checks have no spread: never borderline
    )
    summary = ", ".join(f"{m} {means[m]:.4f} ± {spreads[m]:.4f}" for m in spreads)
    report.verdict.note = f"verdict on the mean of {len(reports)} runs: {summary}"
