"""The dry run: a submission's contract checked before it counts (``assay check``, the web).

It runs the grading's own train phase (``graders/phases.py``, ``sandbox/harness.py``) in the
same sandbox backend, image and limits (memory, CPUs, processes, output) as a grading, on a
tiny public slice: the first ``ROWS`` examples of the train split (of the assessment's secret
split where the platform draws one, ``graders/splits.py``), which the candidate's training
sees anyway. The hidden test set never enters it. The job carries ``dry_run``, and
the harness then

1. stops every ``fit`` after its first training step or a few seconds (``contract.DRY_RUN``),
   whatever epochs the candidate's own ``train`` asked for (a Keras callback sets
   ``stop_training``; a custom loop without ``fit`` runs until the dry run's wall limit);
2. saves the model as a grading does, loads it back the way the predict phase does (Keras
   ``safe_mode``, with the submission's module removed first) and predicts a handful of
   inputs of the slice (``predict_rows``).

The host then checks those predictions with the scoring's own checks (shape, dtype, range,
finite) and the model against the budget (parameters, with what the saved file carries
besides weights counted as a grading counts it, ``graders/modelfile.py``; saved size).
Every outcome is an ``Outcome`` (``graders/contract.py``); like ``grade_submission``,
``dry_run`` never raises.
The wall limit is ``WALL_SECONDS`` (from the hand-over when the sandbox started warm), not the
grading's train limit: a dry run that cannot finish one step in it would not be graded in time.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
import traceback
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePath

from graders.catalogue import ErrorCode
from graders.challenges import get_challenge
from graders.contract import DRY_RUN, ROWS, SEED, Outcome, check_budget, check_predictions, outcome
from graders.errors import AssayError
from graders.modelfile import ModelRejected, inspect
from graders.phases import (
    PhaseFailed,
    input_dir,
    job_spec,
    phase_job,
    phase_limits,
    run_phase,
    write_data,
    write_job,
)
from graders.progress import Progress
from graders.readback import OutputRejected, read_predictions, regular_file
from graders.splits import for_grading
from graders.submissions import check_submission, strip_identity
from graders.text import clean
from sandbox.base import Sandbox
from sandbox.errors import SandboxError, SandboxUnavailable
from sandbox.lifecycle import owned_work_dir
from sandbox.registry import pick_sandbox

log = logging.getLogger(__name__)

#: The dry run's wall limit: imports, build, one step, save, load and predict on 48 examples.
WALL_SECONDS = 90.0


@dataclass
class DryRun:
    """A dry run's result: the contract ``Outcome``, and how it ran (for staff and the bench)."""

    challenge: str
    outcome: Outcome
    sandbox: str = ""
    warm: bool = False
    wall_seconds: float = 0.0
    warnings: list[str] = field(default_factory=list)
    #: The code's own output (cleaned tails), for staff and the candidate's log box.
    log_tail: str = ""

    @property
    def passed(self) -> bool:
        return self.outcome.passed

    def to_dict(self) -> dict:
        return {
            "challenge": self.challenge,
            "outcome": self.outcome.to_dict(),
            "sandbox": self.sandbox,
            "warm": self.warm,
            "wall_seconds": self.wall_seconds,
            "warnings": list(self.warnings),
            "log_tail": self.log_tail,
        }


def dry_run(
    *,
    challenge: str,
    source: bytes,
    filename: str,
    sandbox: str | Sandbox = "auto",
    image: str | None = None,
    warm=None,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
    tier: str | None = None,
    split_seed: str | None = None,
) -> DryRun:
    """Check ``source`` against ``challenge``'s contract in a sandbox; a ``DryRun``, never raises.

    ``warm``: a ``graders.warm.WarmPool`` (the worker's dry-run lane keeps its own); a slot
    that fits is used, else the sandbox starts cold. ``progress`` receives each sandbox
    step as ``{"event": "step", "step": name, "status": "ok"}`` as it passes. ``split_seed``:
    the assessment's split secret (``graders/splits.py``), so that the slice comes from its
    train rows and never from its test rows.
    """
    started = time.monotonic()
    try:
        result = _dry_run(
            challenge, source, filename, sandbox, image, warm, progress, cancel, tier, split_seed
        )
    except Exception as exc:  # the promise: nothing escapes
        log.exception("dry run crashed")
        result = DryRun(challenge, _platform(exc))
    result.wall_seconds = round(time.monotonic() - started, 2)
    return result


def _platform(exc: BaseException, code: ErrorCode = ErrorCode.PLATFORM_ERROR) -> Outcome:
    message = str(exc) if isinstance(exc, AssayError) else f"{type(exc).__name__}: {exc}"
    failed = outcome([], code.code, clean(message), traceback.format_exc())
    failed.steps = []  # no step of the submission's ran: it is no verdict on it
    return failed


