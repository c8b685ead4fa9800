"""Rubric reading of one answer: claims found, mentioned, contradicted, with their spans.

The rules are listed in :mod:`graders.theory` (the package docstring). The reading is
evidence for a reviewer, never a grade: on answers it was not tuned on its total was close to
a coin toss (issue 18), so nothing outside this package shows ``score``;
:meth:`TheoryScore.evidence_dict` is what leaves it. The total stays for the labelled-set
measurement (``assay theory check``), which any future automatic number must pass first.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

from graders.theory.bank import KeyPoint, Misconception, Question
from graders.theory.claims import CuedReading, Reading, read
from graders.theory.text import Answer

MAX_ANSWER_CHARS = 5_000
"""Longer answers are flagged ``too_long`` and not scored."""

STUFFING_CAP = 0.3
"""A keyword-stuffed answer scores at most this fraction of the maximum."""

STUFFING_SHARE = 0.6
"""Fraction of matched points found only in term lists from which an answer is stuffed."""

MAX_MENTIONS = 24
"""Matches read per key point or misconception; a longer answer repeats itself."""


class Flag(StrEnum):
    """Machine-readable reasons attached to a score (the web app translates them)."""

    NOT_TEXT = "not_text"
    EMPTY = "empty"
    TOO_LONG = "too_long"
    KEYWORD_STUFFING = "keyword_stuffing"


@dataclass(frozen=True)
class Span:
    """Where a pattern matched: ``text == answer[start:end]`` (character offsets)."""

    text: str
    start: int
    end: int


@dataclass(frozen=True)
class PointMatch:
    """A credited key point: a clause asserts it at ``span``.

    ``in_sentence`` is False when it occurs only in a term list (a line of terms, or a bare
    item of an enumeration inside a sentence).
    """

    id: str
    label: dict[str, str]
    weight: int
    span: Span
    in_sentence: bool


@dataclass(frozen=True)
class Mention:
    """A claim the answer mentions without asserting it, and why it earns nothing.

    ``reading`` is ``negated``, ``questioned``, ``refuted`` or ``contradicted`` (asserted, but
    so is a misconception that contradicts it); ``cue`` is the word that decided it (for
    ``contradicted``, the misconception's span).
    """

    reading: str
    span: Span
    cue: Span | None


@dataclass(frozen=True)
class MissedPoint:
    """A key point the answer does not make; ``mention`` when it names it without credit."""

    id: str
    label: dict[str, str]
    weight: int
    mention: Mention | None = None


@dataclass(frozen=True)
class MisconceptionHit:
    """A misconception the answer asserts, with the explanation of why it is wrong."""

    id: str
    label: dict[str, str]
    penalty: int
    span: Span
    why: dict[str, str]
    cue: Span | None = None


@dataclass(frozen=True)
class Correction:
    """A misconception the answer names only to negate or refute it: no penalty."""

    id: str
    label: dict[str, str]
    reading: str
    span: Span
    cue: Span | None


@dataclass
class TheoryScore:
    """The score of one answer and everything that explains it.

    ``score`` lies in ``[0, max_score]``; ``flags`` holds :class:`Flag` values and
    ``notes`` one English sentence per flag for people reading the result. ``advisory`` is
    always True: ``score`` is for measurement against labelled answers only; people get
    :meth:`evidence_dict` and mark each key point themselves.
    """

    question_id: str
    score: float
    max_score: float
    matched: list[PointMatch] = field(default_factory=list)
    missed: list[MissedPoint] = field(default_factory=list)
    misconceptions: list[MisconceptionHit] = field(default_factory=list)
    corrections: list[Correction] = field(default_factory=list)
    flags: list[Flag] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    advisory: bool = True

    @property
    def fraction(self) -> float:
        """``score / max_score``."""
        return self.score / self.max_score if self.max_score else 0.0

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of every field plus ``fraction`` (measurement only)."""
        data = asdict(self)
        data["flags"] = [str(flag) for flag in self.flags]
        data["fraction"] = round(self.fraction, 4)
        return data

    def evidence_dict(self) -> dict[str, Any]:
        """What the reading found, for people: every field but the numeric total, and
        ``suggested_score`` None (the key stays, so tools can tell there is none)."""
        data = asdict(self)
        del data["score"]
        data["flags"] = [str(flag) for flag in self.flags]
        data["notes"] = evidence_notes(self)
        data["suggested_score"] = None
        return data


def evidence_notes(result: TheoryScore) -> list[str]:
    """One English sentence per flag that says what was found, not what it did to a score."""
    notes = []
    for flag, note in zip(result.flags, result.notes, strict=True):
        if flag is Flag.KEYWORD_STUFFING:
            listed = sum(not point.in_sentence for point in result.matched)
            note = (
                f"{listed} of {len(result.matched)} mentioned points appear only in lists of "
                "terms, not explained in sentences."
            )
        elif flag in (Flag.TOO_LONG, Flag.NOT_TEXT):
            note = note.replace("it was not scored", "the machine did not read it").replace(
                " Read it and set the score by hand.", ""
            )
        notes.append(note)
    return notes


def score_answer(question: Question, text: object) -> TheoryScore:
    """Score ``text`` against ``question``'s rubric; never raises for a bad answer.

    See :mod:`graders.theory` for the rules. ``text`` may be any object: non-strings,
    blank and over-long answers come back flagged with a score of 0.
    """
    result = TheoryScore(question.id, 0.0, float(question.max_score))
    rejection = _rejection(text)
    if rejection is not None:
        result.flags.append(rejection[0])
        result.notes.append(rejection[1])
        result.missed = [_missed(point) for point in question.key_points]
        return result
    assert isinstance(text, str)
    answer = Answer(text)
    credits = {point.id: _credit(point, answer) for point in question.key_points}
    _find_misconceptions(result, question, answer)
    _withdraw_contradicted(result, question, credits, answer)
    for point in question.key_points:
        credit = credits[point.id]
        if isinstance(credit, PointMatch):
            result.matched.append(credit)
        else:
            result.missed.append(_missed(point, credit))
    _total(result)
    return result


def _rejection(text: object) -> tuple[Flag, str] | None:
    if not isinstance(text, str):
        return Flag.NOT_TEXT, f"The answer is not text ({type(text).__name__}); it was not scored."
    if not text.strip():
        return Flag.EMPTY, "The answer is empty."
    if len(text) > MAX_ANSWER_CHARS:
        return Flag.TOO_LONG, (
            f"The answer has {len(text):,} characters, over the {MAX_ANSWER_CHARS:,} limit; "
            "it was not scored. Read it and set the score by hand."
        )
    return None


def _missed(point: KeyPoint, mention: Mention | None = None) -> MissedPoint:
    return MissedPoint(point.id, point.label.as_dict(), point.weight, mention)


def _readings(
    patterns: tuple[re.Pattern[str], ...], answer: Answer, wide: bool = False
) -> Iterator[tuple[re.Match[str], CuedReading]]:
    """Matches of ``patterns`` in order of position, each read when the caller asks for it.

    Finding matches is cheap; reading one costs a dozen searches, so callers stop at the
    first reading they can use.
    """
    found = []
    for pattern in patterns:
        for match in answer.matches(pattern):
            found.append((match.start(), match, pattern))
            if len(found) >= MAX_MENTIONS:
                break
    found.sort(key=lambda item: item[0])
    for _, match, pattern in found:
        yield match, read(answer, match.start(), match.end(), pattern, wide)


def _credit(point: KeyPoint, answer: Answer) -> PointMatch | Mention | None:
    """The earliest asserted match in prose, else the earliest asserted one, else why not."""
    first: tuple[re.Match[str], CuedReading] | None = None
    listed: re.Match[str] | None = None
    for match, verdict in _readings(point.patterns.all, answer):
        first = first or (match, verdict)
        if verdict.reading is Reading.ASSERTED or (
            point.asked and verdict.reading is Reading.QUESTIONED
        ):
            if answer.in_prose(match.start()) and not answer.in_term_list(*match.span()):
                span = _span(answer, match)
                return PointMatch(point.id, point.label.as_dict(), point.weight, span, True)
            listed = listed or match
    if listed is not None:
        span = _span(answer, listed)
        return PointMatch(point.id, point.label.as_dict(), point.weight, span, False)
    if first is not None:
        match, verdict = first
        return Mention(str(verdict.reading), _span(answer, match), _cue(answer, verdict))
    return None


def _find_misconceptions(result: TheoryScore, question: Question, answer: Answer) -> None:
    for item in question.misconceptions:
        first: tuple[re.Match[str], CuedReading] | None = None
        for match, verdict in _readings(item.patterns.all, answer, wide=True):
            first = first or (match, verdict)
            if verdict.reading is Reading.ASSERTED:
                result.misconceptions.append(_hit(item, answer, match, verdict))
                break
        else:
            if first is not None:
                match, verdict = first
                span, cue = _span(answer, match), _cue(answer, verdict)
                label = item.label.as_dict()
                reading = str(verdict.reading)
                result.corrections.append(Correction(item.id, label, reading, span, cue))


def _hit(
    item: Misconception, answer: Answer, match: re.Match[str], verdict: CuedReading
) -> MisconceptionHit:
    span, cue = _span(answer, match), _cue(answer, verdict)
    return MisconceptionHit(
        item.id, item.label.as_dict(), item.penalty, span, item.why.as_dict(), cue
    )


def _withdraw_contradicted(
    result: TheoryScore,
    question: Question,
    credits: dict[str, PointMatch | Mention | None],
    answer: Answer,
) -> None:
    """An answer asserting a misconception earns nothing for the points it contradicts."""
    by_id = {item.id: item for item in question.misconceptions}
    for hit in result.misconceptions:
        for point_id in by_id[hit.id].contradicts:
            credit = credits[point_id]
            if isinstance(credit, PointMatch):
                credits[point_id] = Mention("contradicted", credit.span, hit.span)


def _span(answer: Answer, match: re.Match[str]) -> Span:
    return Span(answer.text[match.start() : match.end()], match.start(), match.end())


def _cue(answer: Answer, verdict: CuedReading) -> Span | None:
    if verdict.cue is None:
        return None
    start, end = verdict.cue
    return Span(answer.text[start:end], start, end)


def _total(result: TheoryScore) -> None:
    gained = sum(point.weight for point in result.matched)
    lost = sum(hit.penalty for hit in result.misconceptions)
    result.score = float(max(0, gained - lost))
    listed = sum(not point.in_sentence for point in result.matched)
    if len(result.matched) >= 2 and listed >= STUFFING_SHARE * len(result.matched):
        cap = round(STUFFING_CAP * result.max_score, 2)
        result.score = min(result.score, cap)
        result.flags.append(Flag.KEYWORD_STUFFING)
        result.notes.append(
            f"{listed} of {len(result.matched)} matched points appear only in lists of "
            f"terms, not explained in sentences; the score is capped at {cap:g} "
            f"({STUFFING_CAP:.0%} of the maximum)."
        )
