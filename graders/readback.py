"""Reading what a sandbox left in its output folder, as the hostile input it is.

Candidate code runs in the same process as the harness, so every file in ``/out`` may have
been written (or replaced) by the candidate: ``result.json``, ``history.json``, the model,
the predictions. Each is checked here against a strict schema before the trusted side uses
it: a regular file (no link, no FIFO), a size cap read before parsing, types, lengths, finite
numbers, valid UTF-8 without surrogates, and strings cleaned for display. Anything else
raises ``OutputRejected`` with a specific, candidate-facing message (``invalid_output``, or
``invalid_predictions`` for prediction files), never a crash of the grader: any other
exception raised while reading (an integer too large for a float, a value of a type no rule
foresaw) is caught at each reader's edge and becomes ``invalid_output`` too, so a candidate's
bytes can never be reported as the platform's failure (``platform_error`` retries for free).
"""

from __future__ import annotations

import functools
import json
import math
import re
import stat
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from graders.text import clean, without_surrogates

RESULT_MAX_BYTES = 512 * 1024
HISTORY_MAX_BYTES = 1024 * 1024
HISTORY_MAX_KEYS = 32
HISTORY_MAX_EPOCHS = 1000
#: A metric name as Keras writes it (``loss``, ``val_sparse_categorical_accuracy``, ``auc_1``);
#: a series (or a progress event's metric) named otherwise is left out.
METRIC_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]{0,63}")
#: Beyond every honest count, within a float's exact integers.
COUNT_MAX = 10**12
PREDICTIONS_MAX_BYTES = 128 * 1024 * 1024
MESSAGE_MAX, DETAIL_MAX, WARNING_MAX, WARNINGS_MAX = 4000, 20_000, 2000, 100


class OutputRejected(Exception):
    """A file in the output folder breaks its schema; ``code`` is the report's error class."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


Short = Annotated[str, Field(max_length=64)]
Count = Annotated[int, Field(ge=0, le=COUNT_MAX)]
Seconds = Annotated[float, Field(ge=0, le=10**7, allow_inf_nan=False)]


def _never_raises(what: str, code: str = "invalid_output"):
    """Decorate a reader: any exception but ``OutputRejected`` becomes one, naming ``what``."""

    def wrap(read):
        @functools.wraps(read)
        def reader(*args, **kwargs):
            try:
                return read(*args, **kwargs)
            except OutputRejected:
                raise
            except Exception as exc:  # the bytes are the candidate's: so is the failure
                reason = clean(f"{type(exc).__name__}: {exc}", multiline=False, limit=200)
                raise OutputRejected(code, f"{what} cannot be read ({reason})") from None

        return reader

    return wrap


class PhaseResult(BaseModel):
    """``result.json`` as the harness writes it (see ``sandbox/harness.py``: ``main``)."""

    model_config = ConfigDict(strict=True, extra="ignore")

    phase: Literal["train", "predict"]
    status: Literal["ok", "error"]
    code: Short | None = None
    message: Annotated[str, Field(max_length=MESSAGE_MAX)] = ""
    detail: Annotated[str, Field(max_length=DETAIL_MAX)] = ""
    #: Codes of ``graders.catalogue.SANDBOX_WARNINGS``; the host renders them, drops the rest.
    warnings: Annotated[
        list[Annotated[str, Field(max_length=WARNING_MAX)]], Field(max_length=WARNINGS_MAX)
    ] = []
    seed: Count | None = None
    mode: Literal["function", "script"] | None = None  # a claim: the host parses the upload
    param_count: Count | None = None
    train_seconds: Seconds | None = None
    predict_seconds: Seconds | None = None
    versions: Annotated[dict[Short, Short], Field(max_length=8)] = {}
    #: A dry run's steps that passed, as the harness claims them (display only).
    steps: Annotated[list[Short], Field(max_length=16)] = []

    def cleaned(self) -> dict[str, Any]:
        """As a dict, every string made safe to display."""
        data = self.model_dump()
        data["message"] = clean(self.message)
        data["detail"] = clean(self.detail)
        data["warnings"] = [clean(w) for w in self.warnings]
        data["steps"] = [clean(step, multiline=False) for step in self.steps]
        data["code"] = None if self.code is None else clean(self.code, multiline=False)
        data["versions"] = {
            clean(k, multiline=False): clean(v, multiline=False) for k, v in self.versions.items()
        }
        return data


def regular_file(path: Path, what: str, max_bytes: int, code: str = "invalid_output") -> int:
    """The size of ``path``, which must be a regular file (not a link) of at most ``max_bytes``."""
    try:
        info = path.lstat()
    except FileNotFoundError:
        raise OutputRejected(code, f"{what} is missing") from None
    if not stat.S_ISREG(info.st_mode):
        raise OutputRejected(code, f"{what} is not a regular file (a link or a special file)")
    if info.st_size > max_bytes:
        raise OutputRejected(
            code, f"{what} is {info.st_size:,} bytes; the limit is {max_bytes:,} bytes"
        )
    return info.st_size


def _json(path: Path, what: str, max_bytes: int) -> Any:
    regular_file(path, what, max_bytes)
    try:
        return _valid_unicode(json.loads(path.read_bytes().decode("utf-8")))
    except UnicodeDecodeError as exc:
        raise OutputRejected("invalid_output", f"{what} is not UTF-8 ({exc.reason})") from None
    except RecursionError:
        raise OutputRejected("invalid_output", f"{what} is nested too deeply") from None
    except ValueError as exc:
        raise OutputRejected("invalid_output", f"{what} is not valid JSON ({exc})") from None


def _valid_unicode(value: Any) -> Any:
    """``value`` with lone surrogates (valid in JSON escapes, not in UTF-8) replaced."""
    if isinstance(value, str):
        return without_surrogates(value)
    if isinstance(value, list):
        return [_valid_unicode(v) for v in value]
    if isinstance(value, dict):
        return {_valid_unicode(k): _valid_unicode(v) for k, v in value.items()}
    return value


def _first_error(exc: ValidationError) -> str:
    err = exc.errors(include_url=False, include_input=False)[0]
    where = ".".join(str(p) for p in err["loc"]) or "the top level"
    return clean(f"{where}: {err['msg']}", multiline=False, limit=300)


@_never_raises("result.json")
def read_result(out: Path, phase: str) -> dict[str, Any] | None:
    """The harness's result, cleaned; None when there is none (the phase died before it)."""
    path = out / "result.json"
    if not path.exists() and not path.is_symlink():
        return None
    data = _json(path, f"the {phase} phase's result.json", RESULT_MAX_BYTES)
    try:
        result = PhaseResult.model_validate(data)
    except ValidationError as exc:
        raise OutputRejected(
            "invalid_output", f"the {phase} phase's result.json is malformed: {_first_error(exc)}"
        ) from None
    return result.cleaned()


