"""The theory question bank, rubric scoring, and the labelled sample answers."""

from __future__ import annotations

import json
import random
import tomllib
from pathlib import Path

import pytest

from graders.errors import ChallengeSpecError
from graders.theory import (
    MAX_ANSWER_CHARS,
    STUFFING_CAP,
    Flag,
    UnknownQuestionError,
    load_bank,
    score_answer,
)

QUESTION_IDS = [
    "feasibility",
    "class-imbalance",
    "training-stages",
    "training-speed",
    "evaluation-metrics",
]
CATEGORIES = {"good", "partial", "wrong", "misconception", "empty", "off-topic", "keyword-stuffed"}
SAMPLES_FILE = Path(__file__).resolve().parents[1] / "data" / "theory_answers.toml"
SAMPLES = tomllib.loads(SAMPLES_FILE.read_text(encoding="utf-8"))["answers"]
SAMPLE_BY_ID = {sample["id"]: sample for sample in SAMPLES}


@pytest.fixture(scope="module")
def bank():
    return load_bank()


def _misconception_cases():
    bank = load_bank()
    return [
        pytest.param(question.id, item.id, lang, id=f"{item.id}-{lang}")
        for question in bank.questions
        for item in question.misconceptions
        for lang in ("en", "zh")
    ]


def _question_langs():
    return [
        pytest.param(qid, lang, id=f"{qid}-{lang}") for qid in QUESTION_IDS for lang in ("en", "zh")
    ]


# -- the bank ----------------------------------------------------------------------------------


def test_bank_holds_the_five_questions_in_order(bank):
    assert bank.ids == QUESTION_IDS


def test_every_question_is_bilingual_and_scores_out_of_ten(bank):
    for question in bank.questions:
        assert question.max_score == 10
        for text in (question.title, question.prompt, question.reference_answer):
            assert text.en.strip() and text.zh.strip()
        assert question.misconceptions, f"{question.id} lists no common wrong answer"


def test_load_bank_is_cached_per_folder(bank):
    assert load_bank() is bank
    assert load_bank(bank.path) is bank


@pytest.mark.parametrize(("question_id", "lang"), _question_langs())
def test_reference_answer_scores_full_marks(bank, question_id, lang):
    question = bank.get(question_id)
    result = score_answer(question, question.reference_answer.get(lang))
    assert result.score == question.max_score, [point.id for point in result.missed]
    assert result.misconceptions == [] and result.flags == []


@pytest.mark.parametrize(("question_id", "lang"), _question_langs())
def test_explanation_triggers_no_misconception(bank, question_id, lang):
    question = bank.get(question_id)
    result = score_answer(question, question.explanation.get(lang))
    assert [hit.id for hit in result.misconceptions] == []


@pytest.mark.parametrize(("question_id", "misconception_id", "lang"), _misconception_cases())
def test_each_claim_is_found_as_its_misconception(bank, question_id, misconception_id, lang):
    question = bank.get(question_id)
    (item,) = [m for m in question.misconceptions if m.id == misconception_id]
    result = score_answer(question, item.claim.get(lang))
    assert misconception_id in [hit.id for hit in result.misconceptions]


def test_unknown_question_id_names_the_known_ones(bank):
    with pytest.raises(UnknownQuestionError, match="known: feasibility"):
        bank.get("no-such-question")


# -- the labelled sample answers ---------------------------------------------------------------


def test_labelled_set_covers_every_category_in_both_languages():
    assert len(SAMPLES) >= 60
    assert len(SAMPLE_BY_ID) == len(SAMPLES), "sample ids must be unique"
    assert {sample["category"] for sample in SAMPLES} == CATEGORIES
    for question_id in QUESTION_IDS:
        samples = [sample for sample in SAMPLES if sample["question"] == question_id]
        for category in ("good", "partial", "keyword-stuffed"):
            languages = {s["language"] for s in samples if s["category"] == category}
            assert {"en", "zh"} <= languages, (question_id, category)


