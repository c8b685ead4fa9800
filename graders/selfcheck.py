"""The self-check candidates run at home: ``check_solution.py``, generated from our own code.

The starter download (``starter_bundle``) is a zip of the starter, ``check_solution.py`` and
``check_data.npz``: the public slice (the first ``contract.ROWS`` examples of the assessment's
train split, the same rows the platform's dry run trains on; never its test set).

``check_solution.py`` is one file that needs only Python and the challenge's framework
(TensorFlow/Keras, with NumPy). It is the harness (``sandbox/harness.py``), the error catalogue,
the predictions checks and the contract steps (``graders/contract.py``) copied whole, followed
by a short driver: the same code as ``assay check`` runs in the sandbox and on the host, so the
verdict and the messages are the same. What it cannot do at home is the sandbox's limits (time,
memory, processes, no network): the platform's dry run checks those on upload.
"""

from __future__ import annotations

import ast
import io
import json
import re
import zipfile
from functools import lru_cache
from pathlib import Path

import numpy as np

from graders.challenges import Challenge
from graders.phases import HARNESS, job_spec

HERE = Path(__file__).resolve().parent
#: The modules copied into ``check_solution.py``, in order (each may use those before it).
SOURCES = (HARNESS, HERE / "catalogue.py", HERE / "predictions.py", HERE / "contract.py")
CHECK_DATA = "check_data.npz"
#: Lines the generator drops: our own imports (the names are in the file) and the harness's
#: ``__main__`` block (the driver has its own).
_OUR_IMPORT = re.compile(r"^from (graders|sandbox)\.\S+ import [^(]+$")

PRELUDE = '''

class PredictionError(Exception):
    """Predictions cannot be scored; ``code`` classifies why (as in graders/errors.py)."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code

'''

DRIVER = '''

# -- the self-check ------------------------------------------------------------------------------


def run_self_check(solution: Path, data: Path) -> Outcome:
    """The dry run's steps on the slice in ``data``, in this process (no sandbox at home)."""
    import tempfile

    import numpy as np

    if solution.suffix.lower() not in (".py", ".ipynb"):
        return outcome([], "bad_extension", f"{solution.name!r}: check a .py file or a .ipynb notebook")
    with np.load(data, allow_pickle=False) as arrays:
        x, y = arrays["x"], arrays["y"]
    here = os.getcwd()
    with tempfile.TemporaryDirectory(prefix="assay-check-") as tmp:
        work = Path(tmp)
        out = work / "out"
        out.mkdir()
        if x.dtype.kind == "U":  # texts travel as JSON, as the platform serves them
            (work / "train_x.json").write_text(json.dumps(x.tolist()), encoding="utf-8")
            x_path = str(work / "train_x.json")
        else:
            np.save(work / "train_x.npy", x, allow_pickle=False)
            x_path = str(work / "train_x.npy")
        np.save(work / "train_y.npy", y, allow_pickle=False)
        job = {
            "phase": "train",
            "submission": str(solution.resolve()),
            "challenge": CHALLENGE,
            "seed": SEED,
            "output": str(out),
            "data": {"train_x": x_path, "train_y": str(work / "train_y.npy")},
            "dry_run": dict(DRY_RUN),
        }
        result = {"phase": "train", "status": "ok", "warnings": [], "steps": []}
        try:
            os.chdir(out)
            train_phase(job, out, result)
        except HarnessError as exc:
            return outcome(result.get("steps", []), exc.code, str(exc), exc.detail)
        except MemoryError:
            return outcome(result.get("steps", []), "out_of_memory", "the code ran out of memory")
        except Exception as exc:  # in the sandbox: a harness error, reported as crashed
            return outcome(result.get("steps", []), "crashed", f"{type(exc).__name__}: {exc}")
        finally:
            os.chdir(here)
        done = result["steps"]
        raw = np.load(out / "predictions_check.npy", allow_pickle=False)
        problem = check_predictions(raw, DRY_RUN["predict_rows"], CHALLENGE["num_classes"])
        if problem is not None:
            return outcome(done, *problem)
        size = (out / "model.keras").stat().st_size
        over = check_budget(BUDGET, result.get("param_count"), size)
        if over is not None:
            return outcome(done, "over_budget", over)
        return outcome(done)


def self_check_main(argv: list[str]) -> int:
    import argparse

    parser = argparse.ArgumentParser(
        description=f"Check a solution to {TITLE!r} against the platform's contract, as the "
        "platform's dry run does on upload (exit code 0: it meets the contract; 2: fix the "
        "failed step).",
    )
    parser.add_argument("solution", nargs="?", default="solution.py", help="default: solution.py")
    parser.add_argument("--lang", choices=["en", "zh"], default="en", help="messages (en, zh)")
    parser.add_argument(
        "--data", default=str(Path(__file__).resolve().with_name("check_data.npz")),
        help="the public slice shipped beside this file",
    )
    args = parser.parse_args(argv[1:])
    solution = Path(args.solution)
    if not solution.is_file():
        parser.error(f"no such file: {solution}")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    verdict = run_self_check(solution, Path(args.data))
    print("\\n".join(render(verdict, args.lang)))
    return 0 if verdict.passed else 2


if __name__ == "__main__":
    sys.exit(self_check_main(sys.argv))
'''


