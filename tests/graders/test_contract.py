"""The dry run's steps and words (graders/contract.py), without a sandbox."""

from __future__ import annotations

import numpy as np
import pytest

from graders.contract import (
    STEPS,
    check_budget,
    check_predictions,
    explain,
    fix_detail,
    outcome,
    render,
)


@pytest.mark.parametrize(
    ("code", "message", "en", "zh"),
    [
        (
            "syntax_error",
            "syntax error at line 9: expected ':'",
            "Line 9: expected ':'.",
            "第 9 行：expected ':'。",
        ),
        (
            "invalid_predictions",
            "predictions have shape (1000, 5, 5, 10); expected (1000,) class ids or "
            "(1000, 10) probabilities [wrong_shape]",
            "Expected shape (N, 10) probabilities or (N,) class ids; got (N, 5, 5, 10).",
            "实际为 (N, 5, 5, 10)",
        ),
        ("timeout", "the train phase ran past its limit of 480 s", "Limit hit: 480 s.", "480 秒"),
        (
            "out_of_memory",
            "the train phase used more than its 4096 MB of memory",
            "Limit hit: 4096 MB of memory.",
            "4096 MB 内存",
        ),
        (
            "import_error",
            "module 'tensorflow_addons' is not available in the grader",
            "Module tensorflow_addons is not installed",
            "tensorflow_addons",
        ),
    ],
)
def test_the_fix_is_read_from_our_message_in_both_languages(code, message, en, zh):
    assert en in fix_detail(code, message, "en")
    assert zh in fix_detail(code, message, "zh")
    assert explain(code, message, "zh").startswith(explain(code, "", "zh"))


def test_a_test_set_count_never_shows_in_the_candidates_words():
    message = (
        "predictions have shape (1000, 5, 5, 10); expected (1000,) class ids or "
        "(1000, 10) probabilities [wrong_shape]"
    )
    assert "1000" not in explain("invalid_predictions", message, "en")
    assert "1000" not in explain("invalid_predictions", "got 999 predictions for 1000 test inputs")


def test_without_a_known_fix_the_message_follows_the_catalogues_words():
    text = explain("train_exception", "train(): ValueError: bad labels")
    assert text == "Training raised an exception. (train(): ValueError: bad labels)"


def test_a_failure_is_placed_at_its_step_or_the_first_step_not_done():
    assert outcome(["contract"], "unsafe_model", "x").failed_step == "load"
    timed_out = outcome(["contract", "build"], "timeout", "limit of 90 s")
    assert timed_out.failed_step == "train"
    assert [s.status for s in timed_out.steps] == ["ok", "ok", "failed"] + ["skipped"] * 5
    assert outcome(list(STEPS[:6])).passed


def test_predictions_and_budget_use_the_scorings_checks():
    assert check_predictions(np.full((8, 10), 0.1), 8, 10) is None
    code, message = check_predictions(np.zeros((8, 5, 5, 10)), 8, 10)
    assert code == "invalid_predictions" and "(8, 5, 5, 10)" in message
    assert check_predictions(np.full((8, 10), 3.0), 8, 10)[1].endswith("[out_of_range]")
    budget = {"max_params": 300000, "max_model_kb": 4096}
    assert check_budget(budget, 61706, 765 * 1024) is None
    assert "795010 parameters" in check_budget(budget, 795010, 1024)
    assert "5000 KiB" in check_budget(budget, 1, 5000 * 1024)
    assert check_budget({"max_params": 0, "max_model_kb": 0}, 10**9, 10**12) is None


def test_the_steps_print_ok_the_failure_and_what_to_fix():
    lines = render(outcome(["contract", "build"], "train_exception", "train(): boom"), "en")
    assert lines[0].startswith("  ok    contract") and "FAIL  train" in lines[2]
    assert "Training raised an exception." in lines[3]
    assert lines[-1].startswith("failed")
    assert render(outcome(list(STEPS[:6])), "zh")[-1].startswith("通过")
