"""``assay theory list`` and ``assay theory score``, through the ``assay`` group."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from graders.cli import main

SEED_ROC = "ROC 曲线展示了不同阈值下模型的精确率和召回率。F1 是精确率和召回率的调和平均。"


@pytest.fixture
def runner():
    return CliRunner()


@pytest.fixture
def answer_file(tmp_path):
    path = tmp_path / "answer.txt"
    path.write_text(SEED_ROC, encoding="utf-8")
    return path


def test_list_prints_every_id_and_title(runner):
    result = runner.invoke(main, ["theory", "list"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert [line.split()[0] for line in lines] == [
        "feasibility",
        "class-imbalance",
        "training-stages",
        "training-speed",
        "evaluation-metrics",
    ]
    assert "Handling class imbalance" in result.output


def test_list_in_chinese(runner):
    result = runner.invoke(main, ["theory", "list", "--lang", "zh"])
    assert result.exit_code == 0
    assert "如何处理类别不平衡" in result.output


def test_score_prints_evidence_and_no_score(runner, answer_file):
    result = runner.invoke(main, ["theory", "score", "evaluation-metrics", str(answer_file)])
    assert result.exit_code == 0, result.output
    output = result.output
    assert output.startswith("evaluation-metrics: evidence for a reviewer, not a score")
    assert " / 10" not in output and "credit" not in output
    assert "mentioned:\n  * F1 as the harmonic mean" in output
    assert "not mentioned as a claim:\n" in output
    assert "ROC: true positive rate against false positive rate" in output
    assert "possible misconceptions (check):\n  ? ROC described as precision against recall" in (
        output
    )
    assert "why it would be wrong: The ROC curve plots the true positive rate" in output


def test_score_json_has_the_documented_keys(runner, answer_file):
    args = ["theory", "score", "evaluation-metrics", str(answer_file), "--json"]
    result = runner.invoke(main, args)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert {"suggested_score", "max_score", "matched", "missed", "misconceptions"} <= data.keys()
    # The key stays so that tools can tell: there is no automatic score.
    assert data["suggested_score"] is None and data["max_score"] == 10
    assert "score" not in data and "fraction" not in data
    assert [hit["id"] for hit in data["misconceptions"]] == ["roc-precision-recall"]
    assert data["matched"][0]["span"]["text"] == "调和平均"


def test_score_reads_stdin_when_file_is_a_dash(runner):
    text = "Use class weights in the loss and move the decision threshold on validation data."
    result = runner.invoke(main, ["theory", "score", "class-imbalance", "-", "--json"], input=text)
    assert result.exit_code == 0, result.output
    matched = [point["id"] for point in json.loads(result.stdout)["matched"]]
    assert matched == ["class-weights", "threshold-moving"]


def test_score_reports_flags_with_their_reason(runner):
    text = "oversampling, SMOTE, class weights, focal loss, PR-AUC"
    result = runner.invoke(main, ["theory", "score", "class-imbalance", "-"], input=text)
    assert result.exit_code == 0
    assert "keyword_stuffing: " in result.output
    assert "(only in a list of terms)" in result.output


def test_an_empty_answer_is_a_result_not_an_error(runner):
    result = runner.invoke(main, ["theory", "score", "feasibility", "-", "--json"], input="")
    assert result.exit_code == 0
    assert json.loads(result.stdout)["flags"] == ["empty"]


def test_an_unknown_question_is_one_line_and_exit_code_two(runner, answer_file):
    result = runner.invoke(main, ["theory", "score", "no-such-question", str(answer_file)])
    assert result.exit_code == 2
    assert "error: no theory question 'no-such-question'" in result.output
    assert "Traceback" not in result.output


def test_a_missing_file_is_a_usage_error(runner, tmp_path):
    result = runner.invoke(main, ["theory", "score", "feasibility", str(tmp_path / "absent")])
    assert result.exit_code == 2
    assert "Invalid value for 'FILE'" in result.output


def test_a_file_that_is_not_utf8_is_a_usage_error(runner, tmp_path):
    path = tmp_path / "answer.txt"
    path.write_bytes("类别不平衡".encode("gbk"))
    result = runner.invoke(main, ["theory", "score", "class-imbalance", str(path)])
    assert result.exit_code == 2
    assert "not UTF-8 text" in result.output


def test_an_invalid_bank_is_reported_by_file(runner, tmp_path, monkeypatch):
    (tmp_path / "theory").mkdir()
    (tmp_path / "theory" / "broken.toml").write_text('id = "broken"\n', encoding="utf-8")
    monkeypatch.setenv("ASSAY_CHALLENGES_DIR", str(tmp_path))
    result = runner.invoke(main, ["theory", "list"])
    assert result.exit_code != 0
    assert "broken.toml" in result.output and "Field required" in result.output
    assert "Traceback" not in result.output


# -- advisory output and `assay theory check` --------------------------------------------------


def test_score_says_there_is_no_score_in_text_and_json(runner, answer_file):
    text = runner.invoke(main, ["theory", "score", "evaluation-metrics", str(answer_file)])
    assert text.output.splitlines()[1].startswith("suggested_score: none")
    args = ["theory", "score", "evaluation-metrics", str(answer_file), "--json"]
    assert json.loads(runner.invoke(main, args).stdout)["suggested_score"] is None


def test_a_stuffing_flag_says_what_was_found_not_a_cap(runner):
    text = "oversampling, SMOTE, class weights, focal loss, PR-AUC"
    args = ["theory", "score", "class-imbalance", "-", "--json"]
    data = json.loads(runner.invoke(main, args, input=text).stdout)
    assert data["flags"] == ["keyword_stuffing"]
    assert "only in lists of terms" in data["notes"][0] and "capped" not in data["notes"][0]


def test_score_shows_where_a_negated_point_was_found(runner):
    text = "ROC is not the true positive rate against the false positive rate."
    result = runner.invoke(main, ["theory", "score", "evaluation-metrics", "-"], input=text)
    assert result.exit_code == 0, result.output
    assert "negated: “true positive rate against the false positive rate” [15:65], cue “not”" in (
        result.output
    )


def test_check_scores_the_shipped_labelled_sets_and_passes(runner):
    result = runner.invoke(main, ["theory", "check"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "agreement per question:"
    assert any(line.split()[0] == "class-imbalance" for line in lines[1:6])
    assert "overall: 99.3% of 145 answers agree (threshold 90%: ok)" in result.output
    # The one known failure of the adversarial set, kept in it on purpose (see its header).
    assert "disagreements (1):\n  theory_adversarial.toml: adv-stages-order-en" in result.output
    assert "advisory: true" in result.output


LABELLED = """
[[answers]]
id = "right"
question = "evaluation-metrics"
band = [0.0, 0.35]
misconceptions = ["roc-precision-recall"]
text = "The ROC curve shows precision and recall, which is not hard to compute."