@pytest.mark.parametrize("sample", SAMPLES, ids=[sample["id"] for sample in SAMPLES])
def test_sample_scores_in_its_band(bank, sample):
    result = score_answer(bank.get(sample["question"]), sample["text"])
    low, high = sample["band"]
    assert low <= result.fraction <= high, result.to_dict()
    found = {hit.id for hit in result.misconceptions}
    assert set(sample.get("misconceptions", [])) <= found
    assert set(sample.get("flags", [])) <= set(result.flags)
    if sample["category"] == "keyword-stuffed":
        assert Flag.KEYWORD_STUFFING in result.flags
    if sample["category"] in {"good", "partial"}:
        assert Flag.KEYWORD_STUFFING not in result.flags


@pytest.mark.parametrize("sample_id", ["seed-metrics-zh", "seed-metrics-en"])
def test_seed_metrics_answer_is_flagged_for_the_roc_misconception(bank, sample_id):
    sample = SAMPLE_BY_ID[sample_id]
    result = score_answer(bank.get("evaluation-metrics"), sample["text"])
    (hit,) = [hit for hit in result.misconceptions if hit.id == "roc-precision-recall"]
    assert hit.span.text.startswith("ROC")
    assert "召回率" in hit.span.text or "recall" in hit.span.text
    assert "false positive rate" in hit.why["en"] and "假正例率" in hit.why["zh"]


@pytest.mark.parametrize("sample_id", ["seed-speed-zh", "seed-speed-en"])
def test_seed_mixed_precision_answer_is_flagged_for_floats_and_integers(bank, sample_id):
    sample = SAMPLE_BY_ID[sample_id]
    result = score_answer(bank.get("training-speed"), sample["text"])
    assert "mixed-precision-integers" in [hit.id for hit in result.misconceptions]


# -- what a result says ------------------------------------------------------------------------


@pytest.mark.parametrize("sample", SAMPLES, ids=[sample["id"] for sample in SAMPLES])
def test_every_span_is_a_slice_of_the_answer(bank, sample):
    text = sample["text"]
    result = score_answer(bank.get(sample["question"]), text)
    for item in [*result.matched, *result.misconceptions]:
        assert text[item.span.start : item.span.end] == item.span.text != ""
    assert 0 <= result.score <= result.max_score
    ids = [point.id for point in result.matched] + [point.id for point in result.missed]
    assert sorted(ids) == sorted(p.id for p in bank.get(sample["question"]).key_points)


def test_a_refuted_misconception_is_not_penalised(bank):
    question = bank.get("evaluation-metrics")
    claim = "The ROC curve shows precision and recall at different thresholds."
    refuted = "It is wrong to say that the ROC curve shows precision and recall at thresholds."
    assert [hit.id for hit in score_answer(question, claim).misconceptions] == [
        "roc-precision-recall"
    ]
    assert score_answer(question, refuted).misconceptions == []


def test_a_preceding_negation_does_not_hide_a_later_claim(bank):
    text = "数据方面不是问题，网上爬取的数据可以随便用。"
    result = score_answer(bank.get("feasibility"), text)
    assert [hit.id for hit in result.misconceptions] == ["data-free-to-use"]


def test_penalties_never_push_the_score_below_zero(bank):
    text = "Mixed precision uses floats and integers. Convert the whole model to FP16."
    result = score_answer(bank.get("training-speed"), text)
    assert len(result.misconceptions) == 2
    assert result.score == 0


def test_full_width_text_is_folded_and_spans_keep_their_offsets(bank):
    text = "我的看法：ＲＯＣ曲线展示了精确率和召回率；ＰＲ－ＡＵＣ更适合不平衡数据。"
    result = score_answer(bank.get("evaluation-metrics"), text)
    (hit,) = result.misconceptions
    assert hit.span.text.startswith("ＲＯＣ")
    assert text[hit.span.start : hit.span.end] == hit.span.text
    assert "pr-auc" in [point.id for point in result.matched]


