"""Queue latency: from enqueueing a submission to its sandbox starting, through a real worker.

A fresh instance folder (SQLite database, SqliteHuey queue file), one ``assay worker``
process (``python -m server.cli worker``), and N submissions of a trivial job: a train phase
limited to 1 s, so the sandbox is stopped (``timeout``) about a second after it starts, before
the harness has even imported TensorFlow. Submissions go one at a time (each after the
previous one ended), so every figure is the latency of an idle worker, not time spent
behind another grading.

For each submission, from the commit that queues it (the id is sent to the queue right
after) to:

- **claimed**: the worker's conditional UPDATE took it (its ``status: running`` event);
- **sandbox**: the service asks the backend to start the train sandbox (``phase: sandbox``):
  claim, loading the submission, opening the dataset, the upload checks, staging the job
  folder. The backend's own start (a container: about 0.3 s) comes after this point.

- **code** (with ``--start``): the harness is about to run the candidate's code (its
  ``phase: start`` event, sent after its imports): the wait a candidate actually has. The
  train limit is then 60 s, so the harness gets that far; the trivial job raises at once.

``--warm`` (issue 14, implies ``--start``): the worker keeps its warm train sandbox
(``graders.warm``; without it the worker runs with ``ASSAY_WARM=0``); ``--gap S`` waits S
seconds between submissions, so an idle worker's warm sandbox has finished its imports.
Times are the worker's event timestamps against this process's clock (same machine).
Usage:

    .venv/bin/python bench/queue.py [--n 50] [--sandbox auto|docker|bwrap]
    .venv/bin/python bench/queue.py --n 50 --start --gap 8 [--warm]
"""

# ruff: noqa: E402 (sys.path is fixed before the standard library is imported)
from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, this file's folder comes first on sys.path, and this file (queue.py)
# would shadow the standard library's ``queue`` that multiprocessing and others import.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse
import json
import os
import signal
import statistics
import subprocess
import tempfile
import time
from datetime import datetime

ROOT = Path(__file__).resolve().parent.parent
TRIVIAL = b'raise RuntimeError("a trivial job: nothing to train")\n'
#: Stops each grading about a second after its sandbox starts.
OPTIONS = {"train_limit": 100, "test_limit": 100, "train_seconds": 1, "predict_seconds": 1}
#: With --start: long enough for a cold sandbox's imports, so the harness reaches the code.
START_OPTIONS = {**OPTIONS, "train_seconds": 60}


STEPS = (("claimed", "status:running"), ("sandbox", "train:sandbox"), ("code", "train:start"))


def percentile(values: list[float], q: float) -> float:
    """The ``q`` quantile (0..1) by the nearest-rank rule: p99 of 50 values is the largest."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, int(-(-q * len(ordered) // 1)) - 1))]


def _events(factory, grading_id: int) -> dict[str, datetime]:
    import sqlalchemy as sa

    from server.models import ProgressEvent

    seen: dict[str, datetime] = {}
    with factory() as session:
        rows = session.execute(
            sa.select(ProgressEvent.kind, ProgressEvent.data_json, ProgressEvent.at)
            .where(ProgressEvent.grading_id == grading_id)
            .order_by(ProgressEvent.seq)
        ).all()
    for kind, data_json, at in rows:
        data = json.loads(data_json)
        if kind == "status":
            seen.setdefault(f"status:{data.get('status')}", at)
        elif kind == "phase" and data.get("phase") == "train":
            seen.setdefault(f"train:{data.get('status')}", at)
    return seen


def _submit(factory, options=OPTIONS) -> tuple[int, datetime]:
    from server.grading import enqueue_submission
    from server.models import Submission, utcnow

    with factory() as session:
        sub = Submission(
            challenge_slug="lenet5-mnist",
            filename="solution.py",
            source=TRIVIAL,
            sha256="0" * 64,
            size=len(TRIVIAL),
        )
        session.add(sub)
        grading = enqueue_submission(session, sub, options)
        session.flush()
        queued = utcnow()
        session.commit()  # the id goes to the queue here (after commit)
        return grading.id, queued


def _wait_done(factory, grading_id: int, worker: subprocess.Popen, seconds=120) -> dict:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        seen = _events(factory, grading_id)
        if "status:failed" in seen or "status:graded" in seen:
            return seen
        if worker.poll() is not None:
            sys.exit(f"the worker exited with {worker.returncode}")
        time.sleep(0.05)
    sys.exit(f"grading {grading_id} did not end within {seconds} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=50)
    parser.add_argument("--sandbox", default="auto", choices=["auto", "docker", "bwrap"])
    parser.add_argument("--start", action="store_true", help="also time enqueue -> code")
    parser.add_argument("--warm", action="store_true", help="the worker keeps warm sandboxes")
    parser.add_argument("--gap", type=float, default=0.0, help="seconds between submissions")
    args = parser.parse_args()
    args.start = args.start or args.warm
    options = START_OPTIONS if args.start else OPTIONS

    from graders.datasets import prepare

    prepare(["mnist"])
    instance = Path(tempfile.mkdtemp(prefix="assay-bench-queue-"))
    os.environ.update(ASSAY_INSTANCE=str(instance), ASSAY_SANDBOX=args.sandbox)
    os.environ["ASSAY_WARM"] = "1" if args.warm else "0"
    os.environ.pop("ASSAY_QUEUE_URL", None)
    os.environ.pop("ASSAY_DATABASE_URL", None)

    from server.cli import migrate_instance
    from server.config import Config
    from server.db import make_engine, make_session_factory
    from server.grading import use_queue
    from server.queue import get_huey

    migrate_instance()
    config = Config()
    factory = make_session_factory(make_engine(config.DATABASE_URL))
    use_queue(factory, get_huey(config.INSTANCE_PATH, config.QUEUE_URL))
    log = open(instance / "worker.log", "wb")  # noqa: SIM115 (lives as long as the worker)
    worker = subprocess.Popen(
        [sys.executable, "-m", "server.cli", "worker"], stdout=log, stderr=log, cwd=ROOT
    )
    rows = []
    try:
        _wait_done(factory, _submit(factory, options)[0], worker)  # warm-up: imports, first run
        for i in range(args.n):
            time.sleep(args.gap)
            grading_id, queued = _submit(factory, options)
            seen = _wait_done(factory, grading_id, worker)
            row = {
                name: (seen[key] - queued).total_seconds() * 1000
                for name, key in STEPS
                if key in seen
            }
            rows.append(row)
            print(f"{i + 1:>3}  " + "  ".join(f"{k} {v:7.1f} ms" for k, v in row.items()))
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(60)
        log.close()

    mode = ("warm" if args.warm else "cold") + f" train sandbox, gap {args.gap:g} s"
    print(f"\n{args.n} submissions, one at a time, sandbox {args.sandbox}, {mode}, {instance}")
    for name, _key in STEPS:
        values = [row[name] for row in rows if name in row]
        if values:
            print(
                f"enqueue -> {name:<8} median {statistics.median(values):7.1f} ms"
                f"   p99 {percentile(values, 0.99):7.1f} ms   (n={len(values)})"
            )


if __name__ == "__main__":
    main()
