"""Claim-level reading of answers: asserted, negated, questioned, refuted, contradicted."""

from __future__ import annotations

import pytest

from graders.theory import Flag, load_bank, score_answer


@pytest.fixture(scope="module")
def bank():
    return load_bank()


def _score(bank, question_id, text):
    return score_answer(bank.get(question_id), text)


def _matched(result):
    return {point.id for point in result.matched}


def _mention(result, point_id):
    (point,) = [point for point in result.missed if point.id == point_id]
    return point.mention


def _flagged(result):
    return {hit.id for hit in result.misconceptions}


# -- the three answers of issue 9 ------------------------------------------------------------


def test_a_trailing_negation_about_something_else_does_not_cancel_the_roc_misconception(bank):
    with_tail = "The ROC curve shows precision against recall at each threshold, which is not hard."
    without = "The ROC curve shows precision against recall at each threshold."
    for text in (with_tail, without):
        result = _score(bank, "evaluation-metrics", text)
        assert _flagged(result) == {"roc-precision-recall"}
        (hit,) = result.misconceptions
        assert hit.span.text == "ROC curve shows precision against recall"


def test_negated_key_points_earn_nothing_and_say_which_word_negated_them(bank):
    text = (
        "ROC is not the true positive rate against the false positive rate. "
        "F1 is not the harmonic mean of the two."
    )
    result = _score(bank, "evaluation-metrics", text)
    assert result.score == 0
    mention = _mention(result, "roc-auc")
    assert mention.reading == "negated" and mention.cue.text == "not"
    assert text[mention.cue.start : mention.cue.end] == "not" and mention.cue.start < 10
    assert _mention(result, "f1").span.text == "harmonic"


def test_master_weights_denied_by_the_answer_earn_nothing(bank):
    text = (
        "Mixed precision means storing numbers as both floats and integers, which avoids loss "
        "scaling and does not need master weights."
    )
    result = _score(bank, "training-speed", text)
    assert "master-weights" not in _matched(result)
    assert _mention(result, "master-weights").reading == "negated"
    assert _flagged(result) == {"mixed-precision-integers"}
    assert result.score == 0


def test_smote_before_the_split_endorsed_by_a_trailing_clause_is_penalised(bank):
    text = (
        "Use SMOTE on the whole dataset before the train/test split, which is not a problem. "
        "Class weights in the loss do not help."
    )
    result = _score(bank, "class-imbalance", text)
    assert _flagged(result) == {"resample-before-split"}
    assert result.misconceptions[0].cue.text == "not a problem"
    assert _mention(result, "class-weights").reading == "negated"
    assert _mention(result, "resampling").reading == "contradicted"
    assert result.score == 0


# -- scope: only the claim's clauses count ----------------------------------------------------


@pytest.mark.parametrize(
    ("question_id", "text", "point_id"),
    [
        (
            "class-imbalance",
            "Focal loss down-weights easy examples so the loss is not dominated by them.",
            "focal-loss",
        ),
        ("training-speed", "Loss scaling avoids gradient underflow in FP16.", "mixed-precision"),
        (
            "training-speed",
            "Gradient accumulation does not reduce compute, it only saves memory.",
            "gradient-accumulation",
        ),
        ("class-imbalance", "Use class weights when the data is not balanced.", "class-weights"),
        ("class-imbalance", "focal loss 让模型不被大量简单样本主导。", "focal-loss"),
        ("evaluation-metrics", "类别不平衡时准确率会误导。", "accuracy-limits"),
        ("feasibility", "先看市场有没有需求，用户愿不愿意付费。", "need-and-value"),
    ],
)
def test_a_negation_elsewhere_in_the_sentence_keeps_the_point(bank, question_id, text, point_id):
    assert point_id in _matched(_score(bank, question_id, text))


