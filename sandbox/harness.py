"""The program that runs INSIDE the sandbox and imports the candidate's code.

It imports nothing of Assay's: only the standard library and what the grader image
has (NumPy, Keras/TensorFlow, nbformat), so the same file works in the Docker image
and under bubblewrap. Usage::

    python harness.py /job/job.json

``job.json`` says the phase (``train`` or ``predict``), where the submission and the
data are, and the challenge's contract. In the predict phase of a challenge where the
platform predicts (``predict: "platform"``, the default), the submission is not there and no
candidate code is imported: the model is loaded with Keras ``safe_mode``. Results go to ``/out`` (``result.json`` always,
plus ``model.keras``/``history.json`` after training or ``predictions_<set>.npy`` after
predicting). Progress events go, one JSON line each, to the FIFO named by ``progress`` in
``job.json`` (the host's reader drains it on its own budget), never to stdout, which belongs
to the candidate.

Every failure ends as ``result.json`` with ``status: "error"``, a ``code`` and a
message the candidate can act on; the exit code is 0 when the harness itself
reported, so a non-zero exit means the process was killed or crashed hard.
"""

from __future__ import annotations

import ast
import contextlib
import errno
import json
import os
import re
import signal
import socket
import sys
import time
import traceback
import types
from pathlib import Path

SUBMISSION_MODULE = "solution"
#: Caps on what the harness reports, within the host's schema (graders/readback.py).
MESSAGE_MAX, DETAIL_MAX, WARNING_MAX, WARNINGS_MAX = 4000, 20_000, 2000, 100
#: IPython syntax that is not Python: ``%magic``, ``!shell``, ``x = !cmd``, ``x = %magic``,
#: ``obj?`` / ``?obj`` help. Dropped line by line, like IPython's own input transformers.
MAGIC_LINE = re.compile(
    r"^\s*[%!]"  # %magic, %%cell, !shell
    r"|^\s*[A-Za-z_][\w.]*(\s*,\s*[A-Za-z_][\w.]*)*\s*=\s*[%!]"  # x = !ls, a, b = %who_ls
    r"|^\s*\?{1,2}[\w.]+\s*$|^\s*[\w.]+\?{1,2}\s*$"  # ?obj, obj??
)
#: A cell that starts with a cell magic (``%%bash``, ``%%writefile``) is not Python at all.
CELL_MAGIC = re.compile(r"^\s*%%")
#: The warning codes a sandbox may report; the host renders them (graders/catalogue.py
#: ``SANDBOX_WARNINGS``) and drops anything else, free text included.
WARNING_CODES = ("predict_not_called", "train_not_called", "train_returned_none")


class HarnessError(Exception):
    """A classified failure: ``code`` for machines, message for the candidate."""

    def __init__(self, code: str, message: str, detail: str = ""):
        super().__init__(message)
        self.code, self.detail = code, detail


#: File descriptor of the progress FIFO (opened by main), or None.
PROGRESS_FD: int | None = None


def open_progress(path: str | None) -> None:
    """Open the host's progress FIFO for non-blocking writes (no FIFO: no progress)."""
    global PROGRESS_FD
    if path:
        with contextlib.suppress(OSError):
            PROGRESS_FD = os.open(path, os.O_WRONLY | os.O_NONBLOCK)


def emit(event: str, **fields) -> None:
    """Write one progress event (a JSON line) to the FIFO; dropped if the FIFO is full.

    Non-blocking: a slow reader must never stall training. One write of at most 4 KB
    (PIPE_BUF) is atomic, so lines from forked processes cannot interleave.
    """
    if PROGRESS_FD is None:
        return
    line = json.dumps({"event": event, **fields}, default=float).encode() + b"\n"
    if len(line) <= 4096:
        with contextlib.suppress(OSError):
            os.write(PROGRESS_FD, line)


# -- loading the submission --------------------------------------------------------------------


