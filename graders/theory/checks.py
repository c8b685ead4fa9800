"""Concept checks: multiple-choice questions scored exactly, and what a wrong pick reveals.

Each question of the bank carries concept checks (``[[checks]]`` in its TOML, validated by
:class:`graders.theory.bank.ConceptCheck`): one correct option and distractors, each of
which is one of the question's own misconceptions. Rules:

1. A candidate sees each check's options in an order drawn from their own seed (stored with
   their answers), the question id and the check id: the same order on every reload, a
   different one for the next candidate, so a neighbour's "the second option" is worthless.
2. The page posts the displayed position; :func:`choice_at` maps it back to the option's key
   (``correct`` or the misconception id), which is what is stored. A changed option order in
   the bank therefore never changes what a stored pick means.
3. A check scores 1 when its stored key is ``correct``, 0 otherwise; the score of a question
   is the number of its checks answered correctly out of its checks, exactly. A wrong pick
   names the misconception the candidate holds, with the bank's explanation of why it is
   wrong. A stored pick whose key the bank no longer has counts as unanswered.
4. :func:`verify_bank` holds the bank to what the schema cannot check per file: at least
   :data:`MIN_CHECKS` checks per question.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from graders.theory.bank import CORRECT, Bank, CheckOption, ConceptCheck, Misconception, Question

MIN_CHECKS = 4
"""Concept checks every question of the shipped bank carries (``assay theory check``)."""


def option_order(seed: int, question_id: str, check: ConceptCheck) -> list[CheckOption]:
    """The options of ``check`` in the order the candidate with ``seed`` sees them."""
    options = list(check.options)
    # A string seed is hashed with SHA-512 by ``random``: stable across processes and runs.
    random.Random(f"{seed}:{question_id}:{check.id}").shuffle(options)
    return options


def choice_at(seed: int, question_id: str, check: ConceptCheck, position: int) -> str | None:
    """The key of the option shown at ``position`` (0-based); None when out of range."""
    options = option_order(seed, question_id, check)
    if not 0 <= position < len(options):
        return None
    return options[position].key


@dataclass(frozen=True)
class CheckResult:
    """One check as answered: the option picked and what it says about the candidate."""

    check: ConceptCheck
    choice: str | None
    """The stored key, or None when unanswered (or the key is gone from the bank)."""
    misconception: Misconception | None = None
    """The misconception a wrong pick reveals."""

    @property
    def answered(self) -> bool:
        return self.choice is not None

    @property
    def correct(self) -> bool:
        return self.choice == CORRECT

    @property
    def picked(self) -> CheckOption | None:
        return self.check.option(self.choice) if self.choice else None

    def to_dict(self) -> dict[str, Any]:
        picked = self.picked
        return {
            "id": self.check.id,
            "answered": self.answered,
            "correct": self.correct,
            "choice": self.choice,
            "picked": picked.text.as_dict() if picked else None,
            "misconception": None
            if self.misconception is None
            else {
                "id": self.misconception.id,
                "label": self.misconception.label.as_dict(),
                "why": self.misconception.why.as_dict(),
            },
        }


@dataclass(frozen=True)
class ChecksScore:
    """A question's concept checks as answered; ``correct`` of ``total`` is the exact score."""

    question_id: str
    results: tuple[CheckResult, ...] = ()

    @property
    def total(self) -> int:
        return len(self.results)

    @property
    def answered(self) -> int:
        return sum(result.answered for result in self.results)

    @property
    def correct(self) -> int:
        return sum(result.correct for result in self.results)

    @property
    def wrong(self) -> list[CheckResult]:
        return [result for result in self.results if result.answered and not result.correct]

    def to_dict(self) -> dict[str, Any]:
        return {
            "question": self.question_id,
            "correct": self.correct,
            "answered": self.answered,
            "total": self.total,
            "checks": [result.to_dict() for result in self.results],
        }


def score_checks(question: Question, choices: dict[str, str]) -> ChecksScore:
    """Score the stored ``choices`` (check id -> option key) against ``question``'s checks."""
    results = []
    for check in question.checks:
        choice = choices.get(check.id)
        option = check.option(choice) if choice else None
        if option is None:
            results.append(CheckResult(check, None))
            continue
        found = question.misconception(option.misconception) if option.misconception else None
        results.append(CheckResult(check, option.key, found))
    return ChecksScore(question.id, tuple(results))


@dataclass(frozen=True)
class ChecksTotal:
    """The exact concept-check score over several questions."""

    per_question: tuple[ChecksScore, ...] = field(default=())

    @property
    def correct(self) -> int:
        return sum(item.correct for item in self.per_question)

    @property
    def answered(self) -> int:
        return sum(item.answered for item in self.per_question)

    @property
    def total(self) -> int:
        return sum(item.total for item in self.per_question)

    def to_dict(self) -> dict[str, Any]:
        return {
            "correct": self.correct,
            "answered": self.answered,
            "total": self.total,
            "questions": [item.to_dict() for item in self.per_question],
        }


def check_to_dict(check: ConceptCheck) -> dict[str, Any]:
    """A check as ``assay theory list --json`` prints it (bank order, correct option marked)."""
    return {
        "id": check.id,
        "prompt": check.prompt.as_dict(),
        "why": check.why.as_dict(),
        "options": [
            {
                "key": option.key,
                "correct": option.correct,
                "misconception": option.misconception,
                "text": option.text.as_dict(),
            }
            for option in check.options
        ],
    }


def verify_bank(bank: Bank, min_checks: int = MIN_CHECKS) -> list[str]:
    """Problems with the bank's concept checks, one line each (empty when all is well).

    Loading already enforced each check's shape (one correct option, distractors naming the
    question's misconceptions, texts in both languages); this adds the count per question.
    """
    problems = []
    for question in bank.questions:
        if len(question.checks) < min_checks:
            problems.append(
                f"{question.id}: {len(question.checks)} concept check(s), at least "
                f"{min_checks} needed"
            )
    return problems
