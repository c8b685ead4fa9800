"""The dry run (``assay check``) in each real backend: every example, reference, starter and
known contract error gets its own class, step and a message that says what to fix."""

from __future__ import annotations

import glob
import threading
from pathlib import Path

import pytest

from graders.contract import STEPS, explain
from graders.dryrun import dry_run
from tests.grading.dry_run_cases import CASES

pytestmark = pytest.mark.slow


def test_every_example_of_every_challenge_has_a_case():
    examples = set(glob.glob("challenges/*/examples/*.py"))
    assert examples <= {case[0] for case in CASES}


@pytest.mark.parametrize(
    ("path", "slug", "code", "step", "words"), CASES, ids=[Path(c[0]).stem for c in CASES]
)
def test_dry_run_names_the_class_the_step_and_the_fix(
    sandbox, prepared_data, path, slug, code, step, words
):
    steps_seen = []
    lock = threading.Lock()

    def progress(event):
        if event.get("event") == "step":
            with lock:
                steps_seen.append(event["step"])

    result = dry_run(
        challenge=slug,
        source=Path(path).read_bytes(),
        filename=Path(path).name,
        sandbox=sandbox,
        progress=progress,
    )
    outcome = result.outcome
    assert outcome.code == code, (outcome.code, outcome.message, result.log_tail[-2000:])
    assert [s.name for s in outcome.steps] == list(STEPS)
    if not code:
        assert all(s.status == "ok" for s in outcome.steps)
        assert steps_seen == list(STEPS[:6])  # streamed as each passed
        return
    assert outcome.failed_step == step
    failed_at = STEPS.index(step)
    assert [s.status for s in outcome.steps] == (
        ["ok"] * failed_at + ["failed"] + ["skipped"] * (len(STEPS) - failed_at - 1)
    )
    text = explain(code, outcome.message, "en")
    assert words in text, text
    assert explain(code, outcome.message, "zh") != text  # the catalogue's Chinese words


def test_a_dry_run_stops_a_long_fit_after_its_first_step(bwrap_only, prepared_data):
    path = Path("tests/data/contract/long_training.py")
    result = dry_run(
        challenge="lenet5-mnist",
        source=path.read_bytes(),
        filename=path.name,
        sandbox=bwrap_only,
    )
    assert result.passed
    assert result.wall_seconds < 60  # 500 epochs of 48 single-example batches would not be
