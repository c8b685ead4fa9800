"""Concept checks: the bank's checks, their schema, the per-candidate order, exact scoring, CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from graders.cli import main
from graders.paths import REPO_ROOT
from graders.theory import ChallengeSpecError, load_bank
from graders.theory.bank import CORRECT
from graders.theory.checks import (
    MIN_CHECKS,
    choice_at,
    option_order,
    score_checks,
    verify_bank,
)
from tests.graders.test_theory import MINIMAL


@pytest.fixture(scope="module")
def bank():
    return load_bank()


# -- the shipped bank --------------------------------------------------------------------------


def test_every_question_carries_at_least_four_checks(bank):
    assert verify_bank(bank) == []
    for question in bank.questions:
        assert len(question.checks) >= MIN_CHECKS, question.id


def test_every_check_is_bilingual_with_one_correct_option_and_mapped_distractors(bank):
    for question in bank.questions:
        known = {item.id for item in question.misconceptions}
        for check in question.checks:
            for text in (check.prompt, check.why, *(option.text for option in check.options)):
                assert text.en.strip() and text.zh.strip()
                # The Chinese text is Chinese, not a copy of the English.
                assert any("\u4e00" <= char <= "\u9fff" for char in text.zh), check.id
            assert [option.correct for option in check.options].count(True) == 1
            distractors = [option for option in check.options if not option.correct]
            assert len(distractors) >= 2, f"{question.id}/{check.id}: at least three options"
            assert {option.misconception for option in distractors} <= known


def test_the_seed_banks_errors_are_distractors_never_the_correct_option(bank):
    """DESIGN.md's list: ROC is TPR against FPR; mixed precision is not floats and integers."""
    roc = bank.get("evaluation-metrics").check("roc-axes")
    assert "false positive rate" in roc.correct_option.text.en
    assert roc.option("roc-precision-recall").text.en == "Precision against recall."
    mixed = bank.get("training-speed").check("mixed-precision")
    assert "FP32 master copy" in mixed.correct_option.text.en
    assert "loss scaling" in mixed.correct_option.text.en
    assert mixed.option("mixed-precision-integers") is not None


# -- the schema --------------------------------------------------------------------------------

CHECK = """
[[checks]]
id = "first"
prompt = { en = "Is accuracy enough?", zh = "准确率够吗？" }
why = { en = "It hides the rare class.", zh = "它掩盖少数类。" }

[[checks.options]]
correct = true
text = { en = "No, look at recall.", zh = "不够，要看召回率。" }

[[checks.options]]
misconception = "myth"
text = { en = "Yes, it is enough.", zh = "够了。" }
"""

SECOND_MYTH = """
[[misconceptions]]
id = "other-myth"
penalty = 1
label = { en = "Other", zh = "另一个" }
claim = { en = "Other claim.", zh = "另一个说法。" }
why = { en = "Other why.", zh = "另一个原因。" }
patterns = { en = ['other claim'], zh = ['另一个说法'] }
"""