@pytest.mark.parametrize(
    ("question_id", "text", "point_ids"),
    [
        (
            "class-imbalance",
            "There is no need for oversampling, undersampling or class weights.",
            {"resampling", "class-weights"},
        ),
        (
            "class-imbalance",
            "不需要过采样、欠采样或 SMOTE，也不用调整阈值。",
            {"resampling", "threshold-moving"},
        ),
        (
            "training-speed",
            "数据并行没什么用，激活检查点也没有必要。",
            {"data-parallelism", "activation-checkpointing"},
        ),
        (
            "feasibility",
            "Market demand does not matter, and privacy is not our concern.",
            {"need-and-value", "data-rights-privacy"},
        ),
    ],
)
def test_a_negation_covers_the_claims_it_governs(bank, question_id, text, point_ids):
    result = _score(bank, question_id, text)
    assert not point_ids & _matched(result)
    assert all(_mention(result, point_id).reading == "negated" for point_id in point_ids)


def test_a_chinese_trailing_clause_does_not_cancel_the_misconception(bank):
    text = "ROC 曲线展示的是不同阈值下的精确率和召回率，这一点不难理解。"
    assert _flagged(_score(bank, "evaluation-metrics", text)) == {"roc-precision-recall"}


# -- refuted, questioned, contradicted ---------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "The ROC curve shows precision and recall, which is wrong.",
        "It is a common mistake to think the ROC curve shows precision and recall.",
        "The ROC curve shows precision and recall. This is wrong.",
        "有人认为 ROC 曲线展示的是精确率和召回率，这是错误的。",
    ],
)
def test_a_misconception_attributed_to_a_wrong_view_is_a_correction(bank, text):
    result = _score(bank, "evaluation-metrics", text)
    assert result.misconceptions == []
    (correction,) = result.corrections
    assert correction.id == "roc-precision-recall" and correction.reading == "refuted"


def test_oversampling_explained_as_leakage_is_not_penalised(bank):
    text = (
        "Oversampling before the split puts copies on both sides of it, so the test score is "
        "inflated. Resample the training split only, never before the split."
    )
    result = _score(bank, "class-imbalance", text)
    assert result.misconceptions == [] and "resampling" in _matched(result)


def test_an_attributed_key_point_earns_nothing(bank):
    text = (
        "Some people say you should weight the minority class higher in the loss, which is a myth."
    )
    result = _score(bank, "class-imbalance", text)
    assert _mention(result, "class-weights").reading == "refuted"


def test_a_question_is_not_an_assertion_unless_raising_it_is_the_point(bank):
    asked = _score(bank, "evaluation-metrics", "Is F1 the harmonic mean of precision and recall?")
    assert _mention(asked, "f1").reading == "questioned" and asked.score == 0
    raised = _score(bank, "feasibility", "Are we allowed to use the customers' personal data?")
    assert "data-rights-privacy" in _matched(raised)


def test_a_key_point_contradicted_by_an_asserted_misconception_is_withdrawn(bank):
    text = (
        "The ROC curve plots the true positive rate against the false positive rate. "
        "In other words, the ROC curve shows the precision and recall of the model."
    )
    result = _score(bank, "evaluation-metrics", text)
    mention = _mention(result, "roc-auc")
    assert mention.reading == "contradicted"
    assert mention.cue.text == result.misconceptions[0].span.text
    assert result.score == 0


def test_the_precision_formula_with_fn_is_the_swapped_definition(bank):
    for text in ("Precision = TP / (TP + FN).", "精确率 = TP / (TP + FN)。"):
        result = _score(bank, "evaluation-metrics", text)
        assert _flagged(result) == {"precision-recall-swapped"}


# -- lists and the advisory result -------------------------------------------------------------


def test_a_keyword_list_inside_a_fluent_sentence_is_capped(bank):
    text = (
        "I would make training faster by switching on mixed precision, data parallelism, ZeRO, "
        "gradient accumulation, activation checkpointing and XLA all at once."
    )
    result = _score(bank, "training-speed", text)
    assert Flag.KEYWORD_STUFFING in result.flags
    assert result.fraction <= 0.35
    assert all(not point.in_sentence for point in result.matched)


def test_every_result_is_advisory(bank):
    result = _score(bank, "feasibility", "We need a budget.")
    assert result.advisory is True and result.to_dict()["advisory"] is True