def notebook_source(text: str) -> tuple[str, list[str]]:
    """Code cells of a notebook as one module, dropping ``%magic``/``!shell`` lines."""
    import nbformat

    try:
        json.loads(text)
    except json.JSONDecodeError as exc:
        raise HarnessError("invalid_notebook", f"the notebook is not valid JSON: {exc}") from None
    try:
        nb = nbformat.reads(text, as_version=4)
        nbformat.validate(nb)
    except Exception as exc:  # nbformat raises several validation error types
        raise HarnessError(
            "invalid_notebook", f"the notebook is not a valid Jupyter notebook: {exc}"
        ) from None
    lines, warnings = [], []
    for number, cell in enumerate(nb.cells, start=1):
        if cell.cell_type != "code":
            continue
        cell_lines = cell.source.splitlines()
        first = next((line for line in cell_lines if line.strip()), "")
        if CELL_MAGIC.match(first):
            warnings.append(f"cell {number}: dropped the cell magic cell {first.strip()[:80]!r}")
            lines += [""] * (len(cell_lines) + 1)
            continue
        for line in cell_lines:
            if MAGIC_LINE.match(line):
                warnings.append(f"cell {number}: dropped IPython line {line.strip()[:80]!r}")
                lines.append("")  # keep line numbers meaningful within the module
            else:
                lines.append(line)
        lines.append("")
    return "\n".join(lines), warnings


def source_from_bytes(data: bytes, suffix: str) -> tuple[str, list[str]]:
    """The submission's Python source (notebooks: their code cells) and any warnings."""
    try:
        # utf-8-sig: a byte-order mark (Windows editors write one) is not part of the code.
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise HarnessError(
            "not_utf8", f"the file is not UTF-8 text (invalid byte at offset {exc.start})"
        ) from None
    if suffix == ".ipynb":
        return notebook_source(text)
    # CRLF (Windows) and lone CR (old Mac) line ends read as the newlines they mean.
    return text.replace("\r\n", "\n").replace("\r", "\n"), []


def read_source(path: Path) -> tuple[str, list[str]]:
    return source_from_bytes(path.read_bytes(), path.suffix)


def parse(source: str, filename: str) -> ast.Module:
    try:
        return ast.parse(source, filename=filename)
    except SyntaxError as exc:
        if exc.lineno is None:  # e.g. null bytes: no position to point at
            raise HarnessError("syntax_error", f"the code cannot be parsed: {exc.msg}") from None
        where = f"line {exc.lineno}" + (f", column {exc.offset}" if exc.offset else "")
        text = (exc.text or "").rstrip()
        raise HarnessError("syntax_error", f"syntax error at {where}: {exc.msg}", text) from None
    except (RecursionError, MemoryError, ValueError) as exc:  # absurd nesting, null bytes
        raise HarnessError(
            "syntax_error", f"the code cannot be parsed: {type(exc).__name__}: {exc}"
        ) from None


def defined_functions(tree: ast.Module) -> set[str]:
    return {
        node.name for node in tree.body if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    }


NETWORK_ERRNOS = {errno.ENETUNREACH, errno.EHOSTUNREACH, errno.ECONNREFUSED, errno.EADDRNOTAVAIL}
DISK_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}


def exception_code(exc: BaseException, default: str) -> tuple[str, str]:
    """(code, message) for an exception of the candidate's code.

    Resource and sandbox refusals get their own class, so a candidate learns that the
    network is off or the disk is full rather than reading a bare OSError.
    """
    cause = (
        getattr(exc, "reason", None) if not isinstance(exc, OSError) else exc
    )  # urllib wraps OSError
    if isinstance(exc, MemoryError):
        return "out_of_memory", "the code ran out of memory"
    if isinstance(cause, socket.gaierror) or (
        isinstance(cause, OSError) and cause.errno in NETWORK_ERRNOS
    ):
        return (
            "network_blocked",
            f"network access is not allowed in the grader ({type(cause).__name__}: {cause})",
        )
    if isinstance(exc, OSError) and exc.errno in DISK_ERRNOS:
        return "output_too_large", f"the code filled its disk space ({exc.strerror})"
    if isinstance(exc, BlockingIOError) or (
        isinstance(exc, RuntimeError) and "can't start new thread" in str(exc)
    ):
        return "too_many_processes", f"the code hit the process/thread limit ({exc})"
    return default, f"{type(exc).__name__}: {exc}"


