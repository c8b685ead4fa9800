"""How a clause treats a claim: asserted, negated, questioned or refuted.

A pattern match says that the answer mentions a claim; :func:`read` decides what the answer
does with it, from the words in the clauses the match occupies (clauses split at , ; : 、 and
at conjunctions such as "but", "which", 但, 而; see :mod:`graders.theory.text`). In order:

1. **Endorsed**: a judgment that is itself negated ("which is not a problem", "does not
   leak", "没问题") in the claim's clauses or in a trailing clause that refers back to it
   ("which ...", "this ...", 这) makes the claim asserted, whatever else the clause says.
2. **Refuted**: the claim is attributed to a wrong view: a judgment in its clauses ("wrong",
   "a myth", "leaks", 错误, 泄露), in a trailing clause that refers back ("..., which is
   wrong"), in an attribution earlier in the sentence ("a common mistake is to say", "some
   people think", 误以为), or at the start of the next sentence ("This is wrong.").
3. **Negated**: a negation in the claim's clauses, within a few words before the match
   ("not", "no", "never", "no need", 不, 没有, 并非, 无需; "without", "avoid", "rather than",
   避免, 而不是 only right before it), or a denial of the claim's worth after it ("X does not
   help", "is not needed", "X 没有帮助", "没必要"). "Not only", 不平衡, 不同, choice questions
   (有没有, 能不能) and a negation inside a 的 modifier (没参与调参的测试集) are not negations.
   When the claim sits in a bare item of a list, the list's head clause counts too ("no need
   for oversampling, undersampling or class weights").
4. **Questioned**: the sentence ends with a question mark.
5. Otherwise **asserted**.

A cue inside the match itself counts only when the pattern does not spell it out: a pattern
written as ``不能反映`` or ``not fooled`` carries its own negation.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from graders.theory.text import Answer, bare


class Reading(StrEnum):
    """What an answer does with a claim it mentions."""

    ASSERTED = "asserted"
    NEGATED = "negated"
    QUESTIONED = "questioned"
    REFUTED = "refuted"


@dataclass(frozen=True)
class CuedReading:
    """A reading and, unless asserted plainly, the cue that decided it (character offsets)."""

    reading: Reading
    cue: tuple[int, int] | None = None


_NOT_NEGATION = (
    r"not (only|just|merely|least|necessarily the only)|no (matter|doubt|less)"
    r"|not (hard|difficult|surprising|uncommon|unusual|bad|a bad)\b|whether or not|if not|never mind"
)
# Negations before a claim ("not X", "no need for X", 不需要 X) or inside its match.
_EN_NOT = r"not|no|never|n't|neither|nor|cannot|none|nothing|nobody|no one|no need"
# Only right before the claim: "X without Y", "X avoids Y", "X rather than Y" assert X, and
# "loss scaling avoids underflow in FP16" does not deny FP16.
_EN_NEAR = r"without|instead of|rather than|avoid\w*|unlike|lacks?|fails? to"
# Chinese 不 negates unless it starts one of these words.
_ZH_NOT_NEGATION = (
    "不平衡|不均衡|不同|不断|不仅|不少|不错|不过|不管|不论|不稳定|不确定|不变|不足|不一致|不到"
    "|不超过"
)
_ZH_NOT = (
    r"并非|并不|不是|无需|无须|不必|没有|没|无法|未能|从未|并未|(?!" + _ZH_NOT_NEGATION + ")不"
)
_ZH_NEAR = r"而不是|而非|避免|别把|别用|千万别|与其"
# After a claim only a denial of its worth negates it ("X does not help", "X 没有帮助");
# "gradient accumulation does not reduce compute" says something true about X.
_EN_DENIAL = (
    r"(not|n't|never)\s+(really\s+|actually\s+|even\s+)?(help\w*|work\w*|matter\w*|useful|needed"
    r"|necessary|required|exist\w*|apply|applicable|improve\w*|change anything"
    r"|make (a|any) difference|worth\w*|effective|relevant|part of|important|(our|a|any) concern"
    r"|fix\w*|solve\w*|good|valid|true)"
    r"|useless|unnecessary|pointless|irrelevant|overrated|superfluous|overkill|a waste"
    r"|does nothing|do nothing"
    r"|no (effect|benefit|use|value|impact|point|help)"
)
_ZH_DENIAL = (
    r"没(有)?(什么)?(用|帮助|效果|必要|意义|作用|好处|价值)|不(重要|需要|必要|起作用|管用|适用|属于|存在"
    r"|用考虑|用管|值得|可行|能解决|会有效|成立|对)|没必要|无用|无效|无关紧要|多此一举|多余|不是必须"
)

_NEGATION = re.compile(rf"(?!{_NOT_NEGATION})(\b({_EN_NOT})\b|n't|{_ZH_NOT})")
_NEGATION_NEAR = re.compile(rf"\b({_EN_NEAR})\b|{_ZH_NEAR}")
_DENIAL = re.compile(rf"(?!{_NOT_NEGATION})(\b({_EN_DENIAL})\b|{_ZH_DENIAL})")
_NEAR_WORDS = 2
"""A "near" cue (avoid, without, 避免) negates a claim at most this many words after it."""
_NEGATION_WORDS = 8
"""Other negations reach this many words (two Chinese characters weigh one) ahead."""
# Judgments that mark a claim as a wrong view. Words that also describe correct claims
# ("misleading accuracy", 虚高) are in key-point patterns, where a cue inside the match
# does not count.
_JUDGMENT = re.compile(
    r"\b(wrong\w*|incorrect\w*|mistake\w*|mistaken\w*|misconception\w*|myths?|false|untrue"
    r"|fallac\w*|misunderst\w*|confus(es|ed|ing)|leak\w*|inflat\w*|pitfall\w*|bad idea|a trap"
    r"|invalid\w*|cheat\w*|dangerous|flawed|bogus)\b"
    r"|错误|错的|错了|不对|不正确|不准确|误区|误解|误以为|误认为|混淆|泄露|泄漏|虚高|陷阱|作弊"
)
# A judgment that is itself negated endorses the claim: "is not a problem", "does not leak".
_ENDORSEMENT = re.compile(
    r"\b(not|no|never|nothing|isn't|aren't|doesn't|don't|won't|wouldn't|cannot)\b"
    r"[^,;:.]{0,20}?\b(problem|issue|wrong\w*|mistake|harm\w*|leak\w*|risk\w*|bias\w*|inflat\w*"
    r"|cheat\w*)"
    r"|\b(harmless|perfectly fine|is fine|is ok|is okay|is safe|safe to)\b"
    r"|没问题|没有问题|不是问题|不成问题|没错|没有错"
    r"|不会(导致|造成|引起|有)?(泄露|泄漏|问题|偏差|虚高)|不存在(泄露|泄漏|问题)"
)
# "Does not matter" endorses a practice ("SMOTE first, which does not matter") but denies a
# key point's worth ("market demand does not matter"): it endorses only misconceptions and
# trailing clauses.
_LOOSE_ENDORSEMENT = re.compile(
    r"\b(not|no|never|doesn't|don't|won't)\b[^,;:.]{0,12}?\b(matter\w*|concern\w*|a big deal)"
    r"|没关系|无所谓|不要紧|没有影响|不影响"
)
_ATTRIBUTION = re.compile(
    r"\b(some|many|most) (people|candidates|engineers|sources|tutorials|answers)"
    r" (say|think|believe|claim|write|assume)\w*|common (mistake|misconception|myth|error)"
    r"|it is (wrong|incorrect|a myth|a mistake) (to|that)|(wrongly|mistakenly|falsely)"
    r" (say|think|believe|claim|assume)\w*|\bmyth\b"
    r"|有人(认为|说|以为)|误以为|误认为|常见(的)?(错误|误区|误解)|错误(的)?(说法|观点|看法|答案)|所谓"
)
# Every cue above contains one of these literals: a sentence without any of them is read as
# asserted (or questioned) after one fast search. Plain literals let the regex engine skip
# ahead by first character, which the cue patterns (lookaheads, \b) do not.
_TRIGGER = re.compile(
    "not|no|never|n't|neither|nor|cannot|none|nothing|without|instead|rather|avoid|unlike|lack"
    "|fail|useless|unnecessary|pointless|irrelevant|overrated|waste|wrong|incorrect|mistak"
    "|misconception|myth|false|untrue|fallac|misunderst|confus|leak|inflat|pitfall|bad idea"
    "|trap|invalid|cheat|dangerous|flawed|bogus|harmless|fine|ok|safe|some|many|most|common"
    "|falsely|does nothing|do nothing|a big deal|superfluous|overkill"
    "|不|没|非|无|未|避免|别|与其|错|误|混淆|泄露|泄漏|虚高|陷阱|作弊|有人|所谓|多此一举|多余"
)
# A trailing clause that refers back to the claim: "..., which is wrong", "这是错误的".
_BACK_REFERENCE = re.compile(
    r"\s*((but|and|yet|however)\s+)?(which|this|that|these|it)\b|\s*(但是?|不过|然而)?\s*(这|那|此|该说法)"
)
_NEXT_SENTENCE = re.compile(
    r"\s*(this|that|it|which|the (claim|idea|statement|above))\b|\s*(这|那|此|以上|上述)"
)


def read(
    answer: Answer, start: int, end: int, pattern: re.Pattern[str], wide: bool = False
) -> CuedReading:
    """How the answer treats the claim matched at ``[start, end)`` by ``pattern``.

    ``wide`` (for misconceptions) lets a judgment anywhere later in the sentence refute the
    claim: "Oversampling before the split puts copies on both sides, so the score is
    inflated" corrects a wrong practice across clauses. A key point keeps the narrow scope,
    so "resample the training split, never before it, because that leaks" keeps its credit.
    """
    text = answer.lowered
    index = answer.sentence_at(start)
    clauses = answer.clauses(index)
    first = next((i for i, (_, high) in enumerate(clauses) if start < high), len(clauses) - 1)
    last = next((i for i, (_, high) in enumerate(clauses) if end <= high), len(clauses) - 1)
    low, high = clauses[first][0], clauses[last][1]
    if wide:
        scopes = [(low, clauses[-1][1])]
    elif last + 1 < len(clauses) and _BACK_REFERENCE.match(text, clauses[last + 1][0]):
        scopes = [(low, high), clauses[last + 1]]
    else:
        scopes = [(low, high)]
    spelled = pattern.pattern
    # Most claims have no cue anywhere near: one search instead of a dozen.
    scope_end = max(stop for _, stop in scopes)
    if _TRIGGER.search(text, answer.sentence(start)[0], scope_end) is None and not _next_has_cue(
        answer, index
    ):
        return _question_or_assertion(answer, start, low, high)
    for number, (begin, stop) in enumerate(scopes):
        cue = _outside(_ENDORSEMENT, text, begin, stop, start, end, spelled)
        if cue is None and (wide or number > 0):
            cue = _outside(_LOOSE_ENDORSEMENT, text, begin, stop, start, end, spelled)
        if cue:
            return CuedReading(Reading.ASSERTED, cue)
    cue = None
    for begin, stop in scopes:
        cue = cue or _outside(_JUDGMENT, text, begin, stop, start, end, spelled)
    if cue is None:
        cue = _search(_ATTRIBUTION, text, answer.sentence(start)[0], start)
    if cue is None:
        cue = _next_sentence_judgment(answer, index)
    if cue:
        return CuedReading(Reading.REFUTED, cue)
    head = _list_head(answer, clauses, first)
    cue = _before(answer, _NEGATION, head, start, _NEGATION_WORDS)
    cue = cue or _before(answer, _NEGATION_NEAR, head, start, _NEAR_WORDS)
    cue = cue or _inside(_NEGATION, text, start, end, spelled)
    cue = cue or _search(_DENIAL, text, end, high)
    if cue:
        return CuedReading(Reading.NEGATED, cue)
    return _question_or_assertion(answer, start, low, high)


def _question_or_assertion(answer: Answer, start: int, low: int, high: int) -> CuedReading:
    text, sentence_end = answer.lowered, answer.sentence(start)[1]
    if text[sentence_end : sentence_end + 1] == "?" or text[low:high].rstrip().endswith("吗"):
        return CuedReading(Reading.QUESTIONED, (sentence_end, sentence_end + 1))
    return CuedReading(Reading.ASSERTED)


def _next_has_cue(answer: Answer, index: int) -> bool:
    """Whether the first clause of the sentence after ``index`` holds a cue (cached)."""
    key = ("next-cue", index)
    if key not in answer.memo:
        following = index + 1 < len(answer.sentences)
        clause = answer.clauses(index + 1)[0] if following else None
        answer.memo[key] = clause is not None and _TRIGGER.search(answer.lowered, *clause)
    return bool(answer.memo[key])


def _search(
    regex: re.Pattern[str], text: str, begin: int, stop: int, spelled: str = ""
) -> tuple[int, int] | None:
    """The first cue in ``text[begin:stop]``, skipping those ``spelled`` in the pattern."""
    for found in regex.finditer(text, begin, stop) if begin < stop else ():
        start = found.start()
        # 有没有, 愿不愿意, 能不能: a choice between two options asks; it does not negate.
        if text[start] in "不没" and start > 0 and text[start - 1] == text[start + 1 : start + 2]:
            continue
        if spelled and _spelled(found.group(), spelled):
            continue
        return found.span()
    return None


def _before(
    answer: Answer, regex: re.Pattern[str], begin: int, start: int, reach: int
) -> tuple[int, int] | None:
    """The last cue in ``[begin, start)`` within ``reach`` words of the claim at ``start``."""
    text, last = answer.lowered, None
    while (found := _search(regex, text, begin, start)) is not None:
        last, begin = found, found[1]
    if last is None:
        return None
    # 没参与调参的测试集: a negation inside a modifier ending in 的 describes the noun, it does
    # not deny it ("the test set that took no part in tuning").
    if "的" in text[last[1] : start]:
        return None
    words, chars, _ = answer.tally().weigh(last[1], start)
    return last if words + chars / 2 <= reach else None


def _spelled(cue: str, source: str) -> bool:
    """Whether a pattern's source spells ``cue`` out as a word (annotated is not "not")."""
    if not cue.isascii():
        return cue in source
    return re.search(rf"(?<![a-z]){re.escape(cue)}(?![a-z])", source) is not None


