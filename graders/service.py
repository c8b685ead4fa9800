"""The one call that grades a stored submission: used by the worker and by ``assay grade``.

``grade_submission`` never raises. Whatever goes wrong becomes a failed ``Report`` whose
error code comes from ``graders.catalogue``: the file is refused (candidate), the code
crashes or misbehaves in the sandbox (candidate), or the platform fails — no sandbox, a
missing dataset, a bug of ours (platform, with the traceback kept in ``error.detail`` for
staff). An unattended worker can call it thousands of times and only ever store results.

Threads: ``progress`` is called from the grading's helper threads (the progress channel's
reader, the heartbeat), never from the caller's thread; it must be thread-safe and quick.
A ``{"event": "heartbeat"}`` arrives every ``HEARTBEAT_SECONDS`` while the grading runs,
produced on the host (not by the sandbox), so a worker can renew its lease with it.
"""

from __future__ import annotations

import json
import logging
import threading
import traceback
from collections.abc import Callable
from pathlib import Path, PurePath

from graders.catalogue import ErrorCode
from graders.challenges import get_challenge
from graders.datasets import PreparedDataset, open_dataset
from graders.errors import AssayError, DatasetError, UnknownChallengeError
from graders.pipeline import GradeOptions, grade
from graders.report import ErrorInfo, Report, failed_report
from graders.scoring import blank_report, open_challenge_dataset
from graders.splits import for_grading
from graders.submissions import check_submission, strip_identity
from graders.text import clean
from sandbox.base import Sandbox
from sandbox.errors import SandboxError, SandboxUnavailable
from sandbox.lifecycle import owned_work_dir
from sandbox.registry import pick_sandbox

log = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 5.0

Progress = Callable[[dict], None]


def grade_submission(
    *,
    challenge: str,
    source: bytes,
    filename: str,
    sandbox: str | Sandbox = "auto",
    options: GradeOptions | None = None,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
    image: str | None = None,
    warm=None,
) -> Report:
    """Check, train, predict and score one submission; a ``Report`` whatever happens.

    ``filename`` only tells a script from a notebook (its suffix); it is never used as a
    path. ``sandbox`` is a backend name (``auto`` prefers Docker) or a ready ``Sandbox``;
    ``image`` is the docker backend's grader image. Setting ``cancel`` ends the grading
    with ``cancelled``. ``warm``: a ``graders.warm.WarmPool`` of started train sandboxes
    (the worker's; its backend should be ``sandbox``'s); without one, every sandbox starts cold.
    """
    options = options or GradeOptions()
    say = _safe(progress)
    beat = _Heartbeat(say)
    try:
        return _grade(challenge, source, filename, sandbox, image, options, say, cancel, warm)
    except Exception as exc:  # the promise: nothing escapes
        log.exception("grading crashed")
        return _platform_failure(challenge, exc)
    finally:
        beat.stop()


def _grade(slug, source, filename, sandbox, image, options, progress, cancel, warm) -> Report:
    try:
        challenge = get_challenge(slug)
        dataset = for_grading(open_verified_dataset(challenge, options.tier), options.split_seed)
        if options.bars:
            challenge = challenge.with_bars(dataset.tier, options.bars)
    except (UnknownChallengeError, DatasetError) as exc:
        return _platform_failure(slug, exc, with_traceback=False)
    report = blank_report(challenge, dataset)
    suffix = PurePath(filename).suffix.lower()
    problem = check_submission(filename, source)
    if problem is not None:
        return failed_report(
            report, problem.code, clean(problem.message), phase="upload", detail=problem.detail
        )
    if isinstance(sandbox, str):
        try:
            sandbox = pick_sandbox(sandbox, image)
        except SandboxUnavailable as exc:
            return failed_report(
                report, ErrorCode.SANDBOX_UNAVAILABLE.code, str(exc), phase="sandbox"
            )
    with owned_work_dir("source") as tmp:
        path = Path(tmp) / f"solution{suffix}"
        path.write_bytes(strip_identity(source) if suffix == ".ipynb" else source)
        try:
            return grade(challenge, dataset, path, sandbox, options, progress, cancel, warm)
        except SandboxError as exc:  # the engine failed under us: ours, not the candidate's
            log.warning("sandbox failed: %s", exc)
            return failed_report(
                report,
                ErrorCode.PLATFORM_ERROR.code,
                clean(str(exc)),
                phase="sandbox",
                detail=traceback.format_exc(),
            )


_verified_lock = threading.Lock()
_verified: dict[Path, tuple] = {}


def open_verified_dataset(challenge, tier: str | None = None) -> PreparedDataset:
    """``open_challenge_dataset``, its checksums verified once per process per tier.

    Verifying reads every file of the tier (tens of MB on the full tiers) on every grading
    otherwise. A tier is verified again when any of its files differs from the one verified
    (inode, size or mtime): ``assay data prepare`` writes a new folder, and an edited file
    has a new mtime.
    """
    tier = tier or challenge.spec.dataset.default_tier
    challenge.spec.bars(tier)  # an unknown tier is a usage error, not missing data
    opened = open_dataset(challenge.spec.dataset.name, tier, verify=False)
    seen = _file_stats(opened)
    with _verified_lock:
        if seen is not None and _verified.get(opened.root) == seen:
            return opened
    dataset = open_challenge_dataset(challenge, tier)  # DatasetError names the fix
    if seen is not None and _file_stats(dataset) == seen:
        with _verified_lock:
            _verified[dataset.root] = seen
    return dataset


def _file_stats(dataset: PreparedDataset) -> tuple | None:
    """What tells the tier's files apart from the ones verified; None when one is missing."""
    stats = []
    for rel in sorted(dataset.manifest["files"]):
        try:
            st = (dataset.root / rel).stat()
        except OSError:
            return None
        stats.append((rel, st.st_ino, st.st_size, st.st_mtime_ns))
    return (json.dumps(dataset.manifest, sort_keys=True), *stats)


def _platform_failure(slug: str, exc: BaseException, with_traceback: bool = True) -> Report:
    """A failed report for a failure of ours; staff see the traceback in ``detail``."""
    code = ErrorCode.PLATFORM_ERROR
    message = str(exc) if isinstance(exc, AssayError) else f"{type(exc).__name__}: {exc}"
    detail = traceback.format_exc() if with_traceback else ""
    return Report(
        challenge=clean(slug, multiline=False, limit=64),
        title="",
        dataset="",
        tier="",
        status="failed",
        error=ErrorInfo(code=code.code, message=clean(message), phase="platform", detail=detail),
    )


def _safe(progress: Progress | None) -> Progress | None:
    """``progress`` that logs instead of raising: a broken display must not fail a grading."""
    if progress is None:
        return None

    def call(event: dict) -> None:
        try:
            progress(event)
        except Exception:
            log.exception("progress callback failed on %s", event.get("event"))

    return call


class _Heartbeat:
    """Calls ``progress({"event": "heartbeat"})`` every few seconds on its own thread."""

    def __init__(self, progress: Progress | None, every: float = HEARTBEAT_SECONDS):
        self._stop = threading.Event()
        self._thread = None
        if progress is not None:
            self._thread = threading.Thread(
                target=self._beat, args=(progress, every), name="grading-heartbeat", daemon=True
            )
            self._thread.start()

    def _beat(self, progress: Progress, every: float) -> None:
        # The first beat after one interval, not at once: the claim has just set the lease,
        # and a write now would compete with the grading's own on its way to the sandbox.
        while not self._stop.wait(every):
            progress({"event": "heartbeat"})

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
