"""Issue 19, finding 1, end to end: the 9.5 KB thumbnail replay of the sample test split.

On the fixed split it was built from (the prepared tier as published, graded by the
pipeline directly) it still scores 1.000, and it is now flagged for review; through the
grading service the split is drawn with a secret seed, and the same file no longer scores
1.000 and does not pass. Both backends.
"""

from __future__ import annotations

import pytest

from graders.datasets import open_dataset
from graders.pipeline import GradeOptions
from graders.service import grade_submission
from graders.verdicts import of_report
from tests.graders.test_embedded_data import corpus, filled_replay

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def replay(prepared_data, tmp_path_factory):
    dataset = open_dataset("mnist", "sample")
    payload = corpus.thumbnails(dataset.load_x("test"), dataset.load_y("test"))
    return filled_replay(payload, tmp_path_factory.mktemp("replay"))


def test_the_replay_is_small_and_on_its_own_split_scores_one_but_is_flagged(grade_with, replay):
    assert replay.stat().st_size < 12_000  # the 9.5 KB class of file
    report = grade_with(replay, train_limit=200)
    assert report.status == "graded", report.error
    assert report.test.value("accuracy") == 1.0
    # 60,000 weights; the budget also counts the few numbers its config carries (issue 19).
    assert report.reproducibility["weights"] == 60_000
    count = report.reproducibility["param_count"]
    assert count == 60_000 + report.reproducibility["config_numbers"], count
    outcome = of_report(report)
    assert outcome.key == "passed_flagged" and "embedded_data" in outcome.reasons
    assert report.split == {"kind": "official"} or report.split == {}


def test_on_a_secret_split_the_replay_no_longer_scores_one(sandbox, replay):
    report = grade_submission(
        challenge="lenet5-mnist",
        source=replay.read_bytes(),
        filename="solution.py",
        sandbox=sandbox,
        options=GradeOptions(train_limit=200, split_seed="an assessment's secret"),
    )
    assert report.status == "graded", report.error
    assert report.split["kind"] == "secret"
    accuracy = report.test.value("accuracy")
    assert accuracy < 0.93, accuracy  # below the sample bar: only its own rows are known
    assert not report.passed
    assert any(f["kind"] == "embedded_data" for f in report.flags)