def _inside(
    regex: re.Pattern[str], text: str, start: int, end: int, spelled: str
) -> tuple[int, int] | None:
    """A cue inside the match that the pattern does not spell out itself."""
    return _search(regex, text, start, end, spelled)


def _outside(
    regex: re.Pattern[str], text: str, begin: int, stop: int, start: int, end: int, spelled: str
) -> tuple[int, int] | None:
    """A cue in ``[begin, stop)``: outside the match, or inside it but not in the pattern."""
    return (
        _search(regex, text, begin, min(start, stop))
        or _inside(regex, text, max(start, begin), min(end, stop), spelled)
        or _search(regex, text, max(end, begin), stop)
    )


def _list_head(answer: Answer, clauses: list[tuple[int, int]], first: int) -> int:
    """Start of the clause heading the list that clause ``first`` is a bare item of."""
    tally = answer.tally()
    index = first
    while index > 0 and bare(tally.weigh(*clauses[index])):
        index -= 1
    return clauses[index][0] if index < first else clauses[first][0]


def _next_sentence_judgment(answer: Answer, index: int) -> tuple[int, int] | None:
    """A judgment opening the next sentence and referring back: "This is wrong."."""
    if index + 1 >= len(answer.sentences):
        return None
    text = answer.lowered
    begin, stop = answer.sentences[index + 1]
    if not _NEXT_SENTENCE.match(text, begin):
        return None
    first_clause = answer.clauses(index + 1)[0]
    words, chars, _ = answer.tally().weigh(*first_clause)
    # Only a short verdict ("This is wrong.", 这是错误的) judges the sentence before it; a
    # longer one ("It is wrong to resample before the split") makes a claim of its own.
    if words + chars / 2 > 6 or _search(_ENDORSEMENT, text, *first_clause):
        return None
    return _search(_JUDGMENT, text, *first_clause)