def candidate_frames(exc: BaseException, filename: str, limit: int = 6) -> str:
    """The traceback cut to the candidate's own frames (and the final error line)."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == filename]
    lines = traceback.format_list(frames[-limit:])
    lines += traceback.format_exception_only(type(exc), exc)
    return "".join(lines).rstrip()


def execute(source: str, tree: ast.Module, filename: str, phase: str) -> types.ModuleType:
    """Run the submission as module ``solution``; classify what goes wrong."""
    module = types.ModuleType(SUBMISSION_MODULE)
    module.__file__ = filename
    sys.modules[SUBMISSION_MODULE] = module
    code = compile(tree, filename, "exec")
    try:
        exec(code, module.__dict__)
    except ModuleNotFoundError as exc:
        raise HarnessError(
            "import_error",
            f"module {exc.name!r} is not available in the grader (no network: nothing can be installed)",
            candidate_frames(exc, filename),
        ) from None
    except ImportError as exc:
        raise HarnessError(
            "import_error", f"import failed: {exc}", candidate_frames(exc, filename)
        ) from None
    except SystemExit as exc:
        if phase == "train" and exc.code in (None, 0):
            return module  # a script that ends with sys.exit(0) finished normally
        raise HarnessError(f"{phase}_exception", f"the code called exit({exc.code!r})") from None
    except Exception as exc:
        stop_strays()
        code, message = exception_code(exc, f"{phase}_exception")
        detail = candidate_frames(exc, filename)
        raise HarnessError(code, f"while running the file: {message}", detail) from None
    return module


# -- data --------------------------------------------------------------------------------------


def load_array(path: str):
    import numpy as np

    if path.endswith(".json"):
        texts = json.loads(Path(path).read_text(encoding="utf-8"))
        arr = np.empty(len(texts), dtype=object)
        arr[:] = texts
        return arr
    return np.load(path, allow_pickle=False)


def candidate_inputs(raw, spec: dict):
    """Stored inputs -> what the contract promises (images: float32 in [0, 1], shaped)."""
    import numpy as np

    if spec["input_kind"] != "image":
        return raw
    return (raw.astype(np.float32) / 255.0).reshape((-1, *spec["input_shape"]))


# -- keras hooks -------------------------------------------------------------------------------


class FitRecorder:
    """Wraps ``keras.Model.fit``: streams epochs, keeps the history, remembers the last model.

    ``max_batches``/``max_seconds`` (a dry run): every ``fit`` stops after that many training
    steps or seconds, whatever epochs it asked for. Keras 3 looks at ``stop_training`` after
    each batch, so one step of the candidate's own ``fit`` runs, then the epoch ends.
    """

    def __init__(self, max_batches: int | None = None, max_seconds: float | None = None):
        self.last_model = None
        self.history: dict[str, list[float]] = {}
        self.max_batches, self.max_seconds = max_batches, max_seconds

    def install(self) -> None:
        import keras

        # The unwrapped fit, kept once: a second install (the self-check checking several
        # files in one process) replaces the wrapper instead of wrapping it again.
        original = getattr(keras.Model, "_assay_original_fit", None) or keras.Model.fit
        keras.Model._assay_original_fit = original
        recorder = self

        def fit(model, *args, **kwargs):
            recorder.last_model = model
            callbacks = list(kwargs.pop("callbacks", None) or [])
            kwargs["callbacks"] = [*callbacks, recorder.callback(kwargs.get("epochs", 1))]
            return original(model, *args, **kwargs)

        keras.Model.fit = fit

    def callback(self, epochs: int):
        import keras

        recorder = self

        class Progress(keras.callbacks.Callback):
            def on_epoch_end(self, epoch, logs=None):
                logs = {k: float(v) for k, v in (logs or {}).items()}
                for key, value in logs.items():
                    recorder.history.setdefault(key, []).append(value)
                emit("epoch", epoch=epoch + 1, epochs=epochs, logs=logs)

        if not (self.max_batches or self.max_seconds):
            # No batch hooks in a grading: Keras then skips its per-batch callback work.
            return Progress()

        class Stopping(Progress):
            def on_train_begin(self, logs=None):
                self.batches, self.started = 0, time.monotonic()

            def on_train_batch_end(self, batch, logs=None):
                self.batches += 1
                elapsed = time.monotonic() - self.started
                if (recorder.max_batches and self.batches >= recorder.max_batches) or (
                    recorder.max_seconds and elapsed >= recorder.max_seconds
                ):
                    self.model.stop_training = True

        return Stopping()


def serve_script_dataset(name: str, x, y, validation_fraction: float = 0.1) -> None:
    """Make ``keras.datasets.<name>.load_data()`` return the train split (no download).

    Its "test" half is a validation slice cut from the train split: the hidden test
    set never enters this sandbox.
    """
    import importlib

    cut = len(x) - max(1, int(len(x) * validation_fraction))

    def load_data(*args, **kwargs):
        return (x[:cut].copy(), y[:cut].copy()), (x[cut:].copy(), y[cut:].copy())

    for module_name in (f"keras.datasets.{name}", f"keras.src.datasets.{name}"):
        with contextlib.suppress(ImportError):
            importlib.import_module(module_name).load_data = load_data


def adapt_preprocessing(model, x) -> None:
    """Adapt every TextVectorization layer that has no vocabulary yet on the train inputs."""
    import keras

    for layer in model._flatten_layers(include_self=False):
        if isinstance(layer, keras.layers.TextVectorization) and layer.vocabulary_size() <= 2:
            layer.adapt(x)


def default_train(model, x, y, fit: dict):
    adapt_preprocessing(model, x)
    if not getattr(model, "compiled", False):
        model.compile(optimizer=fit["optimizer"], loss=fit["loss"], metrics=fit["metrics"])
    model.fit(
        x,
        y,
        epochs=fit["epochs"],
        batch_size=fit["batch_size"],
        validation_split=fit["validation_split"],
        verbose=0,
    )
    return model


# -- phases ------------------------------------------------------------------------------------


#: Set by main(): processes the candidate forked are copies of the harness, and must not
#: act as the harness (stop strays, write the result).
HARNESS_PID: int | None = None


def stop_strays(rounds: int = 5) -> None:
    """SIGKILL every other process of the harness's process group: what the candidate forked.

    A fork bomb's copies share the sandbox's CPUs with the harness; with hundreds of them
    busy, the harness would need minutes of wall time to write its report and would hit the
    time limit instead. Processes that left the group are the backend's to kill afterwards.
    Does nothing in a process other than the harness itself.
    """
    me = os.getpid()
    if me != HARNESS_PID:
        return
    group = os.getpgid(0)
    for _ in range(rounds):
        found = False
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit() or int(entry.name) == me:
                continue
            try:
                stat = Path(entry.path, "stat").read_text()
                pgrp = int(stat.rsplit(")", 1)[1].split()[2])  # fields after "(comm)"
            except (OSError, ValueError, IndexError):
                continue
            if pgrp == group:
                found = True
                with contextlib.suppress(OSError):
                    os.kill(int(entry.name), signal.SIGKILL)
        if not found:
            return


def call_candidate(func, args: tuple, code: str, filename: str):
    try:
        return func(*args)
    except SystemExit as exc:
        stop_strays()
        raise HarnessError(code, f"{func.__name__}() called exit({exc.code!r})") from None
    except Exception as exc:
        stop_strays()  # first: a fork bomb's copies would starve what follows
        code, message = exception_code(exc, code)
        detail = candidate_frames(exc, filename)
        raise HarnessError(code, f"{func.__name__}(): {message}", detail) from None


def require_model(obj, where: str):
    import keras

    if not isinstance(obj, keras.Model):
        raise HarnessError(
            "not_a_model", f"{where} returned {type(obj).__name__}, not a keras.Model"
        )
    return obj


def no_model_error(functions: set[str]) -> HarnessError:
    """A script-mode run that never trained: most likely a misnamed build_model()."""
    if functions:
        found = ", ".join(f"{name}()" for name in sorted(functions))
        return HarnessError(
            "missing_build_model",
            f"the file defines no build_model() (it defines {found}) and, run as a plain script, "
            "it never called model.fit(); rename your model function to build_model()",
        )
    return HarnessError(
        "no_model", "the script never called model.fit(), so there is no model to grade"
    )


#: The steps of a dry run (``job["dry_run"]``), in order; the host adds its own checks of
#: the predictions and the budget after them (``graders/dryrun.py``).
CHECK_STEPS = ("contract", "build", "train", "save", "load", "predict")


def step_done(result: dict, name: str) -> None:
    """Record (and stream) that a dry run's step passed; nothing outside a dry run."""
    if "steps" in result:
        result["steps"].append(name)
        emit("step", step=name, status="ok")