def test_a_term_list_is_capped_but_the_same_terms_in_sentences_are_not(bank):
    question = bank.get("class-imbalance")
    listed = score_answer(question, "SMOTE, class weights, focal loss, threshold moving, PR-AUC")
    explained = score_answer(
        question,
        "Oversample the minority class with SMOTE, or give it larger class weights in the loss. "
        "Focal loss is another option because it focuses training on hard examples. "
        "Then tune the decision threshold and report PR-AUC, which is not fooled by the "
        "majority class.",
    )
    assert Flag.KEYWORD_STUFFING in listed.flags
    assert listed.score == STUFFING_CAP * question.max_score
    assert all(not point.in_sentence for point in listed.matched)
    assert explained.flags == [] and explained.score > listed.score


def test_to_dict_is_json_ready(bank):
    sample = SAMPLE_BY_ID["seed-metrics-zh"]
    result = score_answer(bank.get(sample["question"]), sample["text"])
    data = json.loads(json.dumps(result.to_dict()))
    for key in ("score", "max_score", "matched", "missed", "misconceptions", "flags", "fraction"):
        assert key in data
    assert data["misconceptions"][0]["span"]["text"].startswith("ROC")


def test_scoring_is_deterministic(bank):
    for sample in SAMPLES[:20]:
        question = bank.get(sample["question"])
        first = score_answer(question, sample["text"]).to_dict()
        assert score_answer(question, sample["text"]).to_dict() == first


# -- input that is not a normal answer ---------------------------------------------------------


@pytest.mark.parametrize("value", [None, b"ROC curve", 42, ["focal loss"]])
def test_non_text_is_flagged_not_raised(bank, value):
    result = score_answer(bank.get("class-imbalance"), value)
    assert (result.score, result.flags, result.matched) == (0, [Flag.NOT_TEXT], [])
    assert len(result.missed) == len(bank.get("class-imbalance").key_points)
    assert type(value).__name__ in result.notes[0]


@pytest.mark.parametrize("value", ["", "   \n\t", "\u3000"])
def test_blank_answers_are_flagged_empty(bank, value):
    result = score_answer(bank.get("feasibility"), value)
    assert (result.score, result.flags) == (0, [Flag.EMPTY])


def test_an_answer_over_the_limit_is_flagged_and_not_scored(bank):
    question = bank.get("class-imbalance")
    sentence = "Use focal loss because it focuses on hard examples. "
    over = (sentence * (MAX_ANSWER_CHARS // len(sentence) + 1))[: MAX_ANSWER_CHARS + 1]
    result = score_answer(question, over)
    assert (result.score, result.flags, result.matched) == (0, [Flag.TOO_LONG], [])
    assert "5,001 characters" in result.notes[0]
    at_limit = score_answer(question, over[:MAX_ANSWER_CHARS])
    assert at_limit.flags == [] and at_limit.score > 0


def test_arbitrary_text_never_raises_and_spans_stay_exact(bank):
    pieces = [
        *"aZ .,;:!?\n\t。，、；：（）ＲＯＣ　İß\ud800😀/|()[]*+\\",
        "ROC shows precision and recall",
    ]
    pieces += ["浮点数和整数", "不是", "focal loss", "SMOTE、过采样、阈值"]
    rng = random.Random(4)
    for _ in range(200):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(1, 120)))
        for question in bank.questions:
            result = score_answer(question, text)
            assert 0 <= result.score <= result.max_score
            for item in [*result.matched, *result.misconceptions]:
                assert text[item.span.start : item.span.end] == item.span.text


# -- validating question files -----------------------------------------------------------------

