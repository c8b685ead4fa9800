"""Theory question bank and transparent, claim-level rubric scoring of free-text answers.

The bank is data: one TOML file per question in ``challenges/theory/`` (format in
``challenges/theory/README.md``). Each question's rubric lists key points (claims a good
answer makes, with weights) and misconceptions (wrong claims, with penalties), each with
match patterns in English and Chinese. :func:`score_answer` applies the rubric to an answer
in English, Chinese or a mix and records, for every credit and every penalty, the span of the
answer it came from. The result is evidence for a reviewer, who marks each key point
(``server.reviewing.marking``); its total is never shown as a grade (issue 18), only measured
against labelled answers (``assay theory check``).

Scoring rules, in order:

1. Input that is not a string is flagged ``not_text``; a blank answer ``empty``; an
   answer over :data:`MAX_ANSWER_CHARS` characters ``too_long``. These score 0 and are
   not matched at all: an over-long answer is almost always pasted material, and
   scoring its first part would reward padding. A reviewer reads it and overrides.
2. Patterns find where the answer mentions a claim. They are regular expressions that
   ignore case: full-width letters, digits and punctuation are folded to ASCII in the answer
   and in the patterns, character for character, so a span is always ``answer[start:end]``.
   Chinese needs no word segmentation: patterns are substrings. (A pattern with an inline
   flag group such as ``(?-i:ZeRO)`` runs in Python's IGNORECASE mode on the case-kept
   answer instead; that mode is several times slower.)
3. Each mention is read in the clauses it occupies (:mod:`graders.theory.claims`):
   asserted, negated ("ROC is not TPR against FPR"), questioned, or refuted (attributed to a
   wrong view: "..., which is wrong", "a common mistake is to say"). Negation is scoped to
   the claim's clauses, so a "not" in a trailing clause about something else changes
   nothing, and a negated judgment ("which is not a problem") asserts the claim.
4. A key point earns its weight once, when a clause asserts it (a point marked ``asked``
   also when a question raises it). A misconception costs its penalty once, when a clause
   asserts it; one only named to be corrected is listed under ``corrections``. A key point
   that an asserted misconception ``contradicts`` earns nothing. The score never goes
   below 0.
5. Keyword stuffing: a point found only in term lists (a line of bare terms, or a bare item
   among three or more in a sentence) is named, not explained. When at least two points
   are credited and :data:`STUFFING_SHARE` or more of them are only named, the answer is
   flagged ``keyword_stuffing`` and its score capped at :data:`STUFFING_CAP` of the maximum.
"""

from graders.errors import ChallengeSpecError, UnknownQuestionError
from graders.theory.bank import (
    LANGUAGES,
    Bank,
    Bilingual,
    KeyPoint,
    Misconception,
    Patterns,
    Question,
    load_bank,
    load_question,
)
from graders.theory.claims import Reading
from graders.theory.scoring import (
    MAX_ANSWER_CHARS,
    STUFFING_CAP,
    STUFFING_SHARE,
    Correction,
    Flag,
    Mention,
    MisconceptionHit,
    MissedPoint,
    PointMatch,
    Span,
    TheoryScore,
    score_answer,
)

__all__ = [
    "LANGUAGES",
    "MAX_ANSWER_CHARS",
    "STUFFING_CAP",
    "STUFFING_SHARE",
    "Bank",
    "Bilingual",
    "ChallengeSpecError",
    "Correction",
    "Flag",
    "KeyPoint",
    "Mention",
    "Misconception",
    "MisconceptionHit",
    "MissedPoint",
    "Patterns",
    "PointMatch",
    "Question",
    "Reading",
    "Span",
    "TheoryScore",
    "UnknownQuestionError",
    "load_bank",
    "load_question",
    "score_answer",
]
