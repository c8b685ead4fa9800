"""Words the pages show for the platform's own codes: metric names, statuses, roles, tiers,
events, log and record names, in the reader's language.

The grading core (``graders/``, no Flask) names things with stable codes and English labels
for the CLI; pages never show those labels. Each table here maps a code to a lazily
translated label; a code without one is shown as it is (a new code then shows up in the
Chinese-page test, ``tests/server/test_i18n_pages.py``, instead of passing silently).
``init_app`` makes each lookup a template global (``metric_label(name)``, ...).
"""

from __future__ import annotations

from flask import Flask
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from markupsafe import Markup, escape

#: graders.metrics.METRICS and graders.scoring.BUDGET, by name.
METRICS = {
    "accuracy": _l("Accuracy"),
    "error_rate": _l("Error rate"),
    "precision_macro": _l("Precision (macro)"),
    "recall_macro": _l("Recall (macro)"),
    "f1_macro": _l("F1 (macro)"),
    "precision": _l("Precision (positive class)"),
    "recall": _l("Recall (positive class)"),
    "f1": _l("F1 (positive class)"),
    "roc_auc": "ROC-AUC",
    "pr_auc": _l("PR-AUC (average precision)"),
    "param_count": _l("parameters"),
    "model_kb": _l("saved model size (KiB)"),
}

ROLES = {"admin": _l("administrator"), "recruiter": _l("recruiter"), "reviewer": _l("reviewer")}

#: Gradings, runs, webhook deliveries, invitations.
STATUSES = {
    "queued": _l("queued"),
    "running": _l("running"),
    "graded": _l("graded"),
    "failed": _l("failed"),
    "pending": _l("pending"),
    "delivered": _l("delivered"),
    "ok": _l("ok"),
    "sent": _l("sent"),
    "opened": _l("opened"),
}

#: server.invitations.STATES: where a candidate is.
INVITATION_STATES = {
    "sent": _l("sent"),
    "opened": _l("opened"),
    "working": _l("working"),
    "submitted": _l("submitted"),
    "graded": _l("graded"),
    "expired": _l("expired"),
    "revoked": _l("revoked"),
}

TIERS = {"sample": _l("sample"), "full": _l("full")}

EVENTS = {"submission.graded": _l("submission graded"), "decision.made": _l("decision made")}

SCOPES = {"read": _l("read"), "write": _l("read and write")}

PHASES = {"train": _l("training"), "predict": _l("prediction"), "dry_run": _l("dry run")}

#: A report's ``reproducibility`` record, by key.
RECORD = {
    "backend": _l("sandbox backend"),
    "engine": _l("container engine"),
    "image": _l("grader image"),
    "image_id": _l("grader image id"),
    "python": _l("Python version"),
    "seccomp": _l("seccomp filter"),
    "limits_via": _l("limits enforced by"),
    "host_user": _l("sandbox user"),
    "seed": _l("random seed"),
    "dataset": _l("dataset"),
    "dataset_checksum": _l("dataset checksum"),
    "train_limits": _l("training limits"),
    "predict_limits": _l("prediction limits"),
    "slice": _l("data slice"),
    "bars_set_by_assessment": _l("pass bars set by the assessment"),
    "train_wall_seconds": _l("training wall time (s)"),
    "predict_wall_seconds": _l("prediction wall time (s)"),
    "train_peak_memory_mb": _l("training peak memory (MB)"),
    "predict_peak_memory_mb": _l("prediction peak memory (MB)"),
    "train_code_seconds": _l("time in the candidate's training code (s)"),
    "predict_code_seconds": _l("time in the candidate's prediction code (s)"),
    "total_wall_seconds": _l("total wall time (s)"),
    "train_sandbox": _l("training sandbox"),
    "param_count": _l("parameters"),
    "model_kb": _l("saved model size (KiB)"),
    "mode": _l("mode"),
    "versions": _l("library versions"),
}

#: server.audit.ACTIONS.
AUDIT_ACTIONS = {
    "login": _l("logged in"),
    "invitation": _l("invited"),
    "reveal": _l("revealed a name"),
    "theory_confirm": _l("confirmed a theory score"),
    "theory_override": _l("overrode a theory score"),
    "decision": _l("decision"),
    "regrade": _l("re-grade"),
    "deletion": _l("deletion"),
    "blind_review": _l("blind review changed"),
    "reviewer_assigned": _l("reviewer assigned"),
    "export": _l("export"),
}