def _write(folder: Path, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "sample.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_question_with_a_check_loads(tmp_path):
    _write(tmp_path, MINIMAL + CHECK)
    (check,) = load_bank(tmp_path).get("sample").checks
    assert check.correct_option.text.zh == "不够，要看召回率。"
    assert check.option("myth").misconception == "myth"
    assert check.option(CORRECT) is check.correct_option


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            "correct = true",
            'misconception = "other-myth"',
            "checks[0]: options: exactly one option is correct, found 0",
        ),
        (
            'misconception = "myth"',
            "correct = true",
            "exactly one option is correct, found 2",
        ),
        ('misconception = "myth"\n', "", "a distractor names the misconception it stands for"),
        (
            'misconception = "myth"',
            'misconception = "nope"',
            "checks[0].options[1].misconception: no misconception 'nope' in this question",
        ),
        (
            "correct = true\n",
            'correct = true\nmisconception = "myth"\n',
            "the correct option names no misconception",
        ),
        (
            'text = { en = "Yes, it is enough.", zh = "够了。" }',
            'text = { en = "Yes, it is enough." }',
            "checks[0].options[1].text.zh: Field required",
        ),
        (
            'prompt = { en = "Is accuracy enough?", zh = "准确率够吗？" }',
            'prompt = { en = " ", zh = "准确率够吗？" }',
            "checks[0].prompt.en",
        ),
        ('why = { en = "It hides the rare class.", zh = "它掩盖少数类。" }\n', "", "checks[0].why"),
        (
            'text = { en = "Yes, it is enough.", zh = "够了。" }',
            'text = { en = "No, look at recall.", zh = "够了。" }',
            "two options read the same in 'en'",
        ),
        ('misconception = "myth"', 'misconception = "correct"', "reserved"),
        ('id = "first"', 'id = "First one"', "checks[0].id"),
        ("correct = true\n", "correct = true\nweight = 2\n", "Extra inputs are not permitted"),
    ],
)
def test_an_invalid_check_names_the_file_the_key_and_the_reason(tmp_path, old, new, expected):
    assert old in CHECK
    path = _write(tmp_path, MINIMAL + SECOND_MYTH + CHECK.replace(old, new, 1))
    with pytest.raises(ChallengeSpecError) as caught:
        load_bank(tmp_path)
    assert str(path) in str(caught.value)
    assert expected in str(caught.value)


def test_a_misconception_standing_for_two_options_is_rejected(tmp_path):
    twice = CHECK + '\n[[checks.options]]\nmisconception = "myth"\ntext = { en = "B", zh = "乙" }\n'
    _write(tmp_path, MINIMAL + twice)
    with pytest.raises(ChallengeSpecError, match="'myth' stands for two options"):
        load_bank(tmp_path)


def test_duplicate_check_ids_and_a_single_option_are_rejected(tmp_path):
    _write(tmp_path / "twice", MINIMAL + CHECK + CHECK)
    with pytest.raises(ChallengeSpecError, match="checks: duplicate id 'first'"):
        load_bank(tmp_path / "twice")
    single = CHECK[: CHECK.index("[[checks.options]]\nmisconception")]
    _write(tmp_path / "single", MINIMAL + single)
    with pytest.raises(
        ChallengeSpecError, match=r"checks\[0\]\.options: Tuple should have at least 2"
    ):
        load_bank(tmp_path / "single")


# -- order and scoring -------------------------------------------------------------------------


def test_the_order_is_stable_for_a_seed_and_differs_across_seeds(bank):
    question = bank.get("evaluation-metrics")
    check = question.check("rare-positives")
    keys = [option.key for option in option_order(1234, question.id, check)]
    assert [option.key for option in option_order(1234, question.id, check)] == keys
    assert sorted(keys) == sorted(option.key for option in check.options)
    orders = {
        tuple(option.key for option in option_order(seed, question.id, check)) for seed in range(40)
    }
    assert len(orders) >= 10  # 24 orders are possible; 40 seeds reach most of them
    correct_first = sum(option_order(seed, question.id, check)[0].correct for seed in range(400))
    assert 60 <= correct_first <= 140  # about a quarter: the correct option has no home


def test_the_order_is_the_same_in_another_process(bank):
    """``random`` hashes a string seed with SHA-512, not ``hash()``: PYTHONHASHSEED is moot."""
    question = bank.get("training-speed")
    check = question.check("sharding")
    here = [option.key for option in option_order(99, question.id, check)]
    code = (
        "from graders.theory import load_bank\n"
        "from graders.theory.checks import option_order\n"
        "q = load_bank().get('training-speed')\n"
        "print(','.join(o.key for o in option_order(99, q.id, q.check('sharding'))))\n"
    )
    for hash_seed in ("1", "2"):
        out = subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=True,
            cwd=REPO_ROOT,
            env={"PYTHONPATH": str(REPO_ROOT), "PYTHONHASHSEED": hash_seed},
        ).stdout
        assert out.strip().split(",") == here


