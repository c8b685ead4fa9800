"""The report model: what the CLI prints, the web app shows and JSON export writes.

Plain dataclasses with ``to_dict``/``from_dict``, so a report survives a round trip
through the database or a JSON file unchanged. A submission that could not be
graded is still a report: ``status="failed"`` and an ``ErrorInfo`` saying why.
"""

from __future__ import annotations

import json
import re
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from graders.verdicts import of_report

#: An absolute path of two parts or more, not inside a URL or a relative path ("a/b"),
#: nor a fraction ("3/4"), nor one made short already ("…/work/solution.py": a report is
#: scrubbed when stored, and a second pass changes nothing).
_ABSOLUTE_PATH = re.compile(r"(?<![\w.:/~…-])(/(?:[\w.+@~-]+/)+[\w.+@~-]*)")
_PACKAGE_MARKERS = ("site-packages/", "dist-packages/")
#: Characters of a log kept for a page (the tail: the end is where the error is).
LOG_TAIL = 4000
_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[@-Z\\-_]")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
#: ``Report.status`` of a stored report that could not be read back (``UnreadableReport``).
UNREADABLE = "unreadable"


def _roots() -> list[str]:
    from graders.paths import REPO_ROOT, data_dir

    roots = {str(REPO_ROOT), str(data_dir()), tempfile.gettempdir(), str(Path.home())}
    return sorted((r.rstrip("/") for r in roots if r not in ("", "/")), key=len, reverse=True)


def _short_path(match: re.Match) -> str:
    path = match.group(1)
    for marker in _PACKAGE_MARKERS:
        if marker in path:
            return marker + path.split(marker, 1)[1]
    for root in _roots():
        if path.startswith(root + "/"):
            return path[len(root) + 1 :]
    parts = [p for p in path.split("/") if p]
    return "…/" + "/".join(parts[-2:]) if len(parts) > 1 else path


def scrub_paths(value: Any) -> Any:
    """``value`` (a report's dict, a log, any JSON value) with the machine's absolute paths
    made short: a library's from its ``site-packages/``, the repository's, the data
    folder's, the temporary folder's and the home folder's relative to them, any other
    to its last two parts ("…/work/solution.py"). A report shows how the candidate's code
    ran, never where the grader keeps its files. Line numbers and file names stay."""
    if isinstance(value, str):
        return _ABSOLUTE_PATH.sub(_short_path, value) if "/" in value else value
    if isinstance(value, dict):
        return {key: scrub_paths(item) for key, item in value.items()}
    if isinstance(value, list):
        return [scrub_paths(item) for item in value]
    return value


@dataclass
class MetricValue:
    """One metric on one evaluation set; ``value`` is None where it does not apply."""

    name: str
    label: str
    value: float | None
    higher_is_better: bool = True


@dataclass
class ThresholdCheck:
    """One pass bar: met or missed, and by how much (``margin`` > 0 is on the good side)."""

    metric: str
    label: str
    bar: float | None  # None only in a stored report that lacks it (``from_dict``)
    value: float | None
    met: bool
    margin: float | None
    higher_is_better: bool = True


@dataclass
class Verdict:
    """Overall pass only when every check is met; ``borderline`` when within run-to-run spread."""

    passed: bool
    checks: list[ThresholdCheck]
    borderline: bool = False
    note: str = ""


@dataclass
class SetScore:
    """Scores on one evaluation set (the hidden ``test`` set, or an out-of-domain set)."""

    name: str
    n: int
    metrics: list[MetricValue]
    per_class: dict[str, list] = field(default_factory=dict)
    confusion: list[list[int]] = field(default_factory=list)
    roc: dict[str, list[float]] | None = None

    def value(self, metric: str) -> float | None:
        return next((m.value for m in self.metrics if m.name == metric), None)


@dataclass
class ErrorInfo:
    """Why a submission could not be graded, in words a candidate can act on."""

    code: str
    message: str
    phase: str = ""
    detail: str = ""  # e.g. the last frames of a traceback: staff and the candidate may see it