#: Reviewer flags (graders/signals.py, graders/scoring.py score_shadow), by code.
FLAG_KINDS = {
    "source": _l("code"),
    "embedded_data": _l("embedded data"),
    "shadow": _l("shadow test set"),
}
FLAGS = {
    "file_size": _l("the file is %(kb)s KB (the reference solutions: 2-4 KB)"),
    "base64_literal": _l("a base64-like literal of %(chars)s characters"),
    "long_literal": _l("a literal of %(chars)s characters"),
    "numeric_literal": _l("a literal holding %(numbers)s numbers"),
    "hashing_import": _l("imports %(modules)s (hashing)"),
    "hashing_call": _l("calls %(name)s() (hashing of inputs?)"),
    "shadow_unscored": _l("the shadow copy of the test set could not be scored: %(error)s"),
    "shadow_gap": _l(
        "%(metric)s drops from %(test)s on the test set to %(shadow)s on its slightly changed"
        " copy (gap %(gap)s > %(max_gap)s): honest models do not lose that much; the model may"
        " recognise the public test inputs rather than classify them"
    ),
}

STREAMS = {"stdout": _l("standard output"), "stderr": _l("standard error")}


def _lookup(table: dict, code) -> str:
    if code is None:
        return ""
    return str(table.get(code, code))


def metric_label(name: str) -> str:
    return _lookup(METRICS, name)


def role_label(role: str) -> str:
    return _lookup(ROLES, role)


def status_label(status: str) -> str:
    return _lookup(STATUSES, status)


def state_label(state: str) -> str:
    return _lookup(INVITATION_STATES, state)


def tier_label(tier: str) -> str:
    return _lookup(TIERS, tier)


def event_label(event: str) -> str:
    return _lookup(EVENTS, event)


def scope_label(scope: str) -> str:
    return _lookup(SCOPES, scope)


def phase_label(phase: str) -> str:
    return _lookup(PHASES, phase)


def record_label(key: str) -> str:
    return _lookup(RECORD, key)


def audit_label(action: str) -> str:
    return _lookup(AUDIT_ACTIONS, action)


def flag_kind(kind: str) -> str:
    return _lookup(FLAG_KINDS, kind)


#: Flag parameters that name code (modules, functions) or carry raw error text.
CODE_PARAMS = {"modules", "name", "error"}


def flag_text(flag: dict) -> str:
    """A reviewer flag in the reader's language; its English message if its code is unknown
    (a report stored before flags had codes)."""
    template = FLAGS.get(flag.get("code"))
    params = flag.get("params")
    if template is None or not isinstance(params, dict):
        return str(flag.get("message", ""))
    shown = {}
    for key, value in params.items():
        if key == "metric":
            value = metric_label(value)
        elif key in CODE_PARAMS:  # module and function names, error text: shown as code
            value = Markup("<code>{}</code>").format(value)
        elif isinstance(value, float):
            value = f"{value:.4f}"
        elif isinstance(value, int):
            value = f"{value:,}"
        shown[key] = value
    try:
        # Markup % escapes every value that is not Markup itself.
        return Markup(escape(str(template))) % shown
    except (KeyError, TypeError, ValueError):
        return str(flag.get("message", ""))


def log_label(name: str) -> str:
    """``"train stdout"`` -> "training · standard output"."""
    phase, _, stream = name.partition(" ")
    if phase in PHASES and stream in STREAMS:
        return f"{PHASES[phase]} · {STREAMS[stream]}"
    return name


def lang() -> str:
    return "zh" if str(get_locale() or "en").startswith("zh") else "en"


def challenge_title(slug: str) -> str:
    """The challenge's title in the reader's language (its slug if it is gone)."""
    from graders.challenges import get_challenge

    try:
        spec = get_challenge(slug).spec
    except Exception:  # a challenge removed since: show its slug
        return slug
    return spec.title_zh if lang() == "zh" and spec.title_zh else spec.title


def error_title(code: str) -> str:
    """The error catalogue's plain-language message of ``code``, in the reader's language."""
    from graders.catalogue import error_info

    return error_info(code).message(lang())


GLOBALS = (
    metric_label,
    role_label,
    status_label,
    state_label,
    tier_label,
    event_label,
    scope_label,
    phase_label,
    record_label,
    log_label,
    audit_label,
    flag_kind,
    flag_text,
    challenge_title,
    error_title,
)


def init_app(app: Flask) -> None:
    app.jinja_env.globals.update({f.__name__: f for f in GLOBALS})