MINIMAL = """
id = "sample"
order = 1
title = { en = "Title", zh = "标题" }
prompt = { en = "Why?", zh = "为什么？" }
reference_answer = { en = "Use focal loss.", zh = "使用 focal loss。" }
explanation = { en = "Because it helps.", zh = "因为有效。" }

[[key_points]]
id = "focal"
weight = 2
label = { en = "Focal loss", zh = "焦点损失" }
patterns = { en = ['focal'], zh = ['焦点损失'] }

[[misconceptions]]
id = "myth"
penalty = 1
label = { en = "Myth", zh = "误区" }
claim = { en = "Accuracy is enough.", zh = "准确率就够了。" }
why = { en = "It hides the rare class.", zh = "它掩盖少数类。" }
patterns = { en = ['accuracy is enough'], zh = ['准确率就够了'] }
"""


def _write(folder: Path, text: str, name: str = "sample.toml") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def test_a_minimal_question_file_loads_and_scores(tmp_path):
    _write(tmp_path, MINIMAL)
    question = load_bank(tmp_path).get("sample")
    assert question.max_score == 2
    assert score_answer(question, "Focal Loss helps with hard examples.").score == 2


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("['focal']", "['focal(']", "key_points[0].patterns.en[0]: bad regular expression"),
        ("['focal']", "['x*']", "key_points[0].patterns.en[0]: pattern 'x*' matches the empty"),
        ("['focal']", "[]", "key_points[0].patterns.en: "),
        ("weight = 2", "weight = 0", "key_points[0].weight: "),
        ("order = 1", 'order = 1\ncolour = "red"', "colour: Extra inputs are not permitted"),
        ('explanation = { en = "Because it helps.", zh = "因为有效。" }', "", "explanation: "),
        ('title = { en = "Title", zh = "标题" }', 'title = { en = "Title", zh = " " }', "title.zh"),
        (
            "['准确率就够了'] }",
            "['准确率就够了'] }\n[[misconceptions]]\nid = 'x'",
            "misconceptions[1].label",
        ),
        ('id = "sample"', 'id = "other"', "id: 'other' differs from the file name"),
        (
            "penalty = 1",
            "penalty = 1\ncontradicts = ['nope']",
            "misconceptions[0].contradicts: no key point 'nope'",
        ),
        ("order = 1", "order = = 1", "cannot read"),
    ],
)
def test_an_invalid_file_names_the_file_the_key_and_the_reason(tmp_path, old, new, expected):
    assert old in MINIMAL
    path = _write(tmp_path, MINIMAL.replace(old, new, 1))
    with pytest.raises(ChallengeSpecError) as caught:
        load_bank(tmp_path)
    assert str(path) in str(caught.value)
    assert expected in str(caught.value)


def test_duplicate_key_point_ids_are_rejected(tmp_path):
    point = MINIMAL[MINIMAL.index("[[key_points]]") : MINIMAL.index("[[misconceptions]]")]
    _write(tmp_path, MINIMAL + "\n" + point)
    with pytest.raises(ChallengeSpecError, match="key_points: .*duplicate id 'focal'"):
        load_bank(tmp_path)


def test_a_file_that_is_not_utf8_is_reported(tmp_path):
    (tmp_path / "sample.toml").write_bytes(MINIMAL.encode("gbk"))
    with pytest.raises(ChallengeSpecError, match="cannot read"):
        load_bank(tmp_path)


def test_a_missing_or_empty_folder_is_reported(tmp_path):
    with pytest.raises(ChallengeSpecError, match="not found"):
        load_bank(tmp_path / "absent")
    with pytest.raises(ChallengeSpecError, match="no theory questions"):
        load_bank(tmp_path)


def test_a_case_sensitive_group_keeps_its_case(tmp_path):
    _write(tmp_path, MINIMAL.replace("['focal']", "['(?-i:ZeRO)']"))
    question = load_bank(tmp_path).get("sample")
    assert score_answer(question, "Shard states with ZeRO stage 3.").score == 2
    assert score_answer(question, "Gradients underflow to zero.").score == 0