[[answers]]
id = "mislabelled"
question = "evaluation-metrics"
band = [0.5, 1.0]
misconceptions = ["accuracy-alone"]
text = "F1 is the harmonic mean of precision and recall."
"""


def test_check_prints_every_disagreement_and_fails_below_the_threshold(runner, tmp_path):
    path = tmp_path / "labelled.toml"
    path.write_text(LABELLED, encoding="utf-8")
    result = runner.invoke(main, ["theory", "check", str(path)])
    assert result.exit_code == 1
    assert "evaluation-metrics    1 / 2     50.0%" in result.output
    assert (
        "labelled.toml: mislabelled [evaluation-metrics]: score 0.10 (band 0.5-1); "
        "misconception not flagged: accuracy-alone"
    ) in result.output
    assert "(threshold 90%: below it)" in result.output
    lenient = runner.invoke(main, ["theory", "check", str(path), "--min-agreement", "0.5"])
    assert lenient.exit_code == 0


def test_check_json_lists_agreement_and_disagreements(runner, tmp_path):
    path = tmp_path / "labelled.toml"
    path.write_text(LABELLED, encoding="utf-8")
    result = runner.invoke(main, ["theory", "check", str(path), "--json"])
    data = json.loads(result.stdout)
    assert data["advisory"] is True and data["agreement"] == 0.5
    assert data["per_question"]["evaluation-metrics"] == {
        "agree": 1,
        "answers": 2,
        "agreement": 0.5,
    }
    assert [item["id"] for item in data["disagreements"]] == ["mislabelled"]


def test_check_reports_a_malformed_file_as_one_line(runner, tmp_path):
    path = tmp_path / "labelled.toml"
    path.write_text('[[answers]]\nid = "x"\n', encoding="utf-8")
    result = runner.invoke(main, ["theory", "check", str(path)])
    assert result.exit_code != 0
    assert "answers[0]: missing question, band, text" in result.output
    assert "Traceback" not in result.output
