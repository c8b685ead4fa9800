"""Deadline rush (issue 23): fair order against plain FIFO, side by side, in one run.

Three assessments on this machine: A's candidates upload ``200 x scale`` submissions inside
the window, B's and C's ``10 x scale`` each (at least one) inside the same window, and
reviewers press ``10 x scale`` re-grades of earlier A submissions. Arrival times are drawn
once (``--seed``) and replayed for every configuration: ``fair`` (``ASSAY_QUEUE_ORDER=fair``,
the default) and ``fifo`` (by arrival, the order before issue 23), on ``sqlite`` (the
instance's SQLite database and queue file) and on ``postgresql`` (Redis + PostgreSQL, a
redis-server started here on a free port and a fresh database). Each configuration gets
fresh state and two ``assay worker`` processes (one grading each) on the docker backend:
every grading is a real train container and a real predict container running an honest,
short LeNet-5 (one epoch on ``--train-limit`` images: seconds of training).

The window is ``600 x scale`` seconds (``--window`` overrides it): ``--scale 0.1`` is the
same rush ten times smaller and ten times faster, so the queue is as overloaded as in the
full run, for a tenth of the time.

Printed per configuration: p50/p95 wait (queued to claimed) per assessment and for the
re-grades, the measured grading duration (median claim to result), B's and C's p95 wait in
grading durations (fair order: at most 3), the time to drain (first arrival to last result)
and its ratio to FIFO's on the same database (at most 1.05), lost gradings (never finished)
and gradings finished twice (both must be 0), and the median absolute error of the start
time estimated when each submission arrived (``server.fairqueue.estimate``, what the
candidate's page shows) against the real claim time.

Usage (the full run takes about 80 minutes on two cores with nothing else running; other
work on the machine slows the containers and skews the comparison):

    .venv/bin/python bench/rush.py --scale 0.1                       # both databases
    .venv/bin/python bench/rush.py --scale 1 --train-limit 300       # as in docs/benchmarks.md
"""

# ruff: noqa: E402 (sys.path is fixed before the standard library is imported)
from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, this file's folder (bench/, which has a queue.py) would come first on
# sys.path and shadow the standard library's ``queue``.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse
import contextlib
import json
import os
import random
import signal
import statistics
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.services import BenchDatabase, start_redis

#: An honest LeNet-5, trained for one epoch: seconds of training on a few thousand images.
SOLUTION = b"""import keras
from keras import layers


def build_model():
    model = keras.Sequential(
        [
            keras.Input(shape=(28, 28, 1)),
            layers.Conv2D(6, 5, padding="same", activation="relu"),
            layers.MaxPooling2D(2),
            layers.Conv2D(16, 5, activation="relu"),
            layers.MaxPooling2D(2),
            layers.Flatten(),
            layers.Dense(120, activation="relu"),
            layers.Dense(84, activation="relu"),
            layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def train(model, x_train, y_train):
    model.fit(x_train, y_train, epochs=1, batch_size=64, verbose=2)
    return model
"""
ASSESSMENTS = ("A", "B", "C")


