"""Submissions that replay the public test labels instead of training (issue 12).

Each is filled with the real labels of the sample tier's test split, as a candidate could
compute them from the public file, and must end below the bar, over the model budget or
flagged for the reviewer. Graded in one backend on small slices: what is tested is the
platform's predict phase, the budget and the shadow test, not the sandbox.
"""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

import numpy as np
import pytest

from graders.challenges import get_challenge
from graders.datasets import open_dataset

from .conftest import HOSTILE, candidate_predicts

pytestmark = pytest.mark.slow

LENET = get_challenge("lenet5-mnist")
SMALL = {"train_limit": 200, "test_limit": 200}


def filled(name: str, tmp_path: Path, **values) -> Path:
    """The hostile file ``name`` with its ``NAME = None`` placeholders set to ``values``."""
    text = (HOSTILE / name).read_text(encoding="utf-8")
    for key, value in values.items():
        placeholder = f"{key} = None"
        assert placeholder in text, key
        text = text.replace(placeholder, f"{key} = {value!r}", 1)
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def public_test(prepared_data):
    """The sample tier's test images (uint8) and labels: what a candidate can know."""
    dataset = open_dataset("mnist", "sample")
    return dataset.load_x("test"), dataset.load_y("test")


def hash_table(images: np.ndarray, labels: np.ndarray) -> dict[str, int]:
    return {
        hashlib.sha1(img.tobytes()).hexdigest(): int(y)
        for img, y in zip(images, labels, strict=True)
    }


def test_lookup_in_predict_is_never_called_where_the_platform_predicts(
    grade_once, public_test, tmp_path
):
    path = filled("replay_in_predict.py", tmp_path, LABELS=hash_table(*public_test))
    report = grade_once(path, **SMALL)

    assert report.status == "graded", report.error
    assert not report.passed
    assert report.test.value("accuracy") < 0.5  # the untrained model, not the lookup
    assert any("predict() is not called" in w for w in report.warnings)
    messages = [f["message"] for f in report.flags if f["kind"] == "source"]
    assert any("hashlib" in m for m in messages), report.flags
    assert any("calls sha1()" in m or "calls tobytes()" in m for m in messages)
    assert report.test_labels == "public"


def test_lookup_in_predict_is_flagged_by_the_shadow_where_the_candidate_predicts(
    grade_once, public_test, tmp_path
):
    path = filled("replay_in_predict.py", tmp_path, LABELS=hash_table(*public_test))
    report = grade_once(path, candidate_predicts(LENET), **SMALL)

    assert report.status == "graded", report.error
    assert report.test.value("accuracy") == 1.0  # the lookup works on the public inputs...
    shadow = report.shadow
    assert shadow["flagged"] and shadow["shadow"] < 0.5, shadow  # ...and on nothing else
    assert any(f["kind"] == "shadow" for f in report.flags)


def test_lookup_in_a_custom_layer_cannot_be_loaded_by_the_platform(
    grade_once, public_test, tmp_path
):
    images, labels = public_test
    weights = ((np.arange(784) * 2654435761) % 1000 / 1000).astype("float32")  # as in the file
    signatures = (images.reshape(len(images), 784).astype("float32") @ weights).tolist()
    path = filled("replay_custom_layer.py", tmp_path, SIGNATURES=signatures, LABELS=labels.tolist())
    report = grade_once(path, **SMALL)

    assert report.status == "failed"
    assert (report.error.code, report.error.phase) == ("unsafe_model", "predict"), report.error
    assert "replay>Lookup" in report.error.message


def test_lookup_in_a_dense_layer_is_over_the_model_budget(grade_once, public_test, tmp_path):
    images, labels = public_test
    blob = base64.b64encode(images.astype(np.uint8).tobytes()).decode()
    path = filled("replay_dense_layer.py", tmp_path, IMAGES=blob, LABELS=labels.tolist())
    report = grade_once(path, **SMALL)

    assert report.status == "graded", report.error
    assert report.test.value("accuracy") > 0.95  # the lookup works...
    assert not report.passed  # ...and does not fit the budget
    params = next(c for c in report.verdict.checks if c.metric == "param_count")
    assert not params.met and params.value > 784 * 1000 and params.margin < 0
    assert any("base64" in f["message"] for f in report.flags), report.flags


def test_a_grading_on_an_operators_own_test_set_says_its_labels_are_private(
    grade_once, public_test, tmp_path, monkeypatch
):
    import shutil

    from graders.dataset_build import import_test_set
    from graders.paths import data_dir

    root = tmp_path / "data"
    shutil.copytree(data_dir() / "mnist" / "sample", root / "mnist" / "sample")
    images, labels = public_test
    table = np.column_stack([labels[:150], images[:150].reshape(150, 784)])
    csv = tmp_path / "mine.csv"
    np.savetxt(csv, table, fmt="%d", delimiter=",")
    import_test_set("mnist", csv, "sample", root)
    monkeypatch.setenv("ASSAY_DATA_DIR", str(root))

    report = grade_once(
        LENET.path(LENET.spec.starter), tier="sample-private", train_limit=300, test_limit=100
    )

    assert report.status == "graded", report.error
    assert (report.tier, report.test_labels, report.test.n) == ("sample-private", "private", 100)
    assert [c.bar for c in report.verdict.checks][0] == LENET.spec.bars("sample")["accuracy"]