def train_phase(job: dict, out: Path, result: dict) -> None:
    import keras
    import numpy as np

    spec, filename = job["challenge"], job["submission"]
    dry = job.get("dry_run")
    if dry:
        result["steps"] = []
    # The host parses the upload itself and states what was dropped from a notebook.
    source, _ = read_source(Path(filename))
    tree = parse(source, filename)
    functions = defined_functions(tree)
    raw_x, y = load_array(job["data"]["train_x"]), load_array(job["data"]["train_y"])
    recorder = FitRecorder(*((dry["max_batches"], dry["max_seconds"]) if dry else ()))
    recorder.install()
    if job.get("seed") is not None:
        keras.utils.set_random_seed(int(job["seed"]))
    started = time.monotonic()
    if "build_model" in functions:
        result["mode"] = "function"
        missing = [name for name in spec.get("required", ["build_model"]) if name not in functions]
        if missing:
            raise HarnessError(
                "missing_function",
                "the file does not define "
                + ", ".join(f"{m}()" for m in missing)
                + "; the statement says which functions are required",
            )
        module = execute(source, tree, filename, "import")
        step_done(result, "contract")
        if spec.get("predict") != "candidate" and "predict" in functions:
            result["warnings"].append("predict_not_called")
        model = require_model(
            call_candidate(module.build_model, (), "build_exception", filename), "build_model()"
        )
        step_done(result, "build")
        x = candidate_inputs(raw_x, spec)
        if hook(module, "train", spec, result):
            trained = call_candidate(module.train, (model, x, y), "train_exception", filename)
            if trained is None:
                result["warnings"].append("train_returned_none")
                trained = model
            model = require_model(trained, "train()")
        else:
            model = call_candidate(
                default_train, (model, x, y, spec["fit"]), "train_exception", filename
            )
    elif spec.get("script_mode"):
        result["mode"] = "script"
        step_done(result, "contract")
        serve_script_dataset(spec["script_dataset"], raw_x, y.astype(np.uint8))
        execute(source, tree, filename, "train")
        model = recorder.last_model
        if model is None:
            raise no_model_error(functions)
        step_done(result, "build")
    else:
        found = ", ".join(f"{name}()" for name in sorted(functions))
        raise HarnessError(
            "missing_build_model",
            f"the file does not define build_model() (it defines {found}); rename your model "
            "function to build_model()"
            if functions
            else "the file does not define build_model(); see the statement for the contract",
        )
    step_done(result, "train")
    result["train_seconds"] = round(time.monotonic() - started, 3)
    try:
        result["param_count"] = int(model.count_params())
    except ValueError:  # a model that was never built has no weights yet
        result["param_count"] = None
    try:
        model.save(out / "model.keras")
    except Exception as exc:
        raise HarnessError("save_failed", f"the trained model could not be saved: {exc}") from None
    (out / "history.json").write_text(json.dumps(recorder.history))
    step_done(result, "save")
    if dry:
        check_saved_model(job, out, result, spec, raw_x[: int(dry["predict_rows"])])