def test_a_position_maps_back_to_the_option_shown_there(bank):
    question = bank.get("class-imbalance")
    check = question.check("trade-off")
    shown = option_order(7, question.id, check)
    for position, option in enumerate(shown):
        assert choice_at(7, question.id, check, position) == option.key
    assert choice_at(7, question.id, check, len(shown)) is None
    assert choice_at(7, question.id, check, -1) is None


def test_scoring_is_exact_and_a_wrong_pick_names_its_misconception(bank):
    question = bank.get("evaluation-metrics")
    picks = {
        "roc-axes": "roc-precision-recall",
        "precision": CORRECT,
        "f1": CORRECT,
        "rare-positives": "no-longer-in-the-bank",
    }
    result = score_checks(question, picks)
    assert (result.correct, result.answered, result.total) == (2, 3, 4)
    (wrong,) = result.wrong
    assert wrong.check.id == "roc-axes"
    assert wrong.misconception.id == "roc-precision-recall"
    assert "true positive rate" in wrong.misconception.why.en
    assert "真正例率" in wrong.misconception.why.zh
    data = result.to_dict()
    assert data["checks"][0]["misconception"]["label"]["zh"] == "把 ROC 说成精确率对召回率的曲线"
    assert data["checks"][3] | {"id": None} == {
        "id": None,
        "answered": False,
        "correct": False,
        "choice": None,
        "picked": None,
        "misconception": None,
    }
    assert score_checks(question, {}).correct == 0
    everything = {check.id: CORRECT for check in question.checks}
    assert score_checks(question, everything).correct == len(question.checks)


# -- the CLI -----------------------------------------------------------------------------------


def test_list_json_gives_every_question_its_checks_in_both_languages(bank):
    result = CliRunner().invoke(main, ["theory", "list", "--json"])
    assert result.exit_code == 0, result.output
    questions = json.loads(result.output)["questions"]
    assert [q["id"] for q in questions] == bank.ids
    for question in questions:
        assert len(question["checks"]) >= MIN_CHECKS
        for check in question["checks"]:
            assert set(check) == {"id", "prompt", "why", "options"}
            assert check["prompt"]["en"] and check["prompt"]["zh"]
            assert sum(option["correct"] for option in check["options"]) == 1
            for option in check["options"]:
                assert option["text"]["en"] and option["text"]["zh"]
                assert option["correct"] or option["misconception"] in question["misconceptions"]


def test_check_verifies_the_concept_checks_first(tmp_path):
    result = CliRunner().invoke(main, ["theory", "check"])
    assert result.exit_code == 0, result.output
    assert "concept checks: 20 in 5 questions, all valid (at least 4 each)" in result.output
    as_json = CliRunner().invoke(main, ["theory", "check", "--json"])
    assert json.loads(as_json.output)["concept_checks"]["problems"] == []


def test_check_fails_on_a_question_with_too_few_checks(tmp_path):
    folder = tmp_path / "bank"
    _write(folder, MINIMAL + CHECK)
    labelled = tmp_path / "labelled.toml"
    labelled.write_text(
        '[[answers]]\nid = "a"\nquestion = "sample"\nband = [0.0, 1.0]\ntext = "focal"\n',
        encoding="utf-8",
    )
    result = CliRunner().invoke(main, ["theory", "check", "--bank", str(folder), str(labelled)])
    assert result.exit_code == 1
    assert "concept checks: sample: 1 concept check(s), at least 4 needed" in result.output


def test_check_fails_on_a_distractor_without_a_misconception(tmp_path):
    folder = tmp_path / "bank"
    _write(folder, MINIMAL + CHECK.replace('misconception = "myth"', 'misconception = "gone"'))
    result = CliRunner().invoke(main, ["theory", "check", "--bank", str(folder)])
    assert result.exit_code != 0
    assert "checks[0].options[1].misconception: no misconception 'gone'" in result.output
    assert "Traceback" not in result.output