@dataclass
class Report:
    """A graded (or failed) submission."""

    challenge: str
    title: str
    dataset: str
    tier: str
    status: str  # "graded" or "failed"
    class_names: list[str] = field(default_factory=list)
    primary_metric: str = ""
    verdict: Verdict | None = None
    test: SetScore | None = None
    extra: list[SetScore] = field(default_factory=list)
    history: dict[str, list[float]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    error: ErrorInfo | None = None
    logs: dict[str, str] = field(default_factory=dict)
    reproducibility: dict[str, Any] = field(default_factory=dict)
    runs: list[dict[str, Any]] = field(default_factory=list)
    #: For the reviewer, never part of the verdict: {"kind": "shadow" | "source", "message",
    #: optionally "line"}, from the shadow test and the source signals.
    flags: list[dict[str, Any]] = field(default_factory=list)
    #: The shadow test (graders/shadow.py): metric, test and shadow values, gap, max_gap,
    #: flagged, seed, changes; empty when the challenge has none or the grading failed.
    shadow: dict[str, Any] = field(default_factory=dict)
    #: "public" when the test labels are published (the packaged tiers, the original MNIST
    #: files), "private" for a test set an operator imported: what a pass is worth.
    test_labels: str = "public"
    #: How the test split was made: ``{"kind": "official"}`` (as published or imported) or
    #: ``{"kind": "secret", "identity": HASH}`` (drawn with an assessment's secret seed,
    #: graders/splits.py; the hash names the rows chosen, never the seed).
    split: dict[str, Any] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return self.status == "graded" and self.verdict is not None and self.verdict.passed

    def to_dict(self) -> dict[str, Any]:
        """The fields, and ``outcome``: the verdict as worded everywhere (graders/verdicts.py)."""
        return {**asdict(self), "outcome": of_report(self).to_dict()}

    def to_json(self) -> str:
        """The report as stored and exported: with no host path in it (``scrub_paths``)."""
        return json.dumps(scrub_paths(self.to_dict()), indent=2, ensure_ascii=False)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Report:
        """The report of ``data`` (``to_dict``'s shape, or an older one): a field that is
        missing takes its default, a part of the wrong type is left out, an unknown key
        (``outcome``, derived from the fields, or one of a newer version) is ignored. A
        report written by ``to_dict`` comes back equal."""
        return _read_report(data)

    @classmethod
    def from_json(cls, text: str | bytes) -> Report:
        """A stored or exported report read back, the one way: ``from_dict`` of the JSON.
        Stored reports have no host path in them (``to_json`` makes them short, and
        migration 0018 did so for rows stored before), so reading is only parsing. Text that
        is no JSON object gives an ``UnreadableReport``, never an exception."""
        try:
            data = json.loads(text)
        except (ValueError, TypeError, RecursionError) as exc:
            return UnreadableReport.of(text, f"not JSON: {exc}")
        if not isinstance(data, dict):
            return UnreadableReport.of(text, f"a JSON {type(data).__name__}, not an object")
        return _read_report(data)

    def headline(self) -> Headline:
        """What the pass was decided on: the bar's metric (the sentiment sample's bar is on
        ROC-AUC while its primary metric is F1), the primary one only when it has a bar too
        or when there is no bar; its value and bar (None without a bar)."""
        checks = self.verdict.checks if self.verdict is not None else []
        check = next((c for c in checks if c.metric == self.primary_metric), None) or next(
            (c for c in checks if c.metric), None
        )
        if check is not None:
            return Headline(check.metric, check.value, check.bar)
        value = self.test.value(self.primary_metric) if self.test is not None else None
        return Headline(self.primary_metric, value, None)

    def log_tails(self, limit: int = LOG_TAIL) -> dict[str, tuple[str, bool]]:
        """Every log's tail as a page shows it (``log_tail``), by name ("train stderr")."""
        return {name: log_tail(text, limit) for name, text in self.logs.items()}

    def failure_log(self, limit: int = LOG_TAIL) -> str:
        """The tail of the log that tells why it failed: the failed phase's stderr, else its
        stdout, else the error's detail (the train phase's when no phase failed)."""
        phase = (self.error.phase if self.error is not None else "") or "train"
        detail = self.error.detail if self.error is not None else ""
        text = self.logs.get(f"{phase} stderr") or self.logs.get(f"{phase} stdout") or detail
        return log_tail(text, limit)[0]


class Headline(NamedTuple):
    """A report's headline: (metric, value, bar), as the candidates table sorts on it."""

    metric: str
    value: float | None
    bar: float | None


@dataclass
class UnreadableReport(Report):
    """A stored report that could not be read back (corrupt, cut short, not an object):
    a report with nothing in it, ``status="unreadable"``, saying why (``reason``) and
    keeping the text as it was (``text``), so that a page shows it and an export loses
    nothing."""

    reason: str = ""
    text: str = ""

    @classmethod
    def of(cls, text: str | bytes, reason: str) -> UnreadableReport:
        if isinstance(text, bytes):
            text = text.decode("utf-8", errors="replace")
        return cls(
            challenge="",
            title="",
            dataset="",
            tier="",
            status=UNREADABLE,
            reason=reason,
            text=scrub_paths(str(text)),
        )

    def to_dict(self) -> dict[str, Any]:
        return {"status": self.status, "reason": self.reason, "text": self.text}


def log_tail(text: str, limit: int = LOG_TAIL) -> tuple[str, bool]:
    """The end of a log with ANSI escapes and control characters removed; (text, cut)."""
    clean = _CONTROL.sub("", _ANSI.sub("", text or ""))
    if len(clean) <= limit:
        return clean, False
    return clean[-limit:], True


# -- reading a stored report: tolerant of older and hand-written shapes ----------------------


def _dict(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list:
    return value if isinstance(value, list) else []


def _str(value: Any, default: str = "") -> str:
    return value if isinstance(value, str) else default


def _number(value: Any) -> float | None:
    """A JSON number as it was stored (an int stays an int); None for anything else."""
    return value if isinstance(value, int | float) and not isinstance(value, bool) else None


def _metric(data: dict) -> MetricValue:
    return MetricValue(
        name=_str(data.get("name")),
        label=_str(data.get("label")),
        value=_number(data.get("value")),
        higher_is_better=data.get("higher_is_better") is not False,
    )


def _check(data: dict) -> ThresholdCheck:
    return ThresholdCheck(
        metric=_str(data.get("metric")),
        label=_str(data.get("label")),
        bar=_number(data.get("bar")),
        value=_number(data.get("value")),
        met=bool(data.get("met")),
        margin=_number(data.get("margin")),
        higher_is_better=data.get("higher_is_better") is not False,
    )


def _verdict(data: dict) -> Verdict:
    return Verdict(
        passed=bool(data.get("passed")),
        checks=[_check(c) for c in _list(data.get("checks")) if isinstance(c, dict)],
        borderline=bool(data.get("borderline")),
        note=_str(data.get("note")),
    )


def _set_score(data: dict[str, Any]) -> SetScore:
    n = data.get("n")
    roc = data.get("roc")
    return SetScore(
        name=_str(data.get("name")),
        n=n if isinstance(n, int) and not isinstance(n, bool) else 0,
        metrics=[_metric(m) for m in _list(data.get("metrics")) if isinstance(m, dict)],
        per_class=_dict(data.get("per_class")),
        confusion=_list(data.get("confusion")),
        roc=roc if isinstance(roc, dict) else None,
    )


def _error(data: dict) -> ErrorInfo:
    return ErrorInfo(
        code=_str(data.get("code")),
        message=_str(data.get("message")),
        phase=_str(data.get("phase")),
        detail=_str(data.get("detail")),
    )


def _read_report(data: dict[str, Any]) -> Report:
    verdict, test, error = (_dict(data.get(key)) for key in ("verdict", "test", "error"))
    return Report(
        challenge=_str(data.get("challenge")),
        title=_str(data.get("title")),
        dataset=_str(data.get("dataset")),
        tier=_str(data.get("tier")),
        status=_str(data.get("status")),
        class_names=[str(c) for c in _list(data.get("class_names"))],
        primary_metric=_str(data.get("primary_metric")),
        verdict=_verdict(verdict) if verdict else None,
        test=_set_score(test) if test else None,
        extra=[_set_score(s) for s in _list(data.get("extra")) if isinstance(s, dict)],
        history=_dict(data.get("history")),
        warnings=[w for w in _list(data.get("warnings")) if isinstance(w, str)],
        error=_error(error) if error else None,
        logs={k: v for k, v in _dict(data.get("logs")).items() if isinstance(v, str)},
        reproducibility=_dict(data.get("reproducibility")),
        runs=[r for r in _list(data.get("runs")) if isinstance(r, dict)],
        # A flag is a dict with a kind (what verdicts.review_reasons reads).
        flags=[f for f in _list(data.get("flags")) if isinstance(_dict(f).get("kind"), str)],
        shadow=_dict(data.get("shadow")),
        test_labels=_str(data.get("test_labels"), "public"),
        split=_dict(data.get("split")),
    )


def failed_report(
    base: Report, code: str, message: str, phase: str = "", detail: str = ""
) -> Report:
    """``base`` (challenge, dataset, logs...) marked failed with a classified error."""
    base.status = "failed"
    base.verdict = None
    base.error = ErrorInfo(code=code, message=message, phase=phase, detail=detail)
    return base
