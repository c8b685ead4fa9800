"""Issue 9: wrong answers dressed in the rubric's own words must score low and be flagged.

The adversarial set (tests/data/theory_adversarial.toml) holds wrong or dangerous answers in
both languages for every question: negated key points, misconceptions followed by an
unrelated negation, contradictory claims, keyword lists inside fluent sentences, correct
words attached to the wrong concept, and the source bank's wrong answers reworded.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from graders.theory import load_bank, score_answer

DATA = Path(__file__).resolve().parents[1] / "data"
ADVERSARIAL = tomllib.loads((DATA / "theory_adversarial.toml").read_text(encoding="utf-8"))[
    "answers"
]
LABELLED = tomllib.loads((DATA / "theory_answers.toml").read_text(encoding="utf-8"))["answers"]
LOW_SHARE = 0.35
"""An adversarial answer should score at most this fraction of the maximum..."""
REQUIRED_LOW = 0.9
"""...and at least this share of the set must (the issue's bar)."""


@pytest.fixture(scope="module")
def bank():
    return load_bank()


def test_the_set_covers_every_question_in_both_languages_with_forty_answers(bank):
    assert len(ADVERSARIAL) >= 40
    assert len({answer["id"] for answer in ADVERSARIAL}) == len(ADVERSARIAL)
    covered = {(answer["question"], answer["language"]) for answer in ADVERSARIAL}
    assert covered == {(qid, lang) for qid in bank.ids for lang in ("en", "zh")}
    kinds = {answer["kind"] for answer in ADVERSARIAL}
    assert {
        "negated-key-points",
        "trailing-negation",
        "contradiction",
        "fluent-keyword-list",
        "wrong-concept",
        "seed-reworded",
        "dangerous-practice",
    } <= kinds


def test_every_expected_misconception_exists_in_the_bank(bank):
    for answer in ADVERSARIAL:
        known = {item.id for item in bank.get(answer["question"]).misconceptions}
        assert set(answer["misconceptions"]) <= known, answer["id"]


def test_at_least_ninety_percent_score_at_most_35_percent_of_the_maximum(bank):
    scores = {
        answer["id"]: score_answer(bank.get(answer["question"]), answer["text"]).fraction
        for answer in ADVERSARIAL
    }
    high = {answer_id: fraction for answer_id, fraction in scores.items() if fraction > LOW_SHARE}
    assert len(scores) - len(high) >= REQUIRED_LOW * len(scores), high


@pytest.mark.parametrize(
    "answer",
    [answer for answer in ADVERSARIAL if answer["misconceptions"]],
    ids=lambda answer: answer["id"],
)
def test_each_asserted_misconception_is_flagged_with_its_span(bank, answer):
    result = score_answer(bank.get(answer["question"]), answer["text"])
    found = {hit.id: hit for hit in result.misconceptions}
    assert set(answer["misconceptions"]) <= found.keys()
    for hit in found.values():
        assert answer["text"][hit.span.start : hit.span.end] == hit.span.text != ""


def test_the_labelled_answers_keep_ninety_percent_band_agreement(bank):
    """The 70 answers labelled before issue 9, and ten corrective good answers added with it."""
    agree = 0
    for sample in LABELLED:
        fraction = score_answer(bank.get(sample["question"]), sample["text"]).fraction
        low, high = sample["band"]
        agree += low <= fraction <= high
    assert agree >= 0.9 * len(LABELLED)


@pytest.mark.parametrize("answer", ADVERSARIAL, ids=lambda answer: answer["id"])
def test_every_span_and_cue_is_a_slice_of_the_answer(bank, answer):
    text = answer["text"]
    result = score_answer(bank.get(answer["question"]), text)
    spans = [item.span for item in [*result.matched, *result.misconceptions, *result.corrections]]
    spans += [item.cue for item in [*result.misconceptions, *result.corrections] if item.cue]
    for point in result.missed:
        if point.mention:
            spans += [point.mention.span] + ([point.mention.cue] if point.mention.cue else [])
    for span in spans:
        assert text[span.start : span.end] == span.text