def percentile(values: list[float], q: float) -> float:
    """The ``q`` quantile (0..1) by the nearest-rank rule."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, int(-(-q * len(ordered) // 1)) - 1))]


@dataclass(frozen=True)
class Arrival:
    at: float  # seconds after the window opens
    kind: str  # "A", "B", "C" (a new upload) or "regrade"
    index: int


def plan(scale: float, window: float, seed: int) -> list[Arrival]:
    rng = random.Random(seed)
    counts = {"A": 200, "B": 10, "C": 10, "regrade": 10}
    arrivals = []
    for kind, full in counts.items():
        n = max(1, round(full * scale))
        arrivals += [Arrival(rng.uniform(0, window), kind, i) for i in range(n)]
    return sorted(arrivals, key=lambda a: a.at)


# -- the parts: redis, a database, workers ---------------------------------------------------


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


# -- one configuration -----------------------------------------------------------------------


@dataclass
class Run:
    database: str
    order: str
    waits: dict[str, list[float]] = field(default_factory=dict)
    duration: float = 0.0
    drain: float = 0.0
    lost: int = 0
    twice: int = 0
    estimate_errors: list[float] = field(default_factory=list)
    estimated: int = 0
    submitted: int = 0


def _people(factory, counts: dict[str, int]):
    """Assessments A, B, C, one candidate per upload, and A's already graded submissions."""
    from graders.report import Report
    from server.models import Assessment, Grading, Invitation, User, utcnow

    with factory() as session:
        owner = User(email="rush@example.test", name="Rush", role="recruiter", password_hash="x")
        session.add(owner)
        session.flush()
        ids: dict[str, int] = {}
        for name in ASSESSMENTS:
            assessment = Assessment(
                owner_id=owner.id, title=name, time_limit_minutes=60, dataset_tier="sample"
            )
            session.add(assessment)
            session.flush()
            ids[name] = assessment.id
        people: dict[tuple[str, int], int] = {}
        n = 0
        for kind, count in counts.items():
            for i in range(count):
                n += 1
                invitation = Invitation(
                    assessment_id=ids["A" if kind == "regrade" else kind],
                    candidate_name=f"{kind}{i}",
                    candidate_email=f"{kind.lower()}{i}@example.test",
                    token_hash=f"{n:064d}",
                    expires_at=utcnow() + timedelta(days=1),
                )
                session.add(invitation)
                session.flush()
                people[(kind, i)] = invitation.id
        earlier: dict[int, int] = {}
        for i in range(counts["regrade"]):  # graded before the rush; reviewers re-grade them
            sub = _submission(people[("regrade", i)])
            report = Report(
                challenge="lenet5-mnist", title="", dataset="mnist", tier="sample", status="graded"
            )
            sub.gradings.append(
                Grading(
                    status="graded",
                    options_json=json.dumps(_options()),
                    report_json=report.to_json(),
                    invitation_id=people[("regrade", i)],
                    assessment_id=ids["A"],
                )
            )
            session.add(sub)
            session.flush()
            earlier[i] = sub.id
        session.commit()
        return people, earlier


def _submission(invitation_id: int | None):
    import hashlib

    from server.models import Submission

    return Submission(
        invitation_id=invitation_id,
        challenge_slug="lenet5-mnist",
        filename="solution.py",
        source=SOLUTION,
        sha256=hashlib.sha256(SOLUTION).hexdigest(),
        size=len(SOLUTION),
    )


_TRAIN_LIMIT = 2000


def _options() -> dict:
    return {"tier": "sample", "train_limit": _TRAIN_LIMIT}


def _arrive(factory, arrival: Arrival, people, earlier) -> tuple[int, str]:
    """Queue one upload or re-grade; its grading id and assessment label."""
    from server import grading as g
    from server.models import Submission

    with factory() as session:
        if arrival.kind == "regrade":
            sub = session.get(Submission, earlier[arrival.index])
            row = g.regrade(session, sub)
        else:
            sub = _submission(people[(arrival.kind, arrival.index)])
            session.add(sub)
            row = g.enqueue_submission(session, sub, _options())
        session.commit()
        return row.id, arrival.kind


