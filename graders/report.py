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
from typing import Any

from graders.verdicts import of_report

#: An absolute path of two parts or more, not inside a URL or a relative path ("a/b"),
#: nor a fraction ("3/4").
_ABSOLUTE_PATH = re.compile(r"(?<![\w.:/~-])(/(?:[\w.+@~-]+/)+[\w.+@~-]*)")
_PACKAGE_MARKERS = ("site-packages/", "dist-packages/")


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
    bar: float
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
        data = dict(data)
        data.pop("outcome", None)  # derived from the fields (to_dict)
        if data.get("verdict"):
            v = dict(data["verdict"])
            v["checks"] = [ThresholdCheck(**c) for c in v["checks"]]
            data["verdict"] = Verdict(**v)
        if data.get("test"):
            data["test"] = _set_score(data["test"])
        data["extra"] = [_set_score(s) for s in data.get("extra", [])]
        if data.get("error"):
            data["error"] = ErrorInfo(**data["error"])
        return cls(**data)


def _set_score(data: dict[str, Any]) -> SetScore:
    return SetScore(**{**data, "metrics": [MetricValue(**m) for m in data["metrics"]]})


def failed_report(
    base: Report, code: str, message: str, phase: str = "", detail: str = ""
) -> Report:
    """``base`` (challenge, dataset, logs...) marked failed with a classified error."""
    base.status = "failed"
    base.verdict = None
    base.error = ErrorInfo(code=code, message=message, phase=phase, detail=detail)
    return base
