"""Theory question bank and transparent rubric scoring of free-text answers.

The bank is data: one TOML file per question in ``challenges/theory/`` (the format is
documented in ``challenges/theory/README.md``). Each question carries a rubric: key
points with weights and match patterns in English and Chinese, and misconceptions
(common wrong answers) that subtract. :func:`score_answer` applies that rubric to an
answer written in English, Chinese or a mix, and records which words earned or lost
each point, so a reviewer can see why an answer got its score and override it.

Scoring rules, in order:

1. Input that is not a string is flagged ``not_text``; a blank answer ``empty``; an
   answer over :data:`MAX_ANSWER_CHARS` characters ``too_long``. These score 0 and are
   not matched at all: an over-long answer is almost always pasted material, and
   scoring its first part would reward padding. A reviewer reads it and overrides.
2. A key point is matched when any of its patterns occurs; it earns its weight once.
   Patterns are regular expressions that ignore case: full-width letters, digits and
   punctuation (Ａ, ，, ；) are folded to ASCII in the answer and in the patterns, and
   both are lowercased, character for character, so a span is always
   ``answer[start:end]``. Chinese needs no word segmentation: patterns are substrings.
   (A pattern with an inline flag group such as ``(?-i:ZeRO)`` runs in Python's
   IGNORECASE mode on the case-kept answer instead; that mode is several times slower.)
3. A misconception is found when one of its patterns occurs in a sentence that does not
   also refute it (``not``, ``rather than``, ``不是``, ``错误`` ...), so an answer that
   names a wrong idea in order to correct it is not penalised. Each costs its penalty
   once. The score never goes below 0.
4. Keyword stuffing: each sentence or line is classed as prose or as a bare term list
   (three or more short items without function words, a lone short term, or a run of
   English words with almost no function words). When at least two points matched and
   :data:`STUFFING_SHARE` or more of them occur only in term lists, the answer is
   flagged ``keyword_stuffing`` and its score capped at :data:`STUFFING_CAP` of the
   maximum: naming terms is not explaining them.
"""

from __future__ import annotations

import bisect
import functools
import itertools
import re
import tomllib
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, PlainValidator, ValidationError, field_validator

from graders.errors import ChallengeSpecError, UnknownQuestionError
from graders.paths import challenges_dir

MAX_ANSWER_CHARS = 5_000
"""Longer answers are flagged ``too_long`` and not scored."""

STUFFING_CAP = 0.4
"""A keyword-stuffed answer scores at most this fraction of the maximum."""

STUFFING_SHARE = 0.6
"""Fraction of matched points found only in term lists from which an answer is stuffed."""

LANGUAGES = ("en", "zh")


class Flag(StrEnum):
    """Machine-readable reasons attached to a score (the web app translates them)."""

    NOT_TEXT = "not_text"
    EMPTY = "empty"
    TOO_LONG = "too_long"
    KEYWORD_STUFFING = "keyword_stuffing"


# -- bank schema -------------------------------------------------------------------------------


def _compile(value: object) -> re.Pattern[str]:
    if not isinstance(value, str):
        raise ValueError("a pattern must be a string")
    source = value.translate(_FOLD)
    try:
        if _INLINE_FLAGS.search(source):
            pattern = re.compile(source, re.IGNORECASE)
        else:
            pattern = re.compile(_lower_literals(source))
    except re.error as exc:
        raise ValueError(f"bad regular expression {value!r}: {exc}") from None
    if pattern.search("") is not None:
        raise ValueError(f"pattern {value!r} matches the empty string")
    return pattern


def _lower_literals(source: str) -> str:
    """Lowercase the letters of a regex, except escapes such as ``\\S`` or ``\\B``."""
    chars, escaped = [], False
    for char in source:
        lower = char.lower()
        chars.append(char if escaped or len(lower) != 1 else lower)
        escaped = not escaped and char == "\\"
    return "".join(chars)


