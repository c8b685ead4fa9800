"""A grading's options as stored with it: ``GradeOptions`` to JSON and back, strictly.

The web side builds a ``GradeOptions`` (``server.assessments.grading_options``) and the
grading stores it as JSON (``options_json``), so that a retry grades exactly the same way;
the worker reads it back into the same type. Both ways refuse what ``GradeOptions`` does not
know: an unknown key or a value of the wrong type is an ``OptionsError`` naming it, raised
when the grading is created (it never reaches the queue) or, for a row stored before this
check, when a worker claims it (the grading then fails with a platform note).

Only the fields that differ from their default are stored (``{"tier": "sample"}``), as the
web app always stored them. ``split_seed`` is never stored: it is the assessment's secret,
handed to the worker by its claim (``server.split_secrets``).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from typing import Any

from pydantic import TypeAdapter, ValidationError

from graders.pipeline import GradeOptions

#: The fields a stored grading may carry: every field but the split secret.
STORED_FIELDS = tuple(f.name for f in dataclasses.fields(GradeOptions) if f.name != "split_seed")

_ADAPTER = TypeAdapter(GradeOptions)


class OptionsError(ValueError):
    """Grading options that ``GradeOptions`` cannot take; the message names the key."""


def parse_options(data: Mapping[str, Any] | GradeOptions) -> GradeOptions:
    """``GradeOptions`` from plain values (a form's, the API's, a stored row's), strictly.

    A ``GradeOptions`` is checked the same way, so that a value of the wrong type set by
    hand does not slip through either.
    """
    if isinstance(data, GradeOptions):
        data = _as_dict(data)
    if not isinstance(data, Mapping):
        raise OptionsError(f"grading options must be an object, not {type(data).__name__}")
    unknown = sorted(set(data) - set(STORED_FIELDS))
    if unknown:
        raise OptionsError(
            f"unknown grading option{'s' if len(unknown) > 1 else ''}: "
            f"{', '.join(map(repr, unknown))} (known: {', '.join(STORED_FIELDS)})"
        )
    try:
        # Through JSON in strict mode: "300" is not an int, nor true a number.
        return _ADAPTER.validate_json(json.dumps(dict(data)), strict=True)
    except (TypeError, ValueError) as exc:
        raise OptionsError(f"grading options: {_first_error(exc)}") from exc


def loads_options(text: str | None) -> GradeOptions:
    """``GradeOptions`` from a stored ``options_json`` (empty text: the defaults)."""
    try:
        data = json.loads(text or "{}")
    except ValueError as exc:
        raise OptionsError(f"grading options are not JSON: {exc}") from exc
    return parse_options(data)


def dumps_options(options: GradeOptions | Mapping[str, Any]) -> str:
    """The JSON stored with a grading: the fields that differ from their default, sorted.

    Checked first (``parse_options``): what is stored is what a worker can read back."""
    options = parse_options(options)
    return json.dumps(_stored(options), sort_keys=True)


def _stored(options: GradeOptions) -> dict[str, Any]:
    defaults = GradeOptions()
    return {
        name: getattr(options, name)
        for name in STORED_FIELDS
        if getattr(options, name) != getattr(defaults, name)
    }


def _as_dict(options: GradeOptions) -> dict[str, Any]:
    if options.split_seed is not None:
        raise OptionsError("split_seed is never stored with a grading (its claim carries it)")
    return {name: getattr(options, name) for name in STORED_FIELDS}


def _first_error(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error["loc"])
        return f"{where}: {error['msg']}" if where else error["msg"]
    return str(exc)
