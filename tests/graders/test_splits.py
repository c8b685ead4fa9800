"""Issue 19, finding 1: the sample tiers' test split is drawn with a secret seed per
assessment (graders/splits.py), so it cannot be rebuilt from the public files.

Drawn from the real prepared tiers; the grading service's part is checked with submissions
it refuses before a sandbox starts (the report still names the split it drew).
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from graders import splits
from graders.cli import main
from graders.datasets import open_dataset
from graders.pipeline import GradeOptions
from graders.service import grade_submission

BROKEN = b"def build_model(:\n    pass\n"


def _rows(dataset, split: str) -> set:
    x = dataset.load_x(split)
    return {v if x.dtype == object else v.tobytes() for v in x}


@pytest.mark.parametrize("name", ["mnist", "reviews"])
def test_two_secrets_draw_two_splits_and_one_secret_always_the_same(prepared_data, name, tmp_path):
    base = open_dataset(name, "sample")
    a = splits.for_grading(base, "assessment-a")
    b = splits.for_grading(base, "assessment-b")
    assert a.identity != b.identity
    assert _rows(a, "test") != _rows(b, "test")
    assert splits.for_grading(base, "assessment-a") is a  # drawn once per process
    # The same secret in another process draws the same rows.
    again = splits.draw(base, splits.seed_from_secret("assessment-a"), tmp_path / "again")
    assert again.identity == a.identity
    assert _rows(again, "test") == _rows(a, "test")
    assert np.array_equal(again.load_y("test"), a.load_y("test"))


@pytest.mark.parametrize("name", ["mnist", "reviews"])
def test_a_drawn_split_keeps_the_sizes_the_classes_and_no_leak(prepared_data, name):
    base = open_dataset(name, "sample")
    drawn = splits.for_grading(base, "sizes")
    assert drawn.splits["test"] == base.splits["test"]
    train, test = _rows(drawn, "train"), _rows(drawn, "test")
    assert not train & test  # no input on both sides
    assert train | test == _rows(base, "train") | _rows(base, "test")  # the whole pool
    base_share = np.bincount(base.load_y("test")) / base.splits["test"]
    drawn_share = np.bincount(drawn.load_y("test")) / drawn.splits["test"]
    assert np.abs(base_share - drawn_share).max() < 0.01  # stratified
    # The prepared files are untouched and still verify; the checksum names them.
    assert drawn.checksum == base.checksum
    open_dataset(name, "sample")
    if "ood" in base.splits:
        assert drawn.x_path("ood") == base.x_path("ood")


def test_the_secret_counts_whole_and_test_labels_stay_unreadable_to_others(prepared_data):
    assert splits.seed_from_secret("a") != splits.seed_from_secret("b")
    assert splits.seed_from_secret("a").bit_length() > 100
    assert len(splits.new_secret()) == 32 and splits.new_secret() != splits.new_secret()
    drawn = splits.for_grading(open_dataset("mnist", "sample"), "modes")
    assert drawn.y_path("test").stat().st_mode & 0o077 == 0
    assert drawn.x_path("train").stat().st_mode & 0o222 == 0  # read-only, linked into jobs


def test_official_splits_stay_as_published(prepared_data, tmp_path):
    from graders.dataset_build import Tier, write_tier

    rng = np.random.default_rng(0)
    x = rng.integers(0, 255, (40, 28, 28), dtype=np.uint8)
    y = np.arange(40) % 10
    full = write_tier(
        Tier("mnist", "full", "test", {"train": (x[:30], y[:30]), "test": (x[30:], y[30:])}),
        tmp_path,
    )
    assert splits.for_grading(full, "whatever") is full
    assert splits.split_record(full) == {"kind": "official"}


def _graded(secret: str | None):
    return grade_submission(
        challenge="lenet5-mnist",
        source=BROKEN,
        filename="solution.py",
        sandbox="bwrap",
        options=GradeOptions(split_seed=secret),
    )


def test_the_report_names_the_split_and_never_the_secret(prepared_data):
    first, second, other = _graded("s3cret-one"), _graded("s3cret-one"), _graded("s3cret-two")
    assert first.error.code == "syntax_error"
    assert first.split["kind"] == "secret"
    assert first.split == second.split != other.split
    assert "s3cret-one" not in first.to_json()
    # Without a secret, every grading draws a fresh one.
    assert _graded(None).split != _graded(None).split


def test_assay_grade_split_seed_is_reproducible(prepared_data, tmp_path):
    path = tmp_path / "solution.py"
    path.write_bytes(BROKEN)

    def grade(*extra: str) -> dict:
        out = tmp_path / f"r{len(list(tmp_path.iterdir()))}.json"
        args = ["grade", str(path), "--challenge", "lenet5-mnist", "--sandbox", "bwrap"]
        result = CliRunner().invoke(main, [*args, "--json", str(out), *extra])
        assert result.exit_code == 2, result.output  # the submission failed (syntax error)
        assert "operator-42" not in result.output
        return json.loads(out.read_text())

    seeded = [grade("--split-seed", "operator-42") for _ in range(2)]
    assert seeded[0]["split"] == seeded[1]["split"]
    assert "operator-42" not in json.dumps(seeded)
    assert grade()["split"] != grade()["split"] != seeded[0]["split"]