def run(database: str, order: str, arrivals: list[Arrival], args, root: Path) -> Run:
    import sqlalchemy as sa

    from server import fairqueue
    from server import grading as g
    from server.cli import sessions
    from server.db import make_engine
    from server.models import Grading, ProgressEvent, utcnow
    from server.queue import make_huey

    os.environ["ASSAY_QUEUE_ORDER"] = order  # this process's estimates read the same order
    result = Run(database, order)
    instance = root / f"{database}-{order}"
    instance.mkdir()
    counts = {
        kind: sum(1 for a in arrivals if a.kind == kind) for kind in (*ASSESSMENTS, "regrade")
    }
    with contextlib.ExitStack() as stack:
        db = BenchDatabase(database, instance, label="rush", hint="or --databases sqlite")
        stack.callback(db.close)
        url = ""
        if database == "postgresql":
            redis, url = start_redis(instance)
            stack.callback(redis.wait, 10)
            stack.callback(redis.terminate)
        engine = make_engine(db.url)
        stack.callback(engine.dispose)
        factory = sessions(engine)
        g.use_queue(factory, make_huey(instance, url))
        env = {
            **os.environ,
            "ASSAY_INSTANCE": str(instance),
            "ASSAY_QUEUE_URL": url,
            "ASSAY_DATABASE_URL": db.url,
            "ASSAY_SANDBOX": args.sandbox,
            "ASSAY_WARM": "0",
            "ASSAY_WORKER_THREADS": "1",
            "ASSAY_QUEUE_ORDER": order,
        }
        people, earlier = _people(factory, counts)
        procs = [
            _start_worker(instance / f"worker-{k}.log", env, stack) for k in range(args.workers)
        ]
        # Warm-up (not counted): one grading per worker, which also times the first runs.
        warm = []
        for _ in range(args.workers):
            with factory() as session:
                sub = _submission(None)
                session.add(sub)
                warm.append(g.enqueue_submission(session, sub, _options()).id)
                session.commit()
        _wait_ended(factory, warm, procs, 600)

        kinds: dict[int, str] = {}
        estimates: dict[int, datetime] = {}
        opened = time.monotonic()
        opened_at = utcnow()
        for arrival in arrivals:
            delay = opened + arrival.at - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            grading_id, kind = _arrive(factory, arrival, people, earlier)
            kinds[grading_id] = kind
            with factory() as session:
                shown = fairqueue.estimate(session, session.get(Grading, grading_id))
            if shown is not None and shown.start is not None:
                estimates[grading_id] = shown.start
            _check_workers(procs)
        result.submitted = len(kinds)
        grading_seconds = _median_duration(factory) or 30.0
        _wait_ended(
            factory, list(kinds), procs, max(600, 3 * grading_seconds * len(kinds) / args.workers)
        )
        with factory() as session:
            rows = session.execute(
                sa.select(
                    Grading.id,
                    Grading.status,
                    Grading.queued_at,
                    Grading.started_at,
                    Grading.finished_at,
                ).where(Grading.id.in_(list(kinds)))
            ).all()
            finals = session.execute(
                sa.select(ProgressEvent.grading_id, ProgressEvent.data_json).where(
                    ProgressEvent.kind == "status", ProgressEvent.grading_id.in_(list(kinds))
                )
            ).all()
    ended: dict[int, int] = {}
    for grading_id, data in finals:
        if json.loads(data).get("status") in ("graded", "failed"):
            ended[grading_id] = ended.get(grading_id, 0) + 1
    durations = []
    last = opened_at
    for row in rows:
        if row.status not in ("graded", "failed"):
            result.lost += 1
            continue
        result.twice += ended.get(row.id, 0) > 1
        kind = kinds[row.id]
        result.waits.setdefault(kind, []).append((row.started_at - row.queued_at).total_seconds())
        durations.append((row.finished_at - row.started_at).total_seconds())
        last = max(last, row.finished_at)
        if row.id in estimates:
            result.estimate_errors.append(abs((row.started_at - estimates[row.id]).total_seconds()))
    result.lost += len(kinds) - len(rows)
    result.estimated = len(estimates)
    result.duration = statistics.median(durations) if durations else 0.0
    result.drain = (last - opened_at).total_seconds()
    return result


def _median_duration(factory) -> float | None:
    from server import fairqueue

    with factory() as session:
        medians = fairqueue.expected_seconds(session)
    return medians.get(("", ""))


def _check_workers(procs) -> None:
    for proc in procs:
        if proc.poll() is not None:
            sys.exit(f"a worker exited with {proc.returncode}")


def _wait_ended(factory, ids: list[int], procs, seconds: float) -> None:
    import sqlalchemy as sa

    from server.models import Grading

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with factory() as session:
            left = session.scalar(
                sa.select(sa.func.count())
                .select_from(Grading)
                .where(Grading.id.in_(ids), Grading.status.in_(("queued", "running")))
            )
        if not left:
            return
        _check_workers(procs)
        time.sleep(0.5)
    print(f"  (stopped waiting after {seconds:.0f} s: {left} not finished)", flush=True)