def check_saved_model(job: dict, out: Path, result: dict, spec: dict, raw_x) -> None:
    """A dry run's last steps: load the saved model as the predict phase does, predict a few
    inputs of the slice and leave them in ``predictions_check.npy`` for the host to check.

    The submission's module is taken out of ``sys.modules`` first: the predict sandbox never
    has it, so a model that loads only because its classes are importable here must fail.
    """
    sys.modules.pop(SUBMISSION_MODULE, None)
    if spec.get("predict") == "candidate":
        import keras

        try:
            model = keras.saving.load_model(str(out / "model.keras"), safe_mode=False)
        except Exception as exc:
            raise HarnessError(
                "load_failed", f"the saved model could not be loaded again: {exc}"
            ) from None
    else:
        model = load_standard_model(str(out / "model.keras"))
    step_done(result, "load")
    import numpy as np

    x = candidate_inputs(raw_x, spec)
    raw = call_candidate(default_predict, (model, x), "predict_exception", "model.keras")
    np.save(out / "predictions_check.npy", to_array(raw), allow_pickle=False)
    step_done(result, "predict")


def to_array(raw):
    import numpy as np

    if hasattr(raw, "numpy"):
        raw = raw.numpy()
    try:
        arr = np.asarray(raw)
    except Exception as exc:
        raise HarnessError(
            "invalid_predictions", f"predict() returned something that is not an array: {exc}"
        ) from None
    if arr.dtype.kind not in "biuf":
        raise HarnessError(
            "invalid_predictions",
            f"predict() returned {type(raw).__name__} of dtype {arr.dtype}, not numbers",
        )
    return arr