def _body(path: Path) -> str:
    """A module's code without ``from __future__``, our own imports and a ``__main__`` block."""
    lines = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith('if __name__ == "__main__":'):
            break
        if line.startswith("from __future__ import") or _OUR_IMPORT.match(line):
            continue
        lines.append(line)
    return "\n".join(lines).rstrip() + "\n"


def generate(challenge: Challenge) -> str:
    """The text of ``check_solution.py`` for ``challenge``."""
    spec = challenge.spec
    header = (
        f'"""Self-check for the {spec.title} challenge ({spec.slug}), run at home:\n\n'
        "    python check_solution.py solution.py            (messages in English)\n"
        "    python check_solution.py solution.py --lang zh  (中文提示)\n\n"
        "It runs the platform's dry-run steps (contract, build_model(), one short training\n"
        "step on the public slice in check_data.npz, save, the platform's safe load, a few\n"
        "predictions, their shape, dtype and range, the model budget) and says what to fix.\n"
        "Generated by Assay from its grader's own code: do not edit. Needs Python with\n"
        "TensorFlow/Keras and NumPy; the platform also checks its time and memory limits.\n"
        '"""\n\nfrom __future__ import annotations\n'
    )
    constants = (
        "\n\n# -- this challenge --------------------------------------------------------------------\n\n"
        f"TITLE = {spec.title!r}\n"
        f"CHALLENGE = json.loads({json.dumps(json.dumps(job_spec(challenge)))})\n"
        f"BUDGET = json.loads({json.dumps(json.dumps(spec.budget.model_dump()))})\n"
    )
    parts = [header, _body(SOURCES[0]), PRELUDE]
    parts += [_body(path) for path in SOURCES[1:]]
    text = "\n\n".join(parts) + constants + DRIVER
    _check_names(text)
    return text


def _check_names(text: str) -> None:
    """Refuse a file where two copied modules define the same top-level name."""
    seen: dict[str, int] = {}
    for node in ast.parse(text).body:
        if isinstance(node, ast.FunctionDef | ast.ClassDef):
            names = [node.name]
        elif isinstance(node, ast.Assign):
            names = [t.id for t in node.targets if isinstance(t, ast.Name)]
        else:
            continue
        for name in names:
            if name in seen and name != "__all__":
                raise ValueError(f"check_solution.py: {name} is defined twice")
            seen[name] = node.lineno


def check_data_path(challenge: Challenge) -> Path:
    return challenge.folder / CHECK_DATA


def slice_bytes(dataset) -> bytes:
    """The public slice of ``dataset`` as ``check_data.npz``: its first ``ROWS`` train rows."""
    from graders.contract import ROWS

    x, y = dataset.load_x("train")[:ROWS], dataset.load_y("train")[:ROWS]
    if x.dtype == object:
        x = np.array([str(s) for s in x])
    buffer = io.BytesIO()
    np.savez_compressed(buffer, x=x, y=y)
    return buffer.getvalue()


def write_check_data(challenge: Challenge, dataset) -> Path:
    """Write the challenge's default slice (the prepared train split's first rows) beside it:
    the fallback where the web host has no prepared data to draw an assessment's from."""
    path = check_data_path(challenge)
    path.write_bytes(slice_bytes(dataset))
    return path


def assessment_slice(challenge: Challenge, tier: str | None, split_seed: str | None) -> bytes:
    """The slice for one assessment: the first train rows of its secret split (the rows the
    platform's dry run trains on), never one of its test rows. Where the tier's data is not
    prepared on this host, the challenge's shipped slice (``check_data.npz``)."""
    from graders.errors import DatasetError
    from graders.service import open_verified_dataset
    from graders.splits import for_grading

    try:
        dataset = for_grading(open_verified_dataset(challenge, tier), split_seed)
    except DatasetError:
        return check_data_path(challenge).read_bytes()
    return slice_bytes(dataset)


@lru_cache(maxsize=32)
def _bundle(slug: str, stamp: tuple, data: bytes) -> bytes:
    from graders.challenges import get_challenge

    challenge = get_challenge(slug)
    starter = challenge.path(challenge.spec.starter)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(f"{slug}/solution{starter.suffix}", starter.read_bytes())
        archive.writestr(f"{slug}/check_solution.py", generate(challenge))
        archive.writestr(f"{slug}/{CHECK_DATA}", data)
    return buffer.getvalue()


def starter_bundle(challenge: Challenge, data: bytes | None = None) -> bytes:
    """The starter download: a zip of the starter (as ``solution.py``), ``check_solution.py``
    and its public slice (``data``: ``assessment_slice``'s; default the shipped one), all in
    a folder named after the challenge."""
    files = [challenge.path(challenge.spec.starter), *SOURCES]
    stamp = tuple((str(p), p.stat().st_mtime_ns, p.stat().st_size) for p in files)
    if data is None:
        data = check_data_path(challenge).read_bytes()
    return _bundle(challenge.spec.slug, stamp, data)