# -- the report ------------------------------------------------------------------------------


def _row(label: str, values: list[str]) -> str:
    return f"{label:<34}" + "".join(f"{v:>18}" for v in values)


def report(runs: list[Run], args) -> None:
    print()
    print(
        f"deadline rush, scale {args.scale:g}, window {args.window:g} s, {args.workers} docker "
        f"workers, train_limit {args.train_limit}, seed {args.seed}"
    )
    print(_row("", [f"{r.database} {r.order}" for r in runs]))
    for kind in (*ASSESSMENTS, "regrade"):
        label = "re-grades" if kind == "regrade" else f"assessment {kind}"
        cells = []
        for r in runs:
            waits = r.waits.get(kind, [])
            if waits:
                cells.append(f"{percentile(waits, 0.5):.0f} / {percentile(waits, 0.95):.0f} s")
            else:
                cells.append("-")
        print(_row(f"{label} wait p50 / p95", cells))
    print(_row("grading duration (median)", [f"{r.duration:.1f} s" for r in runs]))
    for kind in ("B", "C"):
        cells = []
        for r in runs:
            waits = r.waits.get(kind, [])
            ok = ""
            if waits and r.duration:
                ratio = percentile(waits, 0.95) / r.duration
                ok = " ok" if r.order == "fair" and ratio <= 3 else ""
                cells.append(f"{ratio:.1f}x{ok}")
            else:
                cells.append("-")
        print(_row(f"{kind} p95 wait / duration", cells))
    print(_row("time to drain", [f"{r.drain:.0f} s" for r in runs]))
    fifo = {r.database: r.drain for r in runs if r.order == "fifo"}
    print(
        _row(
            "drain vs FIFO (same database)",
            [f"{r.drain / fifo[r.database]:.3f}" if fifo.get(r.database) else "-" for r in runs],
        )
    )
    print(
        _row(
            "submitted / lost / finished twice",
            [f"{r.submitted} / {r.lost} / {r.twice}" for r in runs],
        )
    )
    print(
        _row(
            "start estimate: median abs error",
            [
                f"{statistics.median(r.estimate_errors):.0f} s (n={len(r.estimate_errors)})"
                if r.estimate_errors
                else "-"
                for r in runs
            ],
        )
    )
    print("load average (1, 5, 15 min) at the end: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    print(flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", type=float, default=1.0, help="submissions and window x this")
    parser.add_argument("--window", type=float, default=None, help="seconds (600 x scale)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--sandbox", default="docker", choices=["docker", "bwrap", "auto"])
    parser.add_argument(
        "--databases", nargs="+", default=["postgresql", "sqlite"], choices=["postgresql", "sqlite"]
    )
    parser.add_argument("--orders", nargs="+", default=["fair", "fifo"], choices=["fair", "fifo"])
    parser.add_argument("--train-limit", type=int, default=2000, help="train images per grading")
    parser.add_argument("--seed", type=int, default=23)
    args = parser.parse_args()
    if args.window is None:
        args.window = 600 * args.scale
    global _TRAIN_LIMIT
    _TRAIN_LIMIT = args.train_limit

    from graders.dataset_build import prepare

    prepare(["mnist"])
    arrivals = plan(args.scale, args.window, args.seed)
    root = Path(tempfile.mkdtemp(prefix="assay-bench-rush-"))
    print(f"{len(arrivals)} arrivals in {args.window:g} s; state under {root}", flush=True)
    runs = []
    for database in args.databases:
        for order in args.orders:
            started = time.monotonic()
            print(f"-- {database}, {order} ...", flush=True)
            runs.append(run(database, order, arrivals, args, root))
            print(f"   done in {time.monotonic() - started:.0f} s", flush=True)
            if len(runs) < len(args.databases) * len(args.orders):
                report(runs, args)  # so far: a long run that stops keeps what it measured
    report(runs, args)


if __name__ == "__main__":
    main()