Regex = Annotated[re.Pattern[str], PlainValidator(_compile)]
Slug = Annotated[str, Field(pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$")]
Text = Annotated[str, Field(min_length=1, pattern=r"\S")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Bilingual(_Strict):
    """A text in English (``en``) and Chinese (``zh``)."""

    en: Text
    zh: Text

    def get(self, lang: str) -> str:
        """The text in ``lang``; English for an unknown language."""
        return self.zh if lang == "zh" else self.en

    def as_dict(self) -> dict[str, str]:
        return {"en": self.en, "zh": self.zh}


class Patterns(_Strict):
    """Match patterns in both languages; either set may match an answer in any language."""

    en: tuple[Regex, ...] = Field(min_length=1)
    zh: tuple[Regex, ...] = Field(min_length=1)

    @functools.cached_property
    def all(self) -> tuple[re.Pattern[str], ...]:
        return self.en + self.zh


class KeyPoint(_Strict):
    """One thing a good answer says; worth ``weight`` points when matched."""

    id: Slug
    label: Bilingual
    weight: int = Field(gt=0, le=100)
    patterns: Patterns


class Misconception(_Strict):
    """A common wrong answer (``claim``), why it is wrong, and the penalty when found."""

    id: Slug
    label: Bilingual
    claim: Bilingual
    why: Bilingual
    penalty: int = Field(gt=0, le=100)
    patterns: Patterns


def _unique_ids(items: tuple[Any, ...]) -> tuple[Any, ...]:
    seen: set[str] = set()
    for item in items:
        if item.id in seen:
            raise ValueError(f"duplicate id {item.id!r}")
        seen.add(item.id)
    return items


class Question(_Strict):
    """One theory question with its reference answer, explanation and rubric."""

    id: Slug
    order: int = Field(ge=0)
    title: Bilingual
    prompt: Bilingual
    reference_answer: Bilingual
    explanation: Bilingual
    key_points: tuple[KeyPoint, ...] = Field(min_length=1)
    misconceptions: tuple[Misconception, ...] = ()

    _check_ids = field_validator("key_points", "misconceptions")(_unique_ids)

    @property
    def max_score(self) -> int:
        """The sum of the key points' weights."""
        return sum(point.weight for point in self.key_points)


@dataclass(frozen=True)
class Bank:
    """The loaded question bank, in display order (``order``, then ``id``)."""

    path: Path
    questions: tuple[Question, ...]

    @property
    def ids(self) -> list[str]:
        return [question.id for question in self.questions]

    def get(self, question_id: str) -> Question:
        """The question with ``question_id``; :class:`UnknownQuestionError` if none."""
        for question in self.questions:
            if question.id == question_id:
                return question
        known = ", ".join(self.ids)
        raise UnknownQuestionError(f"no theory question {question_id!r} (known: {known})")


# -- loading -----------------------------------------------------------------------------------


def load_bank(path: str | Path | None = None) -> Bank:
    """Load and validate every ``*.toml`` question in ``path`` (default ``challenges/theory``).

    The result is cached per resolved folder. Any invalid file raises
    :class:`ChallengeSpecError` naming the file, the key path and the reason.
    """
    folder = Path(path) if path is not None else challenges_dir() / "theory"
    return _load_bank_cached(folder.resolve())


@functools.lru_cache(maxsize=16)
def _load_bank_cached(folder: Path) -> Bank:
    if not folder.is_dir():
        raise ChallengeSpecError(f"{folder}: theory question folder not found")
    files = sorted(folder.glob("*.toml"))
    if not files:
        raise ChallengeSpecError(f"{folder}: no theory questions (*.toml) in this folder")
    questions = sorted((load_question(file) for file in files), key=lambda q: (q.order, q.id))
    return Bank(folder, tuple(questions))


def load_question(path: Path) -> Question:
    """Read and validate one question file; its ``id`` must equal the file name's stem."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ChallengeSpecError(f"{path}: cannot read: {exc}") from None
    try:
        question = Question.model_validate(data)
    except ValidationError as exc:
        raise ChallengeSpecError(f"{path}: {_describe(exc)}") from None
    if question.id != path.stem:
        raise ChallengeSpecError(f"{path}: id: {question.id!r} differs from the file name")
    return question


def _describe(exc: ValidationError) -> str:
    reasons = []
    for error in exc.errors():
        where = _key_path(error["loc"]) or "(top level)"
        reasons.append(f"{where}: {error['msg'].removeprefix('Value error, ')}")
    return "; ".join(reasons)


def _key_path(loc: tuple[int | str, ...]) -> str:
    """``("key_points", 2, "patterns", "en", 0)`` -> ``key_points[2].patterns.en[0]``."""
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path


# -- results -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Span:
    """Where a pattern matched: ``text == answer[start:end]`` (character offsets)."""

    text: str
    start: int
    end: int


@dataclass(frozen=True)
class PointMatch:
    """A matched key point; ``in_sentence`` is False when it occurs only in a term list."""

    id: str
    label: dict[str, str]
    weight: int
    span: Span
    in_sentence: bool


@dataclass(frozen=True)
class MissedPoint:
    """A key point the answer does not make."""

    id: str
    label: dict[str, str]
    weight: int


@dataclass(frozen=True)
class MisconceptionHit:
    """A misconception found in the answer, with the explanation of why it is wrong."""

    id: str
    label: dict[str, str]
    penalty: int
    span: Span
    why: dict[str, str]


@dataclass
class TheoryScore:
    """The score of one answer and everything that explains it.

    ``score`` lies in ``[0, max_score]``; ``flags`` holds :class:`Flag` values and
    ``notes`` one English sentence per flag for people reading the result.
    """

    question_id: str
    score: float
    max_score: float
    matched: list[PointMatch] = field(default_factory=list)
    missed: list[MissedPoint] = field(default_factory=list)
    misconceptions: list[MisconceptionHit] = field(default_factory=list)
    flags: list[Flag] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def fraction(self) -> float:
        """``score / max_score``."""
        return self.score / self.max_score if self.max_score else 0.0

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of every field plus ``fraction``."""
        data = asdict(self)
        data["flags"] = [str(flag) for flag in self.flags]
        data["fraction"] = round(self.fraction, 4)
        return data


# -- scoring -----------------------------------------------------------------------------------


def score_answer(question: Question, text: object) -> TheoryScore:
    """Score ``text`` against ``question``'s rubric; never raises for a bad answer.

    See the module docstring for the rules. ``text`` may be any object: non-strings,
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
    answer = _Answer(text)
    _match_points(result, question, answer)
    _find_misconceptions(result, question, answer)
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


class _Answer:
    """An answer prepared for matching; every form of it has the same length as ``text``.

    ``cased`` (full-width folded, case kept) serves patterns with inline flags; ``lowered``
    every other pattern. Sentences are classified as prose or term list only when a match
    falls in them.
    """

    def __init__(self, text: str):
        self.text = text
        self.cased = text if text.isascii() else text.translate(_FOLD)
        self.lowered = self.cased.lower()
        if len(self.lowered) != len(self.cased):  # a rare letter with a two-character lowercase
            self.lowered = self.cased.translate(_ASCII_LOWER)
        self.sentences = _split(_SENTENCE_BREAK, self.lowered, 0, len(self.lowered))
        self._starts = [start for start, _ in self.sentences]
        self._prose: dict[int, bool] = {}
        self._tally: _Tally | None = None

    def matches(self, pattern: re.Pattern[str]) -> Iterator[re.Match[str]]:
        """Non-empty matches of ``pattern`` in the form of the answer it was compiled for."""
        target = self.cased if pattern.flags & _IGNORECASE else self.lowered
        if pattern.search(target) is None:  # the common case, without a Python-level loop
            return iter(())
        return (match for match in pattern.finditer(target) if match.end() > match.start())

    def sentence_at(self, position: int) -> int:
        """Index of the sentence holding ``position`` (the previous one for a break)."""
        return max(bisect.bisect_right(self._starts, position) - 1, 0)

    def in_prose(self, position: int) -> bool:
        """Whether ``position`` lies in a sentence that reads as prose, not as a term list."""
        if not self.sentences:
            return False
        index = self.sentence_at(position)
        if index not in self._prose:
            self._tally = self._tally or _Tally(self.lowered)
            self._prose[index] = self._tally.is_prose(self.lowered, *self.sentences[index])
        start, end = self.sentences[index]
        return start <= position < end and self._prose[index]

    def span(self, match: re.Match[str]) -> Span:
        return Span(self.text[match.start() : match.end()], match.start(), match.end())


def _missed(point: KeyPoint) -> MissedPoint:
    return MissedPoint(point.id, point.label.as_dict(), point.weight)


def _match_points(result: TheoryScore, question: Question, answer: _Answer) -> None:
    for point in question.key_points:
        match, in_sentence = _locate(point.patterns.all, answer)
        if match is None:
            result.missed.append(_missed(point))
            continue
        label = point.label.as_dict()
        result.matched.append(
            PointMatch(point.id, label, point.weight, answer.span(match), in_sentence)
        )


def _locate(
    patterns: tuple[re.Pattern[str], ...], answer: _Answer
) -> tuple[re.Match[str] | None, bool]:
    """The earliest match inside a prose sentence, else the earliest match anywhere."""
    first = best = None
    for pattern in patterns:
        for match in answer.matches(pattern):
            if first is None or match.start() < first.start():
                first = match
            if answer.in_prose(match.start()):
                if best is None or match.start() < best.start():
                    best = match
                break
    return (best, True) if best is not None else (first, False)


def _find_misconceptions(result: TheoryScore, question: Question, answer: _Answer) -> None:
    for misconception in question.misconceptions:
        match = _first_unrefuted(misconception.patterns.all, answer)
        if match is None:
            continue
        result.misconceptions.append(
            MisconceptionHit(
                misconception.id,
                misconception.label.as_dict(),
                misconception.penalty,
                answer.span(match),
                misconception.why.as_dict(),
            )
        )


def _first_unrefuted(
    patterns: tuple[re.Pattern[str], ...], answer: _Answer
) -> re.Match[str] | None:
    first = None
    for pattern in patterns:
        for match in answer.matches(pattern):
            if not _refuted(answer, match):
                if first is None or match.start() < first.start():
                    first = match
                break
    return first


def _refuted(answer: _Answer, match: re.Match[str]) -> bool:
    """True when a negation or correction follows the start of the clause holding ``match``.

    The window runs from the clause where the match starts to the end of its sentence:
    "X, which is wrong" refutes X; "accuracy is not the issue, X" does not.
    """
    text, sentences = answer.lowered, answer.sentences
    first, last = answer.sentence_at(match.start()), answer.sentence_at(match.end() - 1)
    begin, end = (sentences[first][0], sentences[last][1]) if sentences else (0, len(text))
    clause = max(text.rfind(mark, begin, match.start()) for mark in _CLAUSE_MARKS) + 1
    return _REFUTATION.search(text, max(begin, clause), end) is not None


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
            f"{listed} of {len(result.matched)} matched points appear only in bare lists of "
            f"terms, not in sentences; the score is capped at {cap:g} "
            f"({STUFFING_CAP:.0%} of the maximum)."
        )


# -- text analysis: sentences, prose and term lists --------------------------------------------

# Full-width ASCII (Ａ-ｚ, ０-９, punctuation) and the ideographic space, mapped one
# character to one character so that offsets into the folded text are offsets into the answer.
_FOLD = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)} | {0x3000: 0x20}
_ASCII_LOWER = {code: code + 32 for code in range(0x41, 0x5B)}
# Patterns with an inline flag group such as (?-i:ZeRO) keep Python's case-insensitive mode
# and run on the case-kept text; the others are lowercased and run on lowered text, which
# lets the regex engine skip ahead by first character (IGNORECASE disables that; ~10x slower).
_IGNORECASE = int(re.IGNORECASE)  # an int: the enum's & is slow in the inner loop
_INLINE_FLAGS = re.compile(r"\(\?([aiLmsux]+(-[imsx]+)?|-[imsx]+)[:)]")
# Full-width ！？；，： fold to ASCII above; 。 and 、 have no ASCII form and are listed as such.
_SENTENCE_BREAK = re.compile(r"[\n。!?;]|\.(?=\s|$)")
_CLAUSE_MARKS = (",", ":", "、")
_ITEM_BREAK = re.compile(r"[,、/|:]|(?<=[\u4e00-\u9fff])\s+(?=[\u4e00-\u9fff])")
_EN_WORD = re.compile(r"[A-Za-z][A-Za-z0-9'+-]*")
_CJK_RUN = re.compile(r"[\u4e00-\u9fff]+")
_EN_FUNCTION_WORDS = """
    a an the is are was were be been being am of to in on at for with by from as into onto about
    than then so because since if when while where which who whom whose that this these those it
    its they them their there we our us you your he she his her i me my can could will would
    should shall may might must do does did has have had not no but also only more most less very
    how why what each per such both either neither after before until once however therefore
    thus via although though whether"""
_EN_FUNCTION = frozenset(_EN_FUNCTION_WORDS.split())
# Terms that contain a function character (性能 is not 能, 对齐 is not 对) are listed first so
# that the regex consumes them whole; they are then not counted. A flat alternation of literals
# lets the regex engine skip ahead by first character.
_ZH_TERM_WORDS = """
    正则 规则 原则 费用 应用 可用 信用 性能 功能 智能 能力 能耗 实时 及时 时间 时延 时长 时序 时刻
    先验 更新 比例 比率 比特 可行 可靠 对齐 对比 对数 对抗 对话 用户 在线 以及 以上 以下"""
_ZH_TERMS = frozenset(_ZH_TERM_WORDS.split())
_ZH_FUNCTION = re.compile(
    "|".join(sorted(_ZH_TERMS))
    + "|如果|因为|所以|但是|可以|能够|需要|通过|使得|从而|导致|以便|为了|对于|由于|比如|例如"
    "|否则|因此|然后|首先|其次|最后|应该|应当|可能|不能|不会|之后|之前|我们|他们|它们"
    "|包括|包含|确保|了|是|把|被|会|让|就|也|都|而|即|它|这|那|其|该|若|才|又|很|还|只|再"
    "|给|从|将|于|在|则|对|用|能|可|比|时|先|更|最|要|使|来|以"
)
_REFUTATION = re.compile(
    r"\b(not|never|no longer|rather than|instead of|wrong\w*|incorrect\w*|mistake\w*"
    r"|mistaken\w*|misconception\w*|myth|confus\w*|unlike|avoid\w*|leak\w*|inflat\w*"
    r"|pitfall\w*|beware)\b|n't\b"
    r"|不是|并非|而非|并不|不应|不能|不该|不对|不够|错误|错了|误以为|误认为|误解|误区|混淆"
    r"|不等于|并没有|而不是|不要|别把|避免|泄露|泄漏|虚高|陷阱|切勿|不可"
)


class _Tally:
    """Counts of English words, Chinese characters and function words by character range.

    Each is found once per answer, so classifying every sentence and item is a few bisects.
    """

    def __init__(self, text: str):
        words = list(_EN_WORD.finditer(text))
        self._words = [word.start() for word in words]
        is_function = (word.group() in _EN_FUNCTION for word in words)
        self._functions = list(itertools.accumulate(is_function, initial=0))
        zh = (match for match in _ZH_FUNCTION.finditer(text) if match.group() not in _ZH_TERMS)
        self._zh_functions = [match.start() for match in zh]
        runs = [(run.start(), run.end()) for run in _CJK_RUN.finditer(text)]
        self._runs = [start for start, _ in runs]
        self._run_ends = [end for _, end in runs]
        self._chars_before = list(itertools.accumulate((e - s for s, e in runs), initial=0))

    def weigh(self, start: int, end: int) -> tuple[int, int, int]:
        """(English words, Chinese characters, function words) in ``text[start:end]``."""
        first, last = bisect.bisect_left(self._words, start), bisect.bisect_left(self._words, end)
        function = self._functions[last] - self._functions[first]
        function += _count(self._zh_functions, start, end)
        return last - first, self._chars_up_to(end) - self._chars_up_to(start), function

    def _chars_up_to(self, position: int) -> int:
        """Chinese characters in ``text[:position]``."""
        run = bisect.bisect_right(self._runs, position) - 1
        if run < 0:
            return 0
        return self._chars_before[run] + min(position, self._run_ends[run]) - self._runs[run]

    def is_prose(self, text: str, start: int, end: int) -> bool:
        """False for a term list, a lone short term, or a run of words without function words."""
        words, chars, function = weights = self.weigh(start, end)
        if words + chars == 0 or _bare(weights):
            return False
        if words >= 6 and chars < words and function < 0.05 * words:
            return False
        # A term list: three or more items, two thirds of them bare, and at most one item
        # that reads as a clause (an enumeration inside a real sentence has at least two).
        items = [self.weigh(*item) for item in _split(_ITEM_BREAK, text, start, end)]
        bare = sum(_bare(item) for item in items)
        clauses = sum(item[2] > 0 for item in items)
        return not (bare >= 3 and bare * 3 >= len(items) * 2 and clauses < 2)


def _bare(weights: tuple[int, int, int]) -> bool:
    """A short item (two Chinese characters weigh as one word) with no function word."""
    words, chars, function = weights
    return 0 < words + chars / 2 <= 4 and function == 0


def _count(positions: list[int], start: int, end: int) -> int:
    return bisect.bisect_left(positions, end) - bisect.bisect_left(positions, start)


def _split(breaks: re.Pattern[str], text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Non-blank character ranges of ``text[start:end]`` between matches of ``breaks``."""
    spans = []
    for match in breaks.finditer(text, start, end):
        if text[start : match.start()].strip():
            spans.append((start, match.start()))
        start = match.end()
    if text[start:end].strip():
        spans.append((start, end))
    return spans
