"""The one place that words a verdict: a flagged pass is not a clean pass.

A pass whose report carries a replay flag (the shadow test), a budget flag (the saved model
carries more than its weights) or an embedded-data flag (graders/signals.py) reads
"passed, flagged for review" with its reasons, wherever a verdict is shown: the CLI, JSON,
the report page, the candidates table, the CSV, the API and webhooks. The exit code of
``assay grade`` stays 0 (the bars were met); the hiring team decides.

Texts are English msgids; the web app passes its ``gettext`` so they read in Chinese too
(the catalogue holds them: server/translations).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

#: Flag kinds that make a pass "flagged for review", and the reason each stands for.
REVIEW_KINDS = {"shadow": "replay", "budget": "budget", "embedded_data": "embedded_data"}
#: Reason code -> its words (msgids).
REASONS = {
    "replay": "the shadow test suggests the test answers were replayed",
    "budget": "the saved model carries numbers outside its weights",
    "embedded_data": "the code embeds data",
}
#: Verdict key -> its words (msgids).
LABELS = {
    "passed": "passed",
    "passed_flagged": "passed, flagged for review",
    "below_bar": "below the bar",
    "failed": "failed",
}


def _same(text: str) -> str:
    return text


@dataclass(frozen=True)
class Outcome:
    """``key``: passed, passed_flagged, below_bar or failed; ``reasons``: reason codes."""

    key: str
    reasons: tuple[str, ...] = ()

    @property
    def passed(self) -> bool:
        return self.key in ("passed", "passed_flagged")

    @property
    def flagged(self) -> bool:
        return self.key == "passed_flagged"

    def label(self, gettext: Callable[[str], str] = _same) -> str:
        return gettext(LABELS[self.key])

    @property
    def reason_msgids(self) -> list[str]:
        """The reasons' English words, for templates that translate them with their own ``_``."""
        return [REASONS[r] for r in self.reasons]

    def reason_texts(self, gettext: Callable[[str], str] = _same) -> list[str]:
        return [gettext(text) for text in self.reason_msgids]

    def text(self, gettext: Callable[[str], str] = _same) -> str:
        """The label, with the reasons after a colon when flagged."""
        if not self.reasons:
            return self.label(gettext)
        return f"{self.label(gettext)}: {'; '.join(self.reason_texts(gettext))}"

    def to_dict(self) -> dict:
        return {"verdict": self.key, "label": self.text(), "review_reasons": list(self.reasons)}


def review_reasons(flags: Iterable[dict]) -> tuple[str, ...]:
    """The reason codes of ``flags`` (a report's), each once, in ``REVIEW_KINDS`` order."""
    kinds = {f.get("kind") for f in flags if isinstance(f, dict)}
    return tuple(reason for kind, reason in REVIEW_KINDS.items() if kind in kinds)


def outcome(status: str | None, passed: bool | None, reasons: Iterable[str] = ()) -> Outcome:
    """The verdict of a grading from its stored figures (status, passed, reason codes)."""
    if status != "graded":
        return Outcome("failed")
    if not passed:
        return Outcome("below_bar")
    reasons = tuple(r for r in REASONS if r in set(reasons))
    return Outcome("passed_flagged", reasons) if reasons else Outcome("passed")


def of_report(report) -> Outcome:
    """The verdict of a ``graders.report.Report``."""
    return outcome(report.status, report.passed, review_reasons(report.flags))