def _dry_run(
    slug, source, filename, sandbox, image, warm, progress, cancel, tier, split_seed
) -> DryRun:
    challenge = get_challenge(slug)
    problem = check_submission(filename, source)
    if problem is not None:
        return DryRun(slug, outcome([], problem.code, clean(problem.message), problem.detail))
    if isinstance(sandbox, str):
        try:
            sandbox = pick_sandbox(sandbox, image)
        except SandboxUnavailable as exc:
            return DryRun(slug, _platform(exc, ErrorCode.SANDBOX_UNAVAILABLE))
    from graders.service import open_verified_dataset

    dataset = for_grading(open_verified_dataset(challenge, tier), split_seed)
    suffix = PurePath(filename).suffix.lower()
    with owned_work_dir("check") as tmp:
        work = Path(tmp)
        work.chmod(0o711)
        path = work / f"solution{suffix}"
        path.write_bytes(strip_identity(source) if suffix == ".ipynb" else source)
        try:
            return _run(challenge, dataset, path, work, sandbox, warm, progress, cancel)
        except SandboxError as exc:  # the engine failed under us: ours, not the candidate's
            log.warning("sandbox failed in a dry run: %s", exc)
            return DryRun(slug, _platform(exc), sandbox=sandbox.name)


def limits_for(challenge, tier: str):
    """The grading's train limits with the dry run's wall limit (memory, CPUs... the same)."""
    from graders.pipeline import GradeOptions

    return replace(
        phase_limits(challenge, "train", tier, GradeOptions()), wall_seconds=WALL_SECONDS
    )


def _run(challenge, dataset, submission, work, sandbox, warm, progress, cancel) -> DryRun:
    spec = challenge.spec

    def make_job(folder: Path, sub: str) -> dict:
        return {
            "phase": "train",
            "submission": sub,
            "challenge": job_spec(challenge),
            "seed": SEED,
            "output": "/out",
            "data": {
                "train_x": write_data(dataset.x_path("train"), folder, "train_x", ROWS),
                "train_y": write_data(dataset.y_path("train"), folder, "train_y", ROWS),
            },
            "dry_run": dict(DRY_RUN),
        }

    limits = limits_for(challenge, dataset.tier)
    steps: list[str] = []

    def seen(event: dict) -> None:
        if event.get("event") == "step":
            steps.append(event["step"])
        if progress is not None:
            progress(event)

    trained, used_warm = None, False
    try:
        # Holding the pool: its slot is replaced after this dry run, not during it.
        with warm.holding() if warm is not None else contextlib.nullcontext():
            slot = warm.take(limits) if warm is not None else None
            if slot is not None:
                used_warm = True
                trained = slot.hand_over(submission, make_job, limits, work, seen, cancel)
                used_warm = trained is not None  # None: it died first; run cold
            if trained is None:
                folder, sub = input_dir(work, "train", submission)
                write_job(folder, make_job(folder, sub))
                job = phase_job("train", folder, work, limits, {}, cancel)
                trained = run_phase(sandbox, "train", job, seen)
    except PhaseFailed as exc:
        failed = outcome(steps, exc.code, clean(str(exc)), exc.detail)
        result = DryRun(spec.slug, failed, sandbox.name, used_warm)
        if exc.run is not None:
            result.log_tail = _tail(exc.run)
        return result
    result = DryRun(spec.slug, Outcome(), sandbox.name, used_warm, 0.0, trained.result["warnings"])
    result.log_tail = _tail(trained.run)
    done = list(trained.result.get("steps") or steps)
    result.outcome = _host_checks(spec, trained, done)
    return result


def _host_checks(spec, trained, done: list[str]) -> Outcome:
    """The trusted side's checks: the predictions as scoring reads them, then the budget."""
    out = trained.out
    try:
        size = regular_file(out / "model.keras", "the saved model (model.keras)", 2**30)
        # What the model keeps besides weights, as a grading measures it (issue 19).
        carried = inspect(out / "model.keras", spec.contract.predict != "candidate")
        raw = read_predictions(out / "predictions_check.npy", "predictions_check.npy")
    except (OutputRejected, ModelRejected) as exc:
        return outcome(done, exc.code, clean(str(exc)))
    problem = check_predictions(raw, DRY_RUN["predict_rows"], spec.dataset.num_classes)
    if problem is not None:
        return outcome(done, problem[0], clean(problem[1]))
    weights = trained.result.get("param_count")
    counted = None if weights is None else weights + carried.numbers
    over = check_budget(spec.budget.model_dump(), counted, size)
    if over is not None:
        return outcome(done, "over_budget", over)
    return outcome(done)


def _tail(run, chars: int = 4000) -> str:
    text = "\n".join(s for s in (run.stdout, run.stderr) if s.strip())
    return clean(text[-chars:])