@_never_raises("history.json")
def read_history(out: Path) -> dict[str, list[float | None]]:
    """Per-epoch training metrics, as the candidate's code reported them: at most 32 series of
    at most 1,000 numbers (NaN and infinities -> None); a series whose name is not a metric
    name is left out."""
    path = out / "history.json"
    if not path.exists() and not path.is_symlink():
        return {}
    data = _json(path, "history.json", HISTORY_MAX_BYTES)
    if not isinstance(data, dict) or len(data) > HISTORY_MAX_KEYS:
        raise OutputRejected(
            "invalid_output",
            f"history.json must map at most {HISTORY_MAX_KEYS} metric names to lists of numbers",
        )
    history = {}
    for key, values in data.items():
        name = clean(key, multiline=False, limit=64)
        if not isinstance(values, list) or len(values) > HISTORY_MAX_EPOCHS:
            raise OutputRejected(
                "invalid_output",
                f"history.json: {name!r} must be a list of at most {HISTORY_MAX_EPOCHS} numbers",
            )
        numbers = [_number(v, f"history.json: {name!r}") for v in values]
        if METRIC_NAME.fullmatch(key):
            history[key] = numbers
    return history


def _number(value: Any, where: str) -> float | None:
    """A reported metric as a float, None where it is NaN or infinite (a diverged run);
    ``OutputRejected`` for a non-number or an integer beyond a float's range."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise OutputRejected("invalid_output", f"{where} holds a non-number")
    try:
        number = float(value)
    except OverflowError:  # float(10**400) raises; math.isfinite on the int raises too
        raise OutputRejected(
            "invalid_output",
            f"{where} holds an integer too large for a number ({len(str(value))} digits)",
        ) from None
    return number if math.isfinite(number) else None


def read_predictions(path: Path, what: str) -> np.ndarray:
    """A ``.npy`` array of plain numbers whose header agrees with the file's size."""
    code = "invalid_predictions"
    size = regular_file(path, what, PREDICTIONS_MAX_BYTES, code)
    try:
        with path.open("rb") as f:
            version = np.lib.format.read_magic(f)
            read_header = {
                (1, 0): np.lib.format.read_array_header_1_0,
                (2, 0): np.lib.format.read_array_header_2_0,
            }.get(version)
            if read_header is None:
                raise ValueError(f"unsupported .npy format version {version}")
            shape, _fortran, dtype = read_header(f, max_header_size=10_000)
            offset = f.tell()
        if dtype.hasobject or dtype.kind not in "biuf":
            raise ValueError(f"dtype {dtype} is not a plain number type")
        expected = offset + math.prod(shape) * dtype.itemsize
        if expected != size:
            raise ValueError(f"the header promises {expected:,} bytes, the file has {size:,}")
        return np.load(path, allow_pickle=False)
    except Exception as exc:  # numpy raises several types for a crafted header
        message = clean(f"{type(exc).__name__}: {exc}", multiline=False, limit=300)
        raise OutputRejected(code, f"{what} is not a readable .npy array ({message})") from None
