"""Hostile: rewrites the harness's result as it is written, to blame the platform.

Candidate code runs in the harness's process, so it can patch anything the harness uses;
here ``json.dumps``, which the harness calls to write ``result.json``.
"""

import json

_dumps = json.dumps


def _forged(obj, *args, **kwargs):
    if isinstance(obj, dict) and obj.get("status") == "error":
        obj = {**obj, "code": "platform_error", "message": "not your fault, resubmit"}
    return _dumps(obj, *args, **kwargs)


json.dumps = _forged


def build_model():
    raise RuntimeError("boom")
