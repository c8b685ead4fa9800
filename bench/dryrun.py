"""The dry run's time (``assay check``, the web's check before grading), warm and cold, beside
a full grading's time to its first epoch.

For each backend, interleaved, ``--repeats`` times:

- dry run, cold: ``graders.dryrun.dry_run`` on the LeNet reference in a sandbox started for it;
- dry run, warm: the same with a ``graders.warm.WarmPool`` slot shaped for dry runs (the
  worker's dry-run lane keeps one), started ahead; the bench waits ``--settle`` seconds
  before each warm run so that the slot has done its imports (a candidate's upload finds it
  ready: the lane's slot is idle between uploads);
- full grading, cold and warm: ``graders.pipeline.grade`` with the reference until its first
  epoch event (then cancelled: the rest is training, which the dry run never does).

Times are the host's wall clock from the call to the result (dry run) or to the first epoch
event (grading). Prints every run and p50/p99 per series (p99 of a few runs is their
maximum). Targets: a dry run within 20 s warm and 45 s cold. Usage:

    .venv/bin/python bench/dryrun.py [--repeats 20] [--backend docker --backend bwrap]
    .venv/bin/python bench/dryrun.py --dry-only --repeats 20   # the dry-run series only
"""

# ruff: noqa: E402 (sys.path is fixed before the standard library is imported)
from __future__ import annotations

import sys
from pathlib import Path

# bench/queue.py would shadow the standard library's ``queue`` (see bench/overhead.py).
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse
import statistics
import threading
import time

from graders.challenges import get_challenge
from graders.datasets import open_dataset
from graders.dryrun import dry_run, limits_for
from graders.pipeline import GradeOptions, grade
from graders.warm import Shape, WarmPool, shape_for
from sandbox.registry import get_sandbox

REFERENCE = Path("challenges/lenet5-mnist/reference/solution.py")
SLUG = "lenet5-mnist"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1))))
    return ordered[k]


def dry_seconds(sandbox, pool) -> float:
    started = time.monotonic()
    result = dry_run(
        challenge=SLUG,
        source=REFERENCE.read_bytes(),
        filename=REFERENCE.name,
        sandbox=sandbox,
        warm=pool,
    )
    took = time.monotonic() - started
    if not result.passed:  # a timeout on a loaded machine: its time still counts
        print(f"  (the reference's dry run failed: {result.outcome.code})")
    if pool is not None and not result.warm:
        print("  (the warm slot was not ready: this run started cold)")
    return took


def first_epoch_seconds(challenge, dataset, sandbox, pool) -> float:
    cancel, first = threading.Event(), []
    started = time.monotonic()

    def progress(event: dict) -> None:
        if event.get("event") == "epoch" and not first:
            first.append(time.monotonic() - started)
            cancel.set()  # the rest is training: not what this bench compares

    grade(challenge, dataset, REFERENCE, sandbox, GradeOptions(), progress, cancel, pool)
    if not first:
        raise SystemExit("the grading ended before its first epoch")
    return first[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--backend", action="append", choices=["docker", "bwrap"])
    parser.add_argument("--settle", type=float, default=15.0, help="seconds before a warm run")
    parser.add_argument(
        "--dry-only", action="store_true", help="only the dry-run series (more runs in less time)"
    )
    args = parser.parse_args()
    challenge = get_challenge(SLUG)
    dataset = open_dataset(challenge.spec.dataset.name, challenge.spec.dataset.default_tier)
    rows = []
    for name in args.backend or ["docker", "bwrap"]:
        sandbox = get_sandbox(name)
        dry_pool = WarmPool(sandbox, Shape.of(limits_for(challenge, dataset.tier)))
        grade_pool = WarmPool(sandbox, shape_for(challenge, dataset.tier))
        series: dict[str, list[float]] = {
            "dry run, cold": [],
            "dry run, warm": [],
            "grading to 1st epoch, cold": [],
            "grading to 1st epoch, warm": [],
        }
        try:
            for i in range(args.repeats):
                runs = (
                    ("dry run, cold", dry_seconds, (sandbox, None)),
                    ("dry run, warm", dry_seconds, (sandbox, dry_pool)),
                    (
                        "grading to 1st epoch, cold",
                        first_epoch_seconds,
                        (challenge, dataset, sandbox, None),
                    ),
                    (
                        "grading to 1st epoch, warm",
                        first_epoch_seconds,
                        (challenge, dataset, sandbox, grade_pool),
                    ),
                )
                for label, run, run_args in runs[:2] if args.dry_only else runs:
                    if label.endswith("warm"):
                        time.sleep(args.settle)  # the slot's imports done, as between uploads
                    seconds = run(*run_args)
                    series[label].append(seconds)
                    print(f"{name} run {i + 1}: {label}: {seconds:.1f} s", flush=True)
        finally:
            dry_pool.close()
            grade_pool.close()
        for label, values in series.items():
            if values:
                rows.append((name, label, values))
    print(f"\n{'backend':<8} {'series':<28} {'n':>3} {'p50 s':>7} {'p99 s':>7} {'mean s':>7}")
    for name, label, values in rows:
        print(
            f"{name:<8} {label:<28} {len(values):>3} {statistics.median(values):>7.1f} "
            f"{percentile(values, 99):>7.1f} {statistics.fmean(values):>7.1f}"
        )


if __name__ == "__main__":
    main()
