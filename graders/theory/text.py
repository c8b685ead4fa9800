"""Text analysis for rubric scoring: folding, sentences, clauses and term lists.

Every derived form of an answer has the answer's length, so an offset found in any of them
is an offset into the answer and a span is always ``answer[start:end]``.
"""

from __future__ import annotations

import bisect
import itertools
import re
from collections.abc import Iterator

from graders.theory.bank import FOLD

_ASCII_LOWER = {code: code + 32 for code in range(0x41, 0x5B)}
# Patterns with an inline flag group such as (?-i:ZeRO) keep Python's case-insensitive mode
# and run on the case-kept text; the others are lowercased and run on lowered text, which
# lets the regex engine skip ahead by first character (IGNORECASE disables that; ~10x slower).
_IGNORECASE = int(re.IGNORECASE)  # an int: the enum's & is slow in the inner loop
# Full-width ！？；，： fold to ASCII; 。 and 、 have no ASCII form and are listed as such.
_SENTENCE_BREAK = re.compile(r"[\n。!?;]|\.(?=\s|$)")
# Clause boundaries: punctuation, and the conjunctions that start a new claim. Negation and
# refutation are looked for only in the clauses a claim occupies, so "X, which is not hard"
# leaves X asserted. 而 is a boundary except in 而且, 而非, 而不是 (the last two negate).
_CLAUSE_BREAK = re.compile(
    r"[,;:、]|\s(?=(but|which|while|whereas|although|though|however|yet|because|since|so|when"
    r"|whenever|if|unless|where|then|otherwise)\b)"
    # The one-character class first: most positions fail it at once (the alternation after
    # it alone made clause splitting a fifth of the scoring time).
    r"|(?=[但然不因所如虽尽从否只而])(?=但是|但|然而|不过|因为|所以|如果|虽然|尽管|因此|从而|否则|只要"
    r"|而(?!且|非|不是))"
)
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


class Answer:
    """An answer prepared for matching: folded forms, sentences and clauses.

    ``cased`` (full-width folded, case kept) serves patterns with inline flags; ``lowered``
    every other pattern and the clause analysis. Sentences are classed as prose or term
    list only when a match falls in them.
    """

    def __init__(self, text: str):
        self.text = text
        self.cased = text if text.isascii() else text.translate(FOLD)
        self.lowered = self.cased.lower()
        if len(self.lowered) != len(self.cased):  # a rare letter with a two-character lowercase
            self.lowered = self.cased.translate(_ASCII_LOWER)
        self.sentences = split(_SENTENCE_BREAK, self.lowered, 0, len(self.lowered))
        self._starts = [start for start, _ in self.sentences]
        self._clauses: dict[int, list[tuple[int, int]]] = {}
        self._prose: dict[int, bool] = {}
        self._items: dict[int, list[tuple[int, int]]] = {}
        self.memo: dict[object, object] = {}
        """Per-answer results of other modules' analyses, keyed by their own tuples."""
        self._tally: Tally | None = None

    def matches(self, pattern: re.Pattern[str]) -> Iterator[re.Match[str]]:
        """Non-empty matches of ``pattern`` in the form of the answer it was compiled for."""
        target = self.cased if pattern.flags & _IGNORECASE else self.lowered
        if pattern.search(target) is None:  # the common case, without a Python-level loop
            return iter(())
        return (match for match in pattern.finditer(target) if match.end() > match.start())

    def sentence_at(self, position: int) -> int:
        """Index of the sentence holding ``position`` (the previous one for a break)."""
        return max(bisect.bisect_right(self._starts, position) - 1, 0)

    def sentence(self, position: int) -> tuple[int, int]:
        """``(start, end)`` of the sentence holding ``position``; the whole text if none."""
        if not self.sentences:
            return 0, len(self.text)
        return self.sentences[self.sentence_at(position)]

    def clauses(self, index: int) -> list[tuple[int, int]]:
        """The clauses of sentence ``index``, split at punctuation and conjunctions."""
        if index not in self._clauses:
            start, end = self.sentences[index] if self.sentences else (0, len(self.text))
            self._clauses[index] = split(_CLAUSE_BREAK, self.lowered, start, end) or [(start, end)]
        return self._clauses[index]

    def tally(self) -> Tally:
        """Word counts of the whole answer, computed on first use."""
        self._tally = self._tally or Tally(self.lowered)
        return self._tally

    def in_prose(self, position: int) -> bool:
        """Whether ``position`` lies in a sentence that reads as prose, not as a term list."""
        if not self.sentences:
            return False
        index = self.sentence_at(position)
        if index not in self._prose:
            self._prose[index] = self.tally().is_prose(self.lowered, *self.sentences[index])
        start, end = self.sentences[index]
        return start <= position < end and self._prose[index]

    def in_term_list(self, start: int, end: int) -> bool:
        """Whether ``[start, end)`` is a bare item of an enumeration inside a sentence.

        "I would use SMOTE, class weights, focal loss and PR-AUC" names four terms in a
        fluent sentence. In a sentence of three or more items, a match is listed when its
        item is bare, or when it ends its item next to a bare item after it ("use SMOTE,"
        before "class weights") or starts it next to a bare item before it.
        """
        low, high = self.sentence(start)
        if low not in self._items:
            self._items[low] = split(_ITEM_BREAK, self.lowered, low, high)
        items = self._items[low]
        if len(items) < 3:
            return False
        tally = self.tally()
        index = next((i for i, (_, stop) in enumerate(items) if start < stop), -1)
        if index < 0 or end > items[index][1]:
            return False
        item_start, item_end = items[index]
        if bare(tally.weigh(item_start, item_end)):
            return True
        after = self._bare_or_blank(end, item_end)
        before = self._bare_or_blank(item_start, start)
        return (after and index + 1 < len(items) and bare(tally.weigh(*items[index + 1]))) or (
            before and index > 0 and bare(tally.weigh(*items[index - 1]))
        )

    def _bare_or_blank(self, start: int, end: int) -> bool:
        weights = self.tally().weigh(start, end)
        return weights[0] + weights[1] == 0 or bare(weights)


class Tally:
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
        if words + chars == 0 or bare(weights):
            return False
        if words >= 6 and chars < words and function < 0.05 * words:
            return False
        # A term list: three or more items, two thirds of them bare, and at most one item
        # that reads as a clause (an enumeration inside a real sentence has at least two).
        items = [self.weigh(*item) for item in split(_ITEM_BREAK, text, start, end)]
        listed = sum(bare(item) for item in items)
        clauses = sum(item[2] > 0 for item in items)
        return not (listed >= 3 and listed * 3 >= len(items) * 2 and clauses < 2)


def bare(weights: tuple[int, int, int]) -> bool:
    """A short item (two Chinese characters weigh as one word) with no function word."""
    words, chars, function = weights
    return 0 < words + chars / 2 <= 4 and function == 0


def _count(positions: list[int], start: int, end: int) -> int:
    return bisect.bisect_left(positions, end) - bisect.bisect_left(positions, start)


def split(breaks: re.Pattern[str], text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Non-blank character ranges of ``text[start:end]`` between matches of ``breaks``."""
    spans = []
    for match in breaks.finditer(text, start, end):
        if text[start : match.start()].strip():
            spans.append((start, match.start()))
        start = match.end()
    if text[start:end].strip():
        spans.append((start, end))
    return spans
