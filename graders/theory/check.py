"""Testing a rubric: score labelled answers and measure agreement with their labels.

A labelled file is TOML with one ``[[answers]]`` table per answer: ``id``, ``question``,
``band`` (``[low, high]``, the expected score as a fraction of the maximum), ``text``, and
optionally ``misconceptions`` and ``flags`` that must be found (the format of
``tests/data/theory_answers.toml``). An answer agrees when its score lies in its band and
every expected misconception and flag is found. ``assay theory check`` prints the result.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from graders.errors import ChallengeSpecError
from graders.paths import REPO_ROOT
from graders.theory.bank import Bank
from graders.theory.scoring import score_answer

DEFAULT_FILES = (
    REPO_ROOT / "tests" / "data" / "theory_answers.toml",
    REPO_ROOT / "tests" / "data" / "theory_adversarial.toml",
)
"""The labelled sets that ship with the repository: the original 70 and the adversarial set."""


@dataclass(frozen=True)
class Disagreement:
    """One labelled answer whose score or findings differ from its label."""

    file: str
    id: str
    question: str
    band: tuple[float, float]
    fraction: float
    missing_misconceptions: list[str]
    missing_flags: list[str]

    def describe(self) -> str:
        """One line: what was expected and what the rubric said."""
        low, high = self.band
        parts = [f"score {self.fraction:.2f} (band {low:g}-{high:g})"]
        if self.missing_misconceptions:
            parts.append("misconception not flagged: " + ", ".join(self.missing_misconceptions))
        if self.missing_flags:
            parts.append("flag not raised: " + ", ".join(self.missing_flags))
        return f"{self.id} [{self.question}]: " + "; ".join(parts)


@dataclass
class CheckReport:
    """Agreement per question and overall, and every disagreement."""

    per_question: dict[str, tuple[int, int]] = field(default_factory=dict)
    """question id -> (answers that agree, answers)."""
    disagreements: list[Disagreement] = field(default_factory=list)
    advisory: bool = True

    @property
    def total(self) -> int:
        return sum(count for _, count in self.per_question.values())

    @property
    def agreement(self) -> float:
        """Share of all answers that agree with their label (1.0 when there are none)."""
        agreed = sum(agree for agree, _ in self.per_question.values())
        return agreed / self.total if self.total else 1.0

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary."""
        return {
            "advisory": self.advisory,
            "agreement": round(self.agreement, 4),
            "answers": self.total,
            "per_question": {
                question: {"agree": agree, "answers": count, "agreement": round(agree / count, 4)}
                for question, (agree, count) in self.per_question.items()
            },
            "disagreements": [
                vars(item) | {"band": list(item.band)} for item in self.disagreements
            ],
        }


def load_labelled(path: Path) -> list[dict[str, Any]]:
    """The ``[[answers]]`` of one labelled file; :class:`ChallengeSpecError` when malformed."""
    try:
        answers = tomllib.loads(path.read_text(encoding="utf-8")).get("answers")
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ChallengeSpecError(f"{path}: cannot read: {exc}") from None
    if not isinstance(answers, list) or not answers:
        raise ChallengeSpecError(f"{path}: no [[answers]] tables")
    for index, answer in enumerate(answers):
        missing = [key for key in ("id", "question", "band", "text") if key not in answer]
        if missing:
            raise ChallengeSpecError(f"{path}: answers[{index}]: missing {', '.join(missing)}")
    return answers


def check_answers(bank: Bank, files: list[Path]) -> CheckReport:
    """Score every labelled answer in ``files`` against ``bank``; unknown questions raise."""
    report = CheckReport()
    for path in files:
        for answer in load_labelled(path):
            question = bank.get(answer["question"])
            result = score_answer(question, answer["text"])
            low, high = (float(bound) for bound in answer["band"])
            found = {hit.id for hit in result.misconceptions}
            flags = {str(flag) for flag in result.flags}
            missing = [item for item in answer.get("misconceptions", []) if item not in found]
            missing_flags = [flag for flag in answer.get("flags", []) if flag not in flags]
            agrees = low <= result.fraction <= high and not missing and not missing_flags
            agree, count = report.per_question.get(question.id, (0, 0))
            report.per_question[question.id] = (agree + agrees, count + 1)
            if not agrees:
                report.disagreements.append(
                    Disagreement(
                        path.name,
                        answer["id"],
                        question.id,
                        (low, high),
                        round(result.fraction, 4),
                        missing,
                        missing_flags,
                    )
                )
    return report
