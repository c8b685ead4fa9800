"""The theory question bank: the TOML schema, pattern compilation and loading.

The bank is data: one TOML file per question in ``challenges/theory/`` (the format is
documented in ``challenges/theory/README.md``). Loading validates every file with pydantic
and compiles its patterns once; :mod:`graders.theory.scoring` applies them.
"""

from __future__ import annotations

import functools
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainValidator,
    ValidationError,
    field_validator,
    model_validator,
)

from graders.errors import ChallengeSpecError, UnknownQuestionError
from graders.paths import challenges_dir

LANGUAGES = ("en", "zh")

# Full-width ASCII (Ａ-ｚ, ０-９, punctuation) and the ideographic space, mapped one
# character to one character so that offsets into the folded text are offsets into the answer.
FOLD = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)} | {0x3000: 0x20}
# A pattern with an inline flag group such as (?-i:ZeRO) keeps Python's case-insensitive mode.
_INLINE_FLAGS = re.compile(r"\(\?([aiLmsux]+(-[imsx]+)?|-[imsx]+)[:)]")


# -- bank schema -------------------------------------------------------------------------------


def _compile(value: object) -> re.Pattern[str]:
    if not isinstance(value, str):
        raise ValueError("a pattern must be a string")
    source = value.translate(FOLD)
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
    """One claim a good answer makes; worth ``weight`` points when a clause asserts it.

    ``asked`` marks a point that is made by raising it, so a question counts too
    ("do we have the right to use these tickets?" names the data-rights check).
    """

    id: Slug
    label: Bilingual
    weight: int = Field(gt=0, le=100)
    patterns: Patterns
    asked: bool = False


class Misconception(_Strict):
    """A common wrong answer (``claim``), why it is wrong, and the penalty when found."""

    id: Slug
    label: Bilingual
    claim: Bilingual
    why: Bilingual
    penalty: int = Field(gt=0, le=100)
    patterns: Patterns
    contradicts: tuple[Slug, ...] = ()
    """Key points that earn nothing when the answer asserts this misconception too."""


CORRECT = "correct"
"""The stored choice that names a check's correct option (a distractor's is its misconception id)."""
MAX_OPTIONS = 6


class CheckOption(_Strict):
    """One option of a concept check: the correct one, or a distractor naming its misconception."""

    text: Bilingual
    correct: bool = False
    misconception: Slug | None = None
    """The bank misconception a candidate who picks this distractor holds."""

    @model_validator(mode="after")
    def _one_role(self) -> CheckOption:
        if self.correct and self.misconception:
            raise ValueError("the correct option names no misconception")
        if not self.correct and not self.misconception:
            raise ValueError(
                'a distractor names the misconception it stands for (misconception = "id")'
            )
        if self.misconception == CORRECT:
            raise ValueError(f"{CORRECT!r} is reserved for the correct option")
        return self

    @property
    def key(self) -> str:
        """What a candidate's pick stores: ``correct`` or the misconception id."""
        return CORRECT if self.correct else str(self.misconception)


class ConceptCheck(_Strict):
    """A multiple-choice check: one correct option, distractors that are misconceptions."""

    id: Slug
    prompt: Bilingual
    why: Bilingual
    """Why the correct option is right; shown with it once explanations are open."""
    options: tuple[CheckOption, ...] = Field(min_length=2, max_length=MAX_OPTIONS)

    @model_validator(mode="after")
    def _well_formed(self) -> ConceptCheck:
        correct = [index for index, option in enumerate(self.options) if option.correct]
        if len(correct) != 1:
            raise ValueError(f"options: exactly one option is correct, found {len(correct)}")
        seen: set[str] = set()
        for index, option in enumerate(self.options):
            if option.key in seen:
                raise ValueError(
                    f"options[{index}].misconception: {option.key!r} stands for two options"
                )
            seen.add(option.key)
        for lang in LANGUAGES:
            texts = [" ".join(option.text.get(lang).split()) for option in self.options]
            if len(set(texts)) != len(texts):
                raise ValueError(f"options: two options read the same in {lang!r}")
        return self

    @property
    def correct_option(self) -> CheckOption:
        return next(option for option in self.options if option.correct)

    def option(self, key: str) -> CheckOption | None:
        """The option whose :attr:`CheckOption.key` is ``key``; None when the bank has none."""
        return next((option for option in self.options if option.key == key), None)


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
    checks: tuple[ConceptCheck, ...] = ()
    """Multiple-choice concept checks, scored exactly (:mod:`graders.theory.checks`)."""

    _check_ids = field_validator("key_points", "misconceptions", "checks")(_unique_ids)

    @model_validator(mode="after")
    def _known_contradictions(self) -> Question:
        points = {point.id for point in self.key_points}
        for index, item in enumerate(self.misconceptions):
            unknown = [point for point in item.contradicts if point not in points]
            if unknown:
                raise ValueError(
                    f"misconceptions[{index}].contradicts: no key point {unknown[0]!r}"
                )
        known = {item.id for item in self.misconceptions}
        for index, check in enumerate(self.checks):
            for number, option in enumerate(check.options):
                if option.misconception and option.misconception not in known:
                    raise ValueError(
                        f"checks[{index}].options[{number}].misconception: no misconception "
                        f"{option.misconception!r} in this question"
                    )
        return self

    def check(self, check_id: str) -> ConceptCheck | None:
        """The concept check with ``check_id``; None when the question has none."""
        return next((check for check in self.checks if check.id == check_id), None)

    def misconception(self, misconception_id: str) -> Misconception | None:
        return next((item for item in self.misconceptions if item.id == misconception_id), None)

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
        where = _key_path(error["loc"])
        reason = error["msg"].removeprefix("Value error, ")
        # A question-wide rule names its key path in the message itself.
        reasons.append(f"{where}: {reason}" if where else reason)
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