def hook(module, name: str, spec: dict, result: dict):
    """The candidate's ``name()`` if the file defines it and the challenge lets it run."""
    func = getattr(module, name, None)
    if not callable(func):
        return None
    allowed = spec.get("optional", ["train"])
    if name == "predict":
        allowed = allowed if spec.get("predict") == "candidate" else ()
    if name not in allowed:
        result["warnings"].append(f"{name}_not_called")
        return None
    return func


def default_predict(model, x):
    return model.predict(x, verbose=0)


#: Where a Keras config names the class or function it deserializes.
KERAS_MODULE = re.compile(r"^keras(\.|$)")


def custom_objects(config) -> list[str]:
    """Names of what a saved model's config needs beyond standard Keras: custom classes and
    functions, and Lambda layers (whose Python code safe_mode refuses to load)."""
    found: list[str] = []
    if isinstance(config, dict):
        name = config.get("class_name")
        if name == "Lambda":
            found.append("a Lambda layer")
        elif isinstance(name, str) and "config" in config:
            module = config.get("module")
            registered = config.get("registered_name")
            custom = (module is not None and not KERAS_MODULE.match(str(module))) or (
                isinstance(registered, str) and ">" in registered
            )
            if custom:
                found.append(str(registered or name))
        for value in config.values():
            found += custom_objects(value)
    elif isinstance(config, list):
        for value in config:
            found += custom_objects(value)
    return found


def custom_objects_message(config) -> str | None:
    """Why a model with this config cannot load where the platform predicts, or None."""
    needed = sorted(set(custom_objects(config)))
    if not needed:
        return None
    return (
        "the saved model needs code of its own to load ("
        + ", ".join(needed[:10])
        + "); in this challenge the platform loads the model with Keras safe_mode and "
        "standard layers only: use built-in layers and options (see the statement)"
    )


def saved_config(path: str) -> dict | None:
    """The model config stored in a ``.keras`` zip (None when it cannot be read)."""
    import zipfile

    try:
        with zipfile.ZipFile(path) as archive:
            return json.loads(archive.read("config.json"))
    except Exception:  # a broken file: load_model reports it
        return None


def load_standard_model(path: str):
    """Load the saved model with ``safe_mode`` and no candidate code imported.

    Only standard Keras layers and functions load: a custom layer, a registered function or
    a Lambda layer needs the candidate's code, which this sandbox does not have, so such a
    model fails as ``unsafe_model`` with the names found, before Keras tries to resolve them.
    """
    import keras

    needed = custom_objects_message(saved_config(path))
    if needed:
        raise HarnessError("unsafe_model", needed)
    try:
        return keras.saving.load_model(path, safe_mode=True, compile=False)
    except Exception as exc:
        text = str(exc)
        if "safe_mode" in text or "Could not locate" in text or "Lambda" in text:
            raise HarnessError(
                "unsafe_model",
                f"the saved model cannot be loaded with standard Keras layers only: {text[:500]}",
            ) from None
        raise HarnessError(
            "load_failed", f"the saved model could not be loaded again: {text}"
        ) from None


def predict_sets(job: dict, out: Path, spec: dict, model, predict, filename: str) -> None:
    """Predict every set of the job (``predict``: the candidate's, or None for the default)."""
    import numpy as np

    for name, path in job["data"].items():
        x = candidate_inputs(load_array(path), spec)
        if predict is not None:
            raw = call_candidate(predict, (model, x), "predict_exception", filename)
        else:
            raw = call_candidate(default_predict, (model, x), "predict_exception", filename)
        np.save(out / f"predictions_{name}.npy", to_array(raw), allow_pickle=False)
        emit("predicted", set=name, n=int(len(x)))


def predict_phase(job: dict, out: Path, result: dict) -> None:
    spec = job["challenge"]
    started = time.monotonic()
    if spec.get("predict") == "candidate":
        candidate_predict_phase(job, out, result)
    else:
        # The platform predicts: no candidate code runs here (the submission is not even in
        # this sandbox's input), so a lookup of public test labels has nowhere to live but
        # in standard layers, where the model budget and the shadow test see it.
        model = load_standard_model(job["model"])
        result["param_count"] = int(model.count_params())
        predict_sets(job, out, spec, model, None, "model.keras")
    result["predict_seconds"] = round(time.monotonic() - started, 3)


