"""The layers against replayed test labels that need no sandbox: the shadow copy, the
model budget, the source signals, the contract's `predict` key and the report's fields."""

from __future__ import annotations

import numpy as np
import pytest

from graders.challenges import ChallengeSpec, get_challenge
from graders.report import Report
from graders.report_text import render_text
from graders.scoring import budget_checks, verdict
from graders.shadow import Disguise, disguise, gap_check, perturb
from graders.signals import source_flags
from sandbox.harness import custom_objects

LENET = get_challenge("lenet5-mnist")


def make_spec(**overrides) -> ChallengeSpec:
    """A valid 3-class spec; top-level keys of ``overrides`` replace the defaults."""
    data = {
        "slug": "tiny",
        "title": "Tiny",
        "dataset": {
            "name": "mnist",
            "default_tier": "sample",
            "input_kind": "image",
            "input_dtype": "uint8",
            "num_classes": 3,
            "class_names": ["a", "b", "c"],
        },
        "fit": {"loss": "sparse_categorical_crossentropy", "epochs": 1, "batch_size": 8},
        "metrics": ["accuracy", "error_rate", "f1_macro"],
        "primary_metric": "accuracy",
        "thresholds": {"sample": {"accuracy": 0.5, "f1_macro": 0.3}},
    }
    return ChallengeSpec.model_validate({**data, **overrides})


# -- the shadow copy -----------------------------------------------------------------------------


def digits(n: int = 20) -> np.ndarray:
    rng = np.random.default_rng(0)
    images = np.zeros((n, 28, 28), dtype=np.uint8)
    images[:, 8:20, 10:18] = rng.integers(100, 256, size=(n, 12, 8))
    return images


def test_shadow_images_change_every_image_a_little_and_keep_the_dtype():
    x = digits()
    shadow = perturb(x, "image", seed=7)
    assert shadow.shape == x.shape and shadow.dtype == np.uint8
    changed = [not np.array_equal(a, b) for a, b in zip(x, shadow, strict=True)]
    assert all(changed)
    # Small: the ink moves by about a pixel, it does not vanish or spread.
    assert abs(int(shadow.sum()) - int(x.sum())) < 0.15 * int(x.sum())


def test_shadow_is_drawn_from_the_seed():
    x = digits()
    assert np.array_equal(perturb(x, "image", 3), perturb(x, "image", 3))
    assert not np.array_equal(perturb(x, "image", 3), perturb(x, "image", 4))


def test_shadow_texts_swap_neutral_words_and_never_return_a_review_unchanged():
    x = np.array(
        ["This movie has a great story and a fine cast of actors", "Awful.", "bad bad bad"],
        dtype=object,
    )
    shadow = perturb(x, "text", seed=1)
    assert all(a != b for a, b in zip(x, shadow, strict=True))
    assert "film" in shadow[0] or "plot" in shadow[0] or "performers" in shadow[0]
    assert shadow[0].startswith("This")


def test_disguise_hides_the_row_order_and_restores_it():
    rng = np.random.default_rng(5)
    hidden = disguise(50, rng)
    assert hidden.name.startswith("set_") and hidden.name not in ("test", "shadow")
    x = np.arange(50)
    assert not np.array_equal(x[hidden.order], x)
    assert np.array_equal(hidden.restore(x[hidden.order] * 10), x * 10)
    # A prediction of the wrong length is left as it is, for validation to reject.
    short = np.zeros(3)
    assert hidden.restore(short) is short
    assert Disguise("set_x", np.arange(2)).restore([1, 2]) == [1, 2]


@pytest.mark.parametrize(
    ("test", "shadow", "flagged"), [(0.97, 0.94, False), (1.0, 0.11, True), (0.9, None, False)]
)
def test_gap_check_flags_only_a_gap_beyond_the_limit(test, shadow, flagged):
    result = gap_check("accuracy", test, shadow, max_gap=0.15)
    assert result["flagged"] is flagged
    assert result["max_gap"] == 0.15


# -- the model budget --------------------------------------------------------------------------


def test_budget_checks_report_the_margin_and_fail_the_verdict_when_over():
    spec = make_spec(budget={"max_params": 1000, "max_model_kb": 50})
    checks = budget_checks(spec, {"param_count": 1200, "model_kb": 20})
    assert [(c.metric, c.met, c.margin) for c in checks] == [
        ("param_count", False, -200),
        ("model_kb", True, 30),
    ]
    over = verdict(spec, "sample", {"accuracy": 0.9, "f1_macro": 0.9}, {"param_count": 1200})
    assert not over.passed
    within = verdict(spec, "sample", {"accuracy": 0.9, "f1_macro": 0.9}, {"param_count": 999})
    assert within.passed


def test_no_budget_and_unmeasured_figures_add_no_check():
    assert budget_checks(make_spec(), {"param_count": 10**9}) == []
    spec = make_spec(budget={"max_params": 1000})
    assert budget_checks(spec, {}) == []


def test_launch_challenges_budgets_leave_room_above_their_references():
    # Measured: LeNet-5 61,706 parameters / 765 KiB; the BiLSTM reference 176,705 / 2,194 KiB.
    lenet = LENET.spec.budget
    assert lenet.max_params >= 4 * 61_706 and lenet.max_params < 784 * 1000
    bilstm = get_challenge("sentiment-bilstm").spec.budget
    assert bilstm.max_params > 1_346_177  # the under-trained example fails on its score


# -- the contract ------------------------------------------------------------------------------


