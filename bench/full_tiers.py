"""The full tiers' bars, measured: the references graded on the full data (issue 19).

- LeNet-5 reference on ``mnist/full`` (the original 60,000/10,000 IDX files, imported with
  ``assay data import mnist ../shared/data/mnist``) in the docker sandbox, with seeds 1234
  and 1235 (``--repeats 2``), against its 0.98 accuracy bar;
- BiLSTM sentiment reference on ``reviews/full`` (20,000/5,000 IMDB reviews) in the bwrap
  sandbox, against its F1 0.85 bar.

Each grading goes through ``graders.service.grade_submission`` (what ``assay grade`` runs)
and the bench prints the metrics, the bar, the verdict and the wall time. It trains for
minutes on all cores: run it on a machine of its own, not beside other work. Usage:

    .venv/bin/python bench/full_tiers.py                # both
    .venv/bin/python bench/full_tiers.py --only lenet   # or: --only sentiment
    .venv/bin/python bench/full_tiers.py --dry          # checks only: data, backends, files

``--dry`` opens the tiers (checksums verified), checks the backends and the reference
files and prints what it would run, without training: seconds, for CI and laptops.
"""

# ruff: noqa: E402 (sys.path is fixed before the standard library is imported)
from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, this file's folder comes first on sys.path, and bench/queue.py would
# shadow the standard library's ``queue`` (which urllib3, under the docker SDK, imports).
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse
import time

from graders.challenges import get_challenge
from graders.errors import AssayError
from graders.pipeline import GradeOptions
from graders.service import grade_submission, open_verified_dataset
from graders.verdicts import of_report
from sandbox.registry import BACKENDS

#: name -> (challenge, tier, backend, repeats)
RUNS = {
    "lenet": ("lenet5-mnist", "full", "docker", 2),
    "sentiment": ("sentiment-bilstm", "full", "bwrap", 1),
}


def check(name: str) -> list[str]:
    """What stops ``name`` from running here; empty when it can run."""
    slug, tier, backend, _ = RUNS[name]
    problems = []
    challenge = get_challenge(slug)
    if not challenge.path(challenge.spec.reference).is_file():
        problems.append(f"{slug}: no reference file")
    try:
        open_verified_dataset(challenge, tier)
    except AssayError as exc:
        problems.append(str(exc))
    ok, reason = BACKENDS[backend].available()
    if not ok:
        problems.append(f"{backend} sandbox unavailable: {reason}")
    return problems


def run(name: str) -> bool:
    slug, tier, backend, repeats = RUNS[name]
    challenge = get_challenge(slug)
    path = challenge.path(challenge.spec.reference)
    started = time.monotonic()
    report = grade_submission(
        challenge=slug,
        source=path.read_bytes(),
        filename=path.name,
        sandbox=backend,
        options=GradeOptions(tier=tier, repeats=repeats),
    )
    wall = time.monotonic() - started
    print(f"{slug} on {report.dataset}/{report.tier} in {backend}: {of_report(report).text()}")
    if report.status != "graded":
        print(f"  failed: {report.error.code}: {report.error.message}")
        return False
    for c in report.verdict.checks:
        print(f"  {c.metric}: {c.value} (bar {c.bar}, {'met' if c.met else 'missed'})")
    for r in report.runs:
        print(f"  run seed {r['seed']}: {r['metrics']}")
    rec = report.reproducibility
    print(f"  wall {wall:.0f} s; train {rec.get('train_wall_seconds')} s per run (last)")
    return report.passed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", choices=sorted(RUNS), help="Run one of the two.")
    parser.add_argument("--dry", action="store_true", help="Check, print, do not train.")
    args = parser.parse_args()
    names = [args.only] if args.only else list(RUNS)
    problems = {name: check(name) for name in names}
    for name in names:
        slug, tier, backend, repeats = RUNS[name]
        state = "ready" if not problems[name] else "NOT READY: " + "; ".join(problems[name])
        print(f"{name}: {slug} on {tier} in {backend}, {repeats} run(s): {state}")
    if any(problems.values()):
        return 2
    if args.dry:
        return 0
    results = [run(name) for name in names]
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
