"""Sandbox overhead: the reference LeNet graded through the docker sandbox vs bare.

Both sides use the same grader image and the same prepared data, interleaved, several
repetitions in one run:

- bare: one `docker run` of the image, no Assay limits or harness: one Python process
  imports TensorFlow, trains the reference solution and predicts the test inputs.
- graded: `graders.pipeline.grade` with the docker sandbox (what `assay grade --sandbox
  docker` runs): upload checks, a train container, a predict container, scoring.

Prints each repetition, the medians, the ratio graded/bare and the fixed overhead
(graded - bare) in seconds. Usage:

    .venv/bin/python bench/overhead.py [--repeats 3] [--tier sample]
    .venv/bin/python bench/overhead.py --repeats 3 --full-size-stand-in
    .venv/bin/python bench/overhead.py --repeats 3 --warm [--backend docker|bwrap]

``--warm`` (issue 14): the graded side trains in a warm sandbox of a ``graders.warm.WarmPool``
(started ahead, imports done, as a worker's grading slot holds one), and the bench prints
where the graded side's time outside the solution's code goes, from the grading's progress
events: staging before the hand-over, the hand-over, the train phase outside the code (data
loading, saving the model), collecting the model, the predict phase, collecting and scoring.
Its replacement starts at the hand-over, as in the worker, so its imports share the CPUs
with the training (counted); the bench waits ``--settle`` seconds before the first bare run
so that no sandbox is importing while a bare run trains.

The ratio target is for the full-size run (60,000 train / 10,000 test images). Where the
original MNIST files are not imported (`assay data import mnist DIR`), `--full-size-stand-in`
builds a throwaway tier of that size from the 5,000-image sample, each copy shifted by up
to two pixels: the same amount of training work, so the timing is comparable. Its accuracy
means nothing (test images are shifted copies of train images) and is not reported.
"""

# ruff: noqa: E402 (sys.path is fixed before the standard library is imported)
from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, this file's folder comes first on sys.path, and bench/queue.py would
# shadow the standard library's ``queue`` (which urllib3, under the docker SDK, imports).
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse
import shutil
import statistics
import tempfile
import time

import docker
import numpy as np

from graders.challenges import get_challenge
from graders.dataset_build import Tier, write_tier
from graders.datasets import open_dataset
from graders.paths import data_dir
from graders.pipeline import GradeOptions, grade
from graders.warm import WarmPool, shape_for
from sandbox.registry import get_sandbox

BARE = """
import importlib.util, time, numpy as np
spec = importlib.util.spec_from_file_location("solution", "/ref/solution.py")
solution = importlib.util.module_from_spec(spec); spec.loader.exec_module(solution)
import keras
keras.utils.set_random_seed(1234)
x = (np.load("/data/train_x.npy").astype("float32") / 255.0)[..., None]
y = np.load("/data/train_y.npy")
started = time.monotonic()
model = solution.train(solution.build_model(), x, y)
model.predict((np.load("/data/test_x.npy").astype("float32") / 255.0)[..., None], verbose=0)
print(f"code_seconds={time.monotonic() - started:.3f}")
"""


def bare_seconds(client, image: str, dataset, reference: Path) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "bare.py"
        script.write_text(BARE)
        # The image runs as an unprivileged user: let it read the script.
        Path(tmp).chmod(0o755)
        script.chmod(0o644)
        volumes = {
            str(dataset.x_path("train").parent): {"bind": "/data", "mode": "ro"},
            str(reference.parent): {"bind": "/ref", "mode": "ro"},
            tmp: {"bind": "/bench", "mode": "ro"},
        }
        started = time.monotonic()
        logs = client.containers.run(
            image,
            ["python3", "/bench/bare.py"],
            volumes=volumes,
            remove=True,
            network_mode="none",
            environment={"TF_CPP_MIN_LOG_LEVEL": "2"},
        )
        total = time.monotonic() - started
    code = float(logs.decode().rsplit("code_seconds=", 1)[1])
    return total, code


def shifted_copies(x: np.ndarray, y: np.ndarray, n: int, rng: np.random.Generator):
    """``n`` images drawn from ``x`` (cycled), each rolled by up to two pixels each way."""
    index = np.arange(n) % len(x)
    shifts = rng.integers(-2, 3, size=(n, 2))
    out = np.empty((n, *x.shape[1:]), dtype=x.dtype)
    for i, (src, (dy, dx)) in enumerate(zip(index, shifts, strict=True)):
        out[i] = np.roll(x[src], (dy, dx), axis=(0, 1))
    return out, y[index]


def full_size_stand_in(root: Path):
    """Write an MNIST-sized (60,000 / 10,000) tier under ``root``, built from the sample."""
    sample = open_dataset("mnist", "sample")
    rng = np.random.default_rng(0)
    x, y = sample.load_x("train"), sample.load_y("train")
    splits = {"train": shifted_copies(x, y, 60_000, rng), "test": shifted_copies(x, y, 10_000, rng)}
    return write_tier(Tier("mnist", "full", "bench stand-in: shifted sample copies", splits), root)


