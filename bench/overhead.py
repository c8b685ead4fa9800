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
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import docker

from graders.challenges import get_challenge
from graders.datasets import open_dataset
from graders.pipeline import GradeOptions, grade
from sandbox.base import get_sandbox

BARE = """
import importlib.util, time, numpy as np
spec = importlib.util.spec_from_file_location("solution", "/ref/solution.py")
solution = importlib.util.module_from_spec(spec); spec.loader.exec_module(solution)
import keras
keras.utils.set_random_seed(1234)
x = (np.load("/data/train_x.npy").astype("float32") / 255.0)[..., None]
y = np.load("/data/train_y.npy")
model = solution.train(solution.build_model(), x, y)
model.predict((np.load("/data/test_x.npy").astype("float32") / 255.0)[..., None], verbose=0)
"""


def bare_seconds(client, image: str, dataset, reference: Path) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "bare.py"
        script.write_text(BARE)
        volumes = {
            str(dataset.x_path("train").parent): {"bind": "/data", "mode": "ro"},
            str(reference.parent): {"bind": "/ref", "mode": "ro"},
            tmp: {"bind": "/bench", "mode": "ro"},
        }
        started = time.monotonic()
        client.containers.run(
            image,
            ["python3", "/bench/bare.py"],
            volumes=volumes,
            remove=True,
            network_mode="none",
            environment={"TF_CPP_MIN_LOG_LEVEL": "2"},
        )
        return time.monotonic() - started


def graded_seconds(challenge, dataset, reference: Path, sandbox) -> tuple[float, float]:
    started = time.monotonic()
    report = grade(challenge, dataset, reference, sandbox, GradeOptions())
    if report.status != "graded":
        raise SystemExit(f"grading failed: {report.error}")
    return time.monotonic() - started, report.test.value("accuracy")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--tier", default="sample")
    parser.add_argument("--image", default="assay-grader:latest")
    args = parser.parse_args()

    challenge = get_challenge("lenet5-mnist")
    dataset = open_dataset("mnist", args.tier)
    reference = challenge.path(challenge.spec.reference)
    client = docker.from_env()
    sandbox = get_sandbox("docker", image=args.image)
    print(
        f"reference LeNet-5 on mnist/{args.tier} (train {dataset.splits['train']}), image {args.image}"
    )
    bare, graded = [], []
    for i in range(args.repeats):
        bare.append(bare_seconds(client, args.image, dataset, reference))
        seconds, accuracy = graded_seconds(challenge, dataset, reference, sandbox)
        graded.append(seconds)
        print(
            f"  run {i + 1}: bare {bare[-1]:6.1f} s   graded {graded[-1]:6.1f} s   accuracy {accuracy:.4f}"
        )
    b, g = statistics.median(bare), statistics.median(graded)
    print(f"median: bare {b:.1f} s, graded {g:.1f} s")
    print(f"ratio graded/bare: {g / b:.3f}   (target < 1.10 on the full-size run)")
    print(f"fixed overhead: {g - b:.1f} s   (target < 5 s)")


if __name__ == "__main__":
    main()
