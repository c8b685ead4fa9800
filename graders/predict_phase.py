"""The predict phase of a grading: its sandbox started early, the hidden test inputs and
their shadow written in disguise while the model trains, the trained model handed over, and
the predictions read back under the sets' own names and order.

The predict sandbox sees the saved model and the test *inputs* only; hidden labels stay on
the trusted side (``SlicedDataset`` cuts them to the graded slice). Called by
``graders.pipeline.grade_once``.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

from graders.datasets import PreparedDataset
from graders.modelfile import Carried, ModelRejected, inspect
from graders.phases import (
    EARLY_SLACK_SECONDS,
    GO_FILE,
    READY_DIR,
    EarlyPhase,
    PhaseFailed,
    PhaseRun,
    input_dir,
    phase_limits,
    place,
    write_data,
    write_inputs,
    write_job,
)
from graders.phases import job_spec as _job_spec
from graders.readback import OutputRejected, read_predictions, regular_file
from graders.shadow import Disguise, disguise, perturb


def start_predict(
    challenge, dataset, submission, work, options, sandbox, progress, shadow_seed
) -> tuple[EarlyPhase, dict[str, Disguise], HiddenInputs]:
    """Start the predict sandbox early; also the disguises of the test set and its shadow,
    and their writer (started with the train sandbox, waited for before the predict go).

    Where the platform predicts, the submission is not placed in its input folder. The
    job names the hidden sets' files before they exist: the harness reads them only after
    its go, and the shadow (about 0.3 s for the 1,000 sample images) is then made while the
    model trains instead of before its sandbox starts.
    """
    spec = challenge.spec
    candidate = submission if spec.contract.predict == "candidate" else None
    folder, sub = input_dir(work, "predict", candidate)
    names = ["test", "shadow"] if spec.shadow.enabled else ["test"]
    rows = _test_rows(dataset, options.test_limit)
    rng = np.random.default_rng(shadow_seed)
    disguises = {name: disguise(rows, rng) for name in names}
    suffix = ".json" if dataset.x_path("test").suffix == ".json" else ".npy"
    data = {}
    for name in rng.permutation(names).tolist():  # the sandbox predicts in this order
        data[disguises[name].name] = f"/job/{disguises[name].name}{suffix}"
    hidden = HiddenInputs(challenge, dataset, options, shadow_seed, folder, disguises, data)
    for name in spec.dataset.extra_sets:
        data[name] = write_data(dataset.x_path(name), folder, f"{name}_x", options.test_limit)
    job = {
        "phase": "predict",
        "challenge": _job_spec(challenge),
        "model": f"/job/{READY_DIR}/model.keras",
        "start_when": f"/job/{READY_DIR}/{GO_FILE}",
        "output": "/out",
        "data": data,
    }
    if sub is not None:
        job["submission"] = sub
    write_job(folder, job)
    limits = phase_limits(challenge, "predict", dataset.tier, options)
    wait = phase_limits(challenge, "train", dataset.tier, options).wall_seconds
    early = EarlyPhase(
        sandbox,
        "predict",
        folder,
        work,
        limits,
        wait + EARLY_SLACK_SECONDS,
        options.extra_env,
        progress,
    )
    return early, disguises, hidden


def _test_rows(dataset: PreparedDataset, limit: int | None) -> int:
    """Rows of the test slice, from the manifest (the inputs are read later)."""
    rows = int(dataset.splits["test"])
    return rows if limit is None else len(range(rows)[:limit])


def _hidden_sets(challenge, dataset, options, shadow_seed: int) -> dict[str, np.ndarray]:
    """The test inputs (cut to the slice) and, when the challenge has one, their shadow."""
    x = dataset.load_x("test")[: options.test_limit]
    sets = {"test": x}
    if challenge.spec.shadow.enabled:
        sets["shadow"] = perturb(x, challenge.spec.dataset.input_kind, shadow_seed)
    return sets


class HiddenInputs:
    """Writes the test inputs and their shadow, each in its disguise, on a thread of its own.

    ``start`` is called as the train sandbox starts (a second call does nothing); ``wait``
    starts it if it never started, waits for it, and raises what it raised: the predict
    phase's go waits for it. ``join`` only waits (the grading's folder outlives the thread).
    """

    def __init__(self, challenge, dataset, options, shadow_seed, folder, disguises, paths):
        self._args = (challenge, dataset, options, shadow_seed)
        self._folder, self._disguises, self._paths = folder, disguises, paths
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        self._lock = threading.Lock()

    def start(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._write, name="assay-hidden-inputs", daemon=True
                )
                self._thread.start()

    def wait(self) -> None:
        self.start()
        self._thread.join()
        if self._error is not None:
            raise self._error

    def join(self) -> None:
        with self._lock:
            thread = self._thread
        if thread is not None:
            thread.join()

    def _write(self) -> None:
        try:
            sets = _hidden_sets(*self._args)
            for name, x in sets.items():
                hidden = self._disguises[name]
                if len(x) != len(hidden.order):
                    raise RuntimeError(
                        f"the {name} set has {len(x)} rows, its manifest {len(hidden.order)}"
                    )
                path = write_inputs(x[hidden.order], self._folder, hidden.name)
                if self._paths.get(hidden.name) != path:
                    raise RuntimeError(f"the {name} set was written as {path}, not as named")
                # Written after the sandbox started: readable by its user whatever the umask.
                (self._folder / Path(path).name).chmod(0o644)
        except BaseException as exc:  # re-raised in the grading's thread by wait()
            self._error = exc


def run_predict(
    early: EarlyPhase,
    trained: PhaseRun,
    cancel,
    disk_mb: int,
    hidden: HiddenInputs,
    standard_only: bool,
) -> tuple[PhaseRun, int, Carried]:
    """Hand the trained model over and run the predict phase; also the model file's size
    and what it carries besides weights (measured here, before any sandbox loads it)."""
    source = trained.out / "model.keras"
    try:
        size = regular_file(source, "the saved model (model.keras)", disk_mb * 2**20)
        carried = inspect(source, standard_only)
    except (OutputRejected, ModelRejected) as exc:
        raise PhaseFailed(exc.code, f"after training: {exc}") from None
    hidden.wait()  # the test inputs and their shadow are in place before the go
    model = early.ready / "model.keras"
    place(source, model)
    model.chmod(0o644)  # the sandbox's user is not the owner
    return early.go(cancel), size, carried


def load_predictions(out: Path, names: dict[str, str]) -> dict[str, object]:
    """Each set's predictions; a missing extra set is left out, a broken file rejected.

    ``names``: the set's name in the sandbox -> its own name, which error messages use.
    """
    loaded = {}
    for name, own in names.items():
        path = out / f"predictions_{name}.npy"
        if path.exists() or path.is_symlink():
            loaded[name] = read_predictions(path, f"predictions_{own}.npy")
    return loaded


def undisguised(loaded: dict[str, object], disguises: dict[str, Disguise]) -> dict[str, object]:
    """Predictions under the sets' own names, each back in its original row order."""
    predictions = {k: v for k, v in loaded.items() if k not in {d.name for d in disguises.values()}}
    for name, hidden in disguises.items():
        if hidden.name in loaded:
            predictions[name] = hidden.restore(loaded[hidden.name])
    return predictions


class SlicedDataset:
    """A dataset view whose hidden labels are cut to the same slice as the test inputs."""

    def __init__(self, dataset: PreparedDataset, limit: int | None):
        self._dataset, self._limit = dataset, limit

    def __getattr__(self, name):
        return getattr(self._dataset, name)

    def load_y(self, split: str):
        y = self._dataset.load_y(split)
        return y if split == "train" or self._limit is None else y[: self._limit]