def test_the_platform_predicts_by_default_and_in_both_launch_challenges():
    assert make_spec().contract.predict == "platform"
    assert LENET.spec.contract.predict == "platform"
    assert get_challenge("sentiment-bilstm").spec.contract.predict == "platform"


def test_a_candidate_predict_hook_needs_predict_candidate():
    with pytest.raises(ValueError, match="contract.predict is"):
        make_spec(contract={"optional": ["train", "predict"]})
    spec = make_spec(contract={"optional": ["train", "predict"], "predict": "candidate"})
    assert spec.contract.predict == "candidate"


def test_a_private_tier_keeps_its_base_tiers_bars_and_limits():
    spec = LENET.spec
    assert spec.bars("full-private") == spec.bars("full")
    assert spec.limits_for("sample-private") == spec.limits_for("sample")


# -- what the saved model needs ----------------------------------------------------------------


def test_custom_objects_finds_custom_classes_functions_and_lambdas():
    config = {
        "module": "keras",
        "class_name": "Functional",
        "config": {
            "layers": [
                {"module": "keras.layers", "class_name": "Dense", "config": {}},
                {"module": "keras.layers", "class_name": "Lambda", "config": {"function": {}}},
                {
                    "module": None,
                    "class_name": "Lookup",
                    "config": {},
                    "registered_name": "replay>Lookup",
                },
                {
                    "module": "keras.layers",
                    "class_name": "TextVectorization",
                    "config": {
                        "standardize": {
                            "module": "builtins",
                            "class_name": "function",
                            "config": "standardize_review",
                            "registered_name": "sentiment_bilstm>standardize_review",
                        }
                    },
                },
            ]
        },
    }
    assert sorted(custom_objects(config)) == [
        "a Lambda layer",
        "replay>Lookup",
        "sentiment_bilstm>standardize_review",
    ]
    standard = {"module": "keras.layers", "class_name": "Dense", "config": {"units": 3}}
    assert custom_objects(standard) == []


# -- source signals ----------------------------------------------------------------------------


def test_source_signals_flag_hashing_embedded_data_and_size(tmp_path):
    import base64
    import random

    blob = base64.b64encode(random.Random(1).randbytes(3000)).decode()
    chunks = ",\n".join(repr(blob[i : i + 50]) for i in range(0, len(blob), 50))
    path = tmp_path / "s.py"
    path.write_text(
        f"import hashlib, base64\nB = [{chunks}]\nX = base64.b64decode(''.join(B))\n"
        "def predict(m, x):\n    return hash(x.tobytes())\n" + "# padding\n" * 3000
    )
    flags = source_flags(path)
    messages = " | ".join(f["message"] for f in flags)
    assert "hashlib" in messages
    assert "embedded data: 4,000 characters" in messages and "encoded as base64" in messages
    assert "calls base64.b64decode()" in messages
    assert "calls hash()" in messages and "calls tobytes()" in messages
    assert "KB" in messages
    assert {f["kind"] for f in flags} == {"source", "embedded_data"}


def test_references_raise_no_source_signal():
    for slug in ("lenet5-mnist", "sentiment-bilstm"):
        challenge = get_challenge(slug)
        assert source_flags(challenge.path(challenge.spec.reference)) == []


# -- the report --------------------------------------------------------------------------------


def test_report_says_public_labels_shows_the_shadow_and_flags_and_round_trips():
    report = Report("c", "T", "mnist", "sample", "graded")
    report.shadow = {**gap_check("accuracy", 1.0, 0.1, 0.15), "changes": "shifted"}
    report.flags = [{"kind": "source", "message": "imports hashlib (hashing)", "line": 1}]
    text = render_text(report)
    assert "test labels: PUBLIC" in text
    assert "shadow test: FLAGGED" in text and "gap +0.9000" in text
    assert "[source] line 1: imports hashlib" in text
    assert Report.from_dict(report.to_dict()) == report
    report.test_labels = "private"
    assert "test labels: private" in render_text(report)


def test_a_phase_without_candidate_code_gets_no_submission_file(tmp_path):
    from graders.phases import input_dir

    submission = tmp_path / "solution.py"
    submission.write_text("LABELS = {}\n")
    folder, path = input_dir(tmp_path, "predict", None)
    assert path is None
    assert sorted(p.name for p in folder.iterdir()) == ["harness.py"]
    folder, path = input_dir(tmp_path, "train", submission)
    assert path == "/job/solution.py" and (folder / "solution.py").exists()


def test_the_job_tells_the_harness_who_predicts():
    from graders.phases import job_spec

    assert job_spec(LENET)["predict"] == "platform"


def test_repeated_runs_keep_the_budget_checks_and_the_largest_model(tmp_path):
    from types import SimpleNamespace

    from graders.pipeline import _combine
    from graders.report import MetricValue, SetScore

    def run(accuracy: float, params: int) -> Report:
        report = Report("lenet5-mnist", "T", "mnist", "sample", "graded")
        report.test = SetScore("test", 10, [MetricValue("accuracy", "Accuracy", accuracy)])
        report.reproducibility = {"param_count": params, "model_kb": 700}
        return report

    reports = [run(0.95, 61_706), run(0.97, 400_000)]
    _combine(LENET, SimpleNamespace(tier="sample"), reports[0], reports)
    checks = {c.metric: c for c in reports[0].verdict.checks}
    assert checks["accuracy"].met and checks["model_kb"].met
    assert checks["param_count"].value == 400_000 and not checks["param_count"].met
    assert not reports[0].verdict.passed and not reports[0].verdict.borderline
