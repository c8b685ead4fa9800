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

``--redis`` (issue 13): the same fast job through Redis, with 1 and then 2 ``assay worker``
processes (``--workers 1 2``), side by side in one run. Each configuration gets fresh state:
its own redis-server (started here on a free port of 127.0.0.1) and its own database
(PostgreSQL, the scale-out deployment's, from ``ASSAY_BENCH_POSTGRES_URL`` or the cluster
on 127.0.0.1; ``--database sqlite`` for a machine without one). N submissions are enqueued
in a burst (one commit each, as N candidates would), and per configuration it prints
submissions/s (first enqueue to last finished), enqueue -> sandbox p50/p99 (mostly the wait
behind the gradings ahead), claim -> sandbox p50/p99 (the dispatch itself), lost (never
finished), duplicates (a grading stored more than once, or two sandboxes for one try) and
the throughput ratio of 2 workers to 1. The ratio is bounded by this machine's cores: every
grading's sandbox needs CPU (its interpreter starts and imports until the 1 s limit).
Usage:

    .venv/bin/python bench/queue.py [--n 50] [--sandbox auto|docker|bwrap]
    .venv/bin/python bench/queue.py --n 50 --start --gap 8 [--warm]
    .venv/bin/python bench/queue.py --redis --workers 1 2 --n 60 [--database sqlite]