def graded_seconds(
    challenge, dataset, reference: Path, sandbox, warm=None, parts=None
) -> tuple[float, float, float]:
    """Wall seconds of a whole grade, seconds inside the solution's code, test accuracy.

    ``parts``: a list that gets this grade's time outside the code, step by step.
    """
    marks = []

    def mark(event: dict) -> None:
        if event.get("event") == "phase":
            marks.append((f"{event['phase']} {event['status']}", time.monotonic()))

    started = time.monotonic()
    report = grade(challenge, dataset, reference, sandbox, GradeOptions(), mark, warm=warm)
    total = time.monotonic() - started
    if report.status != "graded":
        raise SystemExit(f"grading failed: {report.error}")
    # The harness's own timings: the candidate's claims in a real grading (kept apart from
    # the host's clock), but here the code is the reference, so they are what it measured.
    rec = {**report.reproducibility, **report.reproducibility["reported_by_sandbox"]}
    if warm is not None and rec.get("train_sandbox") != "warm":
        raise SystemExit("the graded side did not get a warm sandbox")
    code = rec["train_code_seconds"] + rec["predict_code_seconds"]
    if parts is not None:
        parts.append(breakdown(dict(marks), started, started + total, rec))
    return total, code, report.test.value("accuracy")


STEPS = ("staging", "hand-over", "train outside code", "collect model", "predict", "score")


def breakdown(at: dict[str, float], started: float, ended: float, rec: dict) -> dict:
    """Seconds of each step outside the solution's code, from the grade's phase events."""
    return {
        "staging": at["train sandbox"] - started,
        "hand-over": at["train start"] - at["train sandbox"],
        "train outside code": at["train ok"] - at["train start"] - rec["train_code_seconds"],
        "collect model": at["predict sandbox"] - at["train ok"],
        "predict": at["predict ok"] - at["predict sandbox"],
        "predict code": rec["predict_code_seconds"],
        "score": ended - at["predict ok"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--tier", default="sample")
    parser.add_argument("--image", default="assay-grader:latest")
    parser.add_argument(
        "--warm", action="store_true", help="grade through a warm train sandbox (issue 14)"
    )
    parser.add_argument("--backend", default="docker", choices=["docker", "bwrap"])
    parser.add_argument("--settle", type=float, default=20.0, help="seconds (--warm)")
    parser.add_argument(
        "--full-size-stand-in",
        action="store_true",
        help="time a 60,000/10,000 tier built from the sample (see the module docstring)",
    )
    args = parser.parse_args()

    challenge = get_challenge("lenet5-mnist")
    stand_in_root = None
    if args.full_size_stand_in:
        # Beside the real data (not in /tmp): the image's unprivileged user must read it.
        stand_in_root = Path(tempfile.mkdtemp(prefix="bench-", dir=data_dir().parent))
        stand_in_root.chmod(0o755)
        dataset = full_size_stand_in(stand_in_root)
    else:
        dataset = open_dataset("mnist", args.tier)
    try:
        run(args, challenge, dataset)
    finally:
        if stand_in_root:
            shutil.rmtree(stand_in_root)


def run(args, challenge, dataset) -> None:
    reference = challenge.path(challenge.spec.reference)
    client = docker.from_env()
    sandbox = get_sandbox(
        args.backend, **({"image": args.image} if args.backend == "docker" else {})
    )
    print(
        f"reference LeNet-5 on {dataset.name}/{dataset.tier} ({dataset.manifest['source']}): "
        f"train {dataset.splits['train']}, test {dataset.splits['test']}; image {args.image}; "
        f"graded: {args.backend}, {'warm' if args.warm else 'cold'} train sandbox"
    )
    warm = None
    if args.warm:
        warm = WarmPool(sandbox, shape_for(challenge, dataset.tier))
        time.sleep(args.settle)  # its imports done before the first bare run trains
    bare, graded, parts = [], [], []  # (total, code) seconds per run; steps outside the code
    try:
        for i in range(args.repeats):
            bare.append(bare_seconds(client, args.image, dataset, reference))
            *timing, accuracy = graded_seconds(challenge, dataset, reference, sandbox, warm, parts)
            graded.append(tuple(timing))
            report_run(args, i, bare, graded, accuracy)
    finally:
        if warm is not None:
            warm.close()
    summary(args, bare, graded, parts)


def report_run(args, i, bare, graded, accuracy) -> None:
    shown = "" if args.full_size_stand_in else f"   accuracy {accuracy:.4f}"
    print(
        f"  run {i + 1}: bare {bare[-1][0]:6.1f} s (solution {bare[-1][1]:6.1f} s)"
        f"   graded {graded[-1][0]:6.1f} s (solution {graded[-1][1]:6.1f} s){shown}",
        flush=True,
    )


def summary(args, bare, graded, parts) -> None:
    b = statistics.median(total for total, _ in bare)
    g = statistics.median(total for total, _ in graded)
    # Time outside the solution's own code on each side: imports, container starts, data
    # loading, saving/loading the model, scoring. Less noisy than a difference of totals,
    # because training time varies by several seconds from run to run on a shared machine.
    b_out = statistics.median(total - code for total, code in bare)
    g_out = statistics.median(total - code for total, code in graded)
    print(f"median: bare {b:.1f} s, graded {g:.1f} s")
    ratio_target = "1.05 on the sample" if args.warm else "1.10 on the full-size run"
    print(f"ratio graded/bare: {g / b:.3f}   (target < {ratio_target})")
    print(f"fixed overhead, difference of medians: {g - b:.1f} s")
    target = "1 s" if args.warm else "5 s"
    print(
        f"fixed overhead, outside the solution's code: graded {g_out:.1f} s - bare {b_out:.1f} s"
        f" = {g_out - b_out:.1f} s   (target < {target})"
    )
    if parts:
        print("graded side outside the solution's code, median seconds per step:")
        for step in (*STEPS[:4], "predict", "predict code", "score"):
            print(f"  {step:<20} {statistics.median(p[step] for p in parts):6.2f}")


if __name__ == "__main__":
    main()