def candidate_predict_phase(job: dict, out: Path, result: dict) -> None:
    """Predict with the candidate's own ``predict()`` (challenges with ``predict = candidate``)."""
    import keras

    spec, filename = job["challenge"], job["submission"]
    source, _ = read_source(Path(filename))
    tree = parse(source, filename)
    predict = None
    if "build_model" in defined_functions(tree):
        # Import again so custom layers register and an own predict() is found.
        module = execute(source, tree, filename, "predict")
        predict = hook(module, "predict", spec, result)
    try:
        model = keras.saving.load_model(job["model"], safe_mode=False)
    except Exception as exc:
        raise HarnessError(
            "load_failed", f"the saved model could not be loaded again: {exc}"
        ) from None
    result["param_count"] = int(model.count_params())
    predict_sets(job, out, spec, model, predict, filename)


PHASES = {"train": train_phase, "predict": predict_phase}


def versions() -> dict:
    import keras
    import numpy as np
    import tensorflow as tf

    return {
        "python": sys.version.split()[0],
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "numpy": np.__version__,
    }


def wait_until_exists(path: str, poll_seconds: float = 0.02) -> None:
    """Block until the host creates ``path``: a sandbox started early waits here for its input."""
    while not os.path.exists(path):
        time.sleep(poll_seconds)


def handed_over(warm: dict) -> dict:
    """The real job of a sandbox started warm, read once the host has created ``start_when``.

    A warm sandbox starts with no job: its ``job.json`` names only where the job will be
    (``handover``). The host writes it, with the submission and the data, into the read-only
    input folder when a grading arrives; a warm sandbox serves one job and then ends.
    """
    job = json.loads(Path(warm["handover"]).read_text(encoding="utf-8"))
    if job.get("phase") != warm["phase"]:
        raise RuntimeError(f"a warm {warm['phase']} sandbox was handed a {job.get('phase')} job")
    if job.get("progress") != warm.get("progress"):
        open_progress(job.get("progress"))
    return job


def within_limits(result: dict) -> dict:
    """The result cut to the sizes the host accepts (a long exception message is legitimate)."""
    for key, cap in (("message", MESSAGE_MAX), ("detail", DETAIL_MAX)):
        if isinstance(result.get(key), str) and len(result[key]) > cap:
            result[key] = result[key][: cap - 20] + " [... cut short]"
    warnings = result.get("warnings")
    result["warnings"] = (
        [w for w in warnings if isinstance(w, str) and w in WARNING_CODES][:WARNINGS_MAX]
        if isinstance(warnings, list)
        else []
    )
    return result


def main(argv: list[str]) -> int:
    global HARNESS_PID
    HARNESS_PID = harness_pid = os.getpid()
    job = json.loads(Path(argv[1]).read_text(encoding="utf-8"))
    out = Path(job.get("output", "/out"))
    phase = job["phase"]
    result: dict = {"phase": phase, "status": "ok", "warnings": [], "seed": job.get("seed")}
    try:
        os.chdir(out)
        open_progress(job.get("progress"))
        result["versions"] = versions()  # imports TensorFlow: most of a sandbox's start-up
        if job.get("start_when"):
            wait_until_exists(job["start_when"])
        if job.get("handover"):
            job = handed_over(job)
            result["seed"] = job.get("seed")
        emit("phase", phase=phase, status="start")
        PHASES[phase](job, out, result)
    except HarnessError as exc:
        result.update(status="error", code=exc.code, message=str(exc), detail=exc.detail)
    except MemoryError:
        result.update(status="error", code="out_of_memory", message="the code ran out of memory")
    except Exception as exc:  # a failure of the harness itself, not of the submission
        result.update(
            status="error", code="harness_error", message=str(exc), detail=traceback.format_exc()
        )
    if os.getpid() != harness_pid:
        os._exit(1)  # a process the candidate forked: only the harness itself reports
    stop_strays()
    (out / "result.json").write_text(json.dumps(within_limits(result), default=str))
    emit("phase", phase=phase, status=result["status"])
    return 0


if __name__ == "__main__":
    status = main(sys.argv)
    # The result is written: skip the interpreter's teardown, which with TensorFlow loaded
    # takes about a second after training (measured), paid by every grading twice.
    with contextlib.suppress(Exception):
        sys.stdout.flush()
        sys.stderr.flush()
    os._exit(status)