"""

# ruff: noqa: E402 (sys.path is fixed before the standard library is imported)
from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, this file's folder comes first on sys.path, and this file (queue.py)
# would shadow the standard library's ``queue`` that multiprocessing and others import.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse
import contextlib
import json
import os
import signal
import statistics
import subprocess
import tempfile
import time
from datetime import datetime

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.services import BenchDatabase, start_redis

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
    parser.add_argument("--redis", action="store_true", help="a burst through Redis (issue 13)")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="with --redis")
    parser.add_argument(
        "--database", default="postgresql", choices=["postgresql", "sqlite"], help="with --redis"
    )
    args = parser.parse_args()
    if args.redis:
        return main_redis(args)
    args.start = args.start or args.warm
    options = START_OPTIONS if args.start else OPTIONS

    from graders.dataset_build import prepare

    prepare(["mnist"])
    instance = Path(tempfile.mkdtemp(prefix="assay-bench-queue-"))
    os.environ.update(ASSAY_INSTANCE=str(instance), ASSAY_SANDBOX=args.sandbox)
    os.environ["ASSAY_WARM"] = "1" if args.warm else "0"
    os.environ.pop("ASSAY_QUEUE_URL", None)
    os.environ.pop("ASSAY_DATABASE_URL", None)

    from server.cli import migrate_instance, sessions
    from server.config import Config
    from server.db import make_engine
    from server.grading import use_queue
    from server.queue import get_huey

    migrate_instance()
    config = Config()
    factory = sessions(make_engine(config.DATABASE_URL))
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
    print("load average (1, 5, 15 min) at the end: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    for name, _key in STEPS:
        values = [row[name] for row in rows if name in row]
        if values:
            print(
                f"enqueue -> {name:<8} median {statistics.median(values):7.1f} ms"
                f"   p99 {percentile(values, 0.99):7.1f} ms   (n={len(values)})"
            )


# -- --redis: a burst through Redis with 1 and 2 workers (issue 13) ------------------------------


def _final_counts(factory) -> int:
    import sqlalchemy as sa

    from server.models import Grading

    with factory() as session:
        return session.scalar(
            sa.select(sa.func.count())
            .select_from(Grading)
            .where(Grading.status.in_(("graded", "failed")))
        )


def _all_events(factory) -> dict[int, list[tuple[str, dict, datetime]]]:
    import sqlalchemy as sa

    from server.models import ProgressEvent

    with factory() as session:
        rows = session.execute(
            sa.select(
                ProgressEvent.grading_id,
                ProgressEvent.kind,
                ProgressEvent.data_json,
                ProgressEvent.at,
            ).order_by(ProgressEvent.grading_id, ProgressEvent.seq)
        ).all()
    events: dict[int, list[tuple[str, dict, datetime]]] = {}
    for grading_id, kind, data_json, at in rows:
        events.setdefault(grading_id, []).append((kind, json.loads(data_json), at))
    return events


def _burst(workers: int, n: int, args, root: Path) -> dict:
    """One configuration: fresh Redis and database, ``workers`` processes, N at once."""
    from server.cli import sessions
    from server.db import make_engine
    from server.grading import use_queue
    from server.queue import make_huey

    instance = root / f"workers-{workers}"
    instance.mkdir()
    with contextlib.ExitStack() as stack:
        database = BenchDatabase(
            args.database, instance, label="queue", hint="or use --database sqlite"
        )
        stack.callback(database.close)
        redis, url = start_redis(instance)
        stack.callback(redis.wait, 10)
        stack.callback(redis.terminate)
        engine = make_engine(database.url)
        stack.callback(engine.dispose)
        factory = sessions(engine)
        use_queue(factory, make_huey(instance, url))
        env = {
            **os.environ,
            "ASSAY_INSTANCE": str(instance),
            "ASSAY_QUEUE_URL": url,
            "ASSAY_DATABASE_URL": database.url,
            "ASSAY_SANDBOX": args.sandbox,
            "ASSAY_WARM": "0",
            "ASSAY_WORKER_THREADS": "1",
        }
        procs = [_start_worker(instance / f"worker-{k}.log", env, stack) for k in range(workers)]
        # Warm-up: one grading per worker (imports, first container), not timed.
        for _ in range(workers):
            _submit(factory)
        _wait_count(factory, workers, procs, 300)
        queued: dict[int, datetime] = {}
        for _ in range(n):
            grading_id, at = _submit(factory)
            queued[grading_id] = at
        _wait_count(factory, workers + n, procs, max(300, 20 * n / workers), allow_short=True)
        events = _all_events(factory)
    return _figures(workers, queued, events)


def _start_worker(log_path: Path, env: dict, stack: contextlib.ExitStack) -> subprocess.Popen:
    log = stack.enter_context(log_path.open("wb"))
    proc = subprocess.Popen(
        [sys.executable, "-m", "server.cli", "worker"], stdout=log, stderr=log, cwd=ROOT, env=env
    )

    def stop() -> None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    stack.callback(stop)
    return proc


def _wait_count(factory, count: int, procs, seconds: float, allow_short=False) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if _final_counts(factory) >= count:
            return
        for proc in procs:
            if proc.poll() is not None:
                sys.exit(f"a worker exited with {proc.returncode}")
        time.sleep(0.2)
    if not allow_short:
        sys.exit(f"the warm-up did not end within {seconds:g} s")


def _figures(workers: int, queued: dict[int, datetime], events: dict) -> dict:
    enqueue_sandbox, claim_sandbox, finished = [], [], []
    lost = duplicates = retried = 0
    for grading_id, at in queued.items():
        seen = events.get(grading_id, [])
        claims = [t for k, d, t in seen if k == "status" and d.get("status") == "running"]
        finals = [
            t for k, d, t in seen if k == "status" and d.get("status") in ("graded", "failed")
        ]
        sandboxes = [
            t
            for k, d, t in seen
            if k == "phase" and d.get("phase") == "train" and d.get("status") == "sandbox"
        ]
        if not finals:
            lost += 1
            continue
        duplicates += len(finals) > 1 or len(sandboxes) > len(claims)
        retried += len(claims) > 1
        finished.append(finals[0])
        if sandboxes and claims:
            enqueue_sandbox.append((sandboxes[0] - at).total_seconds() * 1000)
            claim_sandbox.append((sandboxes[0] - claims[0]).total_seconds() * 1000)
    span = (max(finished) - min(queued.values())).total_seconds() if finished else float("nan")
    return {
        "workers": workers,
        "n": len(queued),
        "finished": len(finished),
        "seconds": span,
        "rate": len(finished) / span if finished else 0.0,
        "enqueue_sandbox": enqueue_sandbox,
        "claim_sandbox": claim_sandbox,
        "lost": lost,
        "duplicates": duplicates,
        "retried": retried,
    }


def _p(values: list[float], q: float) -> str:
    return f"{percentile(values, q):8.1f}" if values else "     n/a"


def main_redis(args) -> None:
    from graders.dataset_build import prepare

    prepare(["mnist"])
    os.environ.pop("ASSAY_QUEUE_URL", None)
    root = Path(tempfile.mkdtemp(prefix="assay-bench-queue-redis-"))
    os.environ["ASSAY_INSTANCE"] = str(root)
    results = []
    for workers in args.workers:
        print(f"{workers} worker(s): {args.n} submissions in a burst ...", flush=True)
        results.append(_burst(workers, args.n, args, root))
        print(f"  done in {results[-1]['seconds']:.1f} s", flush=True)
    cores = os.cpu_count()
    print(
        f"\n{args.n} submissions in a burst through Redis, {args.database} database, sandbox "
        f"{args.sandbox}, fast job (train limit 1 s), {cores} cores, {root}"
    )
    print("load average (1, 5, 15 min) at the end: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    print(
        "workers  submissions/s  wall s   enqueue->sandbox p50 / p99 ms"
        "   claim->sandbox p50 / p99 ms   lost  duplicates  retried"
    )
    for r in results:
        print(
            f"{r['workers']:>7}  {r['rate']:13.2f}  {r['seconds']:6.1f}   "
            f"{_p(r['enqueue_sandbox'], 0.5)} / {_p(r['enqueue_sandbox'], 0.99)}      "
            f"{_p(r['claim_sandbox'], 0.5)} / {_p(r['claim_sandbox'], 0.99)}    "
            f"{r['lost']:>4}  {r['duplicates']:>10}  {r['retried']:>7}"
        )
    by_workers = {r["workers"]: r for r in results}
    if 1 in by_workers and 2 in by_workers and by_workers[1]["rate"]:
        ratio = by_workers[2]["rate"] / by_workers[1]["rate"]
        print(f"\nthroughput ratio, 2 workers / 1 worker: {ratio:.2f}")
    print(
        f"The ratio is bounded by this machine's {cores} CPU cores, shared by both workers, "
        "their sandboxes, the database and Redis (and anything else running): it measures "
        "dispatch latency and loss under contention, not how the platform scales on "
        "separate hosts."
    )


if __name__ == "__main__":
    main()
