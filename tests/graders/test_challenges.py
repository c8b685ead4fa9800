"""challenge.toml: the real specs, validation errors, the registry and the documented schema."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner
from pydantic import BaseModel

from graders.challenges import (
    ChallengeSpec,
    all_challenges,
    get_challenge,
    load_challenge,
    schema_rows,
)
from graders.cli import main
from graders.datasets import open_dataset
from graders.errors import ChallengeSpecError, UnknownChallengeError
from graders.paths import REPO_ROOT

VALID_TOML = """\
slug = "tiny-digits"
title = "Tiny digits"
metrics = ["accuracy", "error_rate"]
primary_metric = "accuracy"

[dataset]
name = "mnist"
default_tier = "sample"
input_kind = "image"
input_shape = [28, 28, 1]
input_dtype = "float32"
num_classes = 3
class_names = ["0", "1", "2"]

[fit]
loss = "sparse_categorical_crossentropy"
epochs = 1
batch_size = 32

[thresholds.sample]
accuracy = 0.5
"""

FIT_TABLE = """\
[fit]
loss = "sparse_categorical_crossentropy"
epochs = 1
batch_size = 32
"""


def make_challenge(root: Path, text: str = VALID_TOML, folder: str = "tiny-digits") -> Path:
    """A challenge folder under ``root`` holding ``text`` as its challenge.toml."""
    path = root / folder
    path.mkdir(parents=True)
    (path / "challenge.toml").write_text(text, encoding="utf-8")
    return path


# -- the real specs ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("slug", "dataset", "num_classes", "primary", "bars"),
    [
        (
            "lenet5-mnist",
            "mnist",
            10,
            "accuracy",
            {"sample": {"accuracy": 0.93}, "full": {"accuracy": 0.98}},
        ),
        (
            "sentiment-bilstm",
            "reviews",
            2,
            "f1",
            {"sample": {"roc_auc": 0.75}, "full": {"f1": 0.85}},
        ),
    ],
)
def test_real_spec_loads(slug, dataset, num_classes, primary, bars):
    challenge = get_challenge(slug)
    spec = challenge.spec

    assert challenge.slug == slug
    assert challenge.folder == REPO_ROOT / "challenges" / slug
    assert spec.dataset.name == dataset
    assert spec.dataset.num_classes == num_classes == len(spec.dataset.class_names)
    assert spec.primary_metric == primary
    assert spec.thresholds == bars
    assert spec.bars("full") == bars["full"]
    assert challenge.path(spec.reference).is_file()


def test_real_registry_has_both_challenges():
    assert sorted(all_challenges()) == ["lenet5-mnist", "sentiment-bilstm"]


@pytest.mark.parametrize("slug", ["lenet5-mnist", "sentiment-bilstm"])
def test_real_spec_default_tier_is_prepared_with_its_classes(prepared_data, slug):
    spec = get_challenge(slug).spec

    ds = open_dataset(spec.dataset.name, spec.dataset.default_tier)

    assert len(ds.manifest["class_counts"]["test"]) == spec.dataset.num_classes
    assert set(spec.dataset.extra_sets) <= set(ds.splits)


def test_cli_challenges_list():
    result = CliRunner().invoke(main, ["challenges", "list"])

    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("lenet5-mnist")
    assert "LeNet-5 handwritten digit classifier" in lines[0]
    assert "[sample: accuracy 0.93; full: accuracy 0.98]" in lines[0]
    assert lines[1].startswith("sentiment-bilstm")
    assert "[sample: roc_auc 0.75; full: f1 0.85]" in lines[1]


# -- validation ----------------------------------------------------------------------------------


def test_valid_spec_loads_with_defaults(tmp_path):
    challenge = load_challenge(make_challenge(tmp_path))

    assert challenge.spec.contract.required == ["build_model"]
    assert challenge.spec.fit.optimizer == "adam"
    assert challenge.spec.limits.train_seconds == 900
    assert challenge.spec.dataset.extra_sets == []


INVALID_SPECS = [
    # (id, text replaced, replacement, fragments the message must hold besides the file path)
    (
        "missing key",
        'loss = "sparse_categorical_crossentropy"\n',
        "",
        ["fit.loss", "Field required"],
    ),
    ("missing table", FIT_TABLE, "", ["fit:", "Field required"]),
    (
        "unknown top-level key",
        'title = "Tiny digits"',
        'title = "Tiny digits"\ncolour = "red"',
        ["colour", "Extra inputs are not permitted"],
    ),
    (
        "unknown nested key",
        "epochs = 1",
        "epochs = 1\nepoch = 2",
        ["fit.epoch:", "Extra inputs are not permitted"],
    ),
    ("wrong type (int)", "epochs = 1", 'epochs = "one"', ["fit.epochs", "valid integer"]),
    (
        "wrong type (list)",
        'class_names = ["0", "1", "2"]',
        'class_names = "012"',
        ["dataset.class_names", "valid list"],
    ),
    (
        "below minimum",
        "batch_size = 32",
        "batch_size = 0",
        ["fit.batch_size", "greater than or equal to 1"],
    ),
    (
        "unknown dataset",
        'name = "mnist"',
        'name = "cifar"',
        ["dataset.name", "'mnist' or 'reviews'"],
    ),
    ("bad slug pattern", 'slug = "tiny-digits"', 'slug = "Tiny Digits"', ["slug", "pattern"]),
    (
        "unknown metric in metrics",
        '"error_rate"]',
        '"top5"]',
        ["unknown metric", "metrics: 'top5'"],
    ),
    (
        "unknown primary metric",
        'primary_metric = "accuracy"',
        'primary_metric = "auc"',
        ["unknown metric", "primary_metric: 'auc'"],
    ),
    (
        "unknown metric in bars",
        "accuracy = 0.5",
        "top5 = 0.5",
        ["unknown metric", "thresholds.sample: 'top5'"],
    ),
    (
        "bar on unreported metric",
        "accuracy = 0.5",
        "accuracy = 0.5\nf1_macro = 0.5",
        ["thresholds.sample: 'f1_macro'", "not listed in metrics"],
    ),
    (
        "class_names length mismatch",
        'class_names = ["0", "1", "2"]',
        'class_names = ["0", "1"]',
        ["dataset:", "class_names has 2 names for 3 classes"],
    ),
    (
        "default tier without thresholds",
        'default_tier = "sample"',
        'default_tier = "full"',
        ["dataset.default_tier 'full'", "no [thresholds] table"],
    ),
    (
        "slug != folder",
        'slug = "tiny-digits"',
        'slug = "other-digits"',
        ["slug:", "'other-digits' must equal the folder name 'tiny-digits'"],
    ),
    ("invalid TOML", "epochs = 1", "epochs = ", ["not valid TOML", "line 17"]),
]


@pytest.mark.parametrize(
    ("old", "new", "fragments"),
    [pytest.param(old, new, fragments, id=name) for name, old, new, fragments in INVALID_SPECS],
)
def test_invalid_spec_names_file_key_and_reason(tmp_path, old, new, fragments):
    assert old in VALID_TOML
    folder = make_challenge(tmp_path, VALID_TOML.replace(old, new, 1))

    with pytest.raises(ChallengeSpecError) as excinfo:
        load_challenge(folder)

    message = str(excinfo.value)
    assert str(folder / "challenge.toml") in message
    for fragment in fragments:
        assert fragment in message


def test_missing_spec_file(tmp_path):
    folder = tmp_path / "empty"
    folder.mkdir()

    with pytest.raises(ChallengeSpecError, match="challenge.toml: missing"):
        load_challenge(folder)


def test_bars_of_unknown_tier(tmp_path):
    spec = load_challenge(make_challenge(tmp_path)).spec

    with pytest.raises(
        UnknownChallengeError, match=r"no thresholds for tier 'full' \(has: sample\)"
    ):
        spec.bars("full")


# -- registry ------------------------------------------------------------------------------------


def test_registry_lists_folders_by_slug(tmp_path):
    make_challenge(tmp_path)
    make_challenge(tmp_path, VALID_TOML.replace("tiny-digits", "alpha-digits"), "alpha-digits")
    (tmp_path / "theory").mkdir()  # folders without challenge.toml are not challenges

    assert sorted(all_challenges(tmp_path)) == ["alpha-digits", "tiny-digits"]
    assert get_challenge("alpha-digits", tmp_path).folder == tmp_path / "alpha-digits"


def test_registry_unknown_slug_lists_known(tmp_path):
    make_challenge(tmp_path)

    with pytest.raises(UnknownChallengeError, match="no challenge 'nope'; known: tiny-digits"):
        get_challenge("nope", tmp_path)


def test_registry_reports_a_broken_spec(tmp_path):
    make_challenge(tmp_path, VALID_TOML.replace("epochs = 1", 'epochs = "one"'))

    with pytest.raises(ChallengeSpecError, match="fit.epochs"):
        all_challenges(tmp_path)


# -- schema --------------------------------------------------------------------------------------


def _schema_keys(model: type[BaseModel], prefix: str = "") -> set[str]:
    keys = set()
    for name, field in model.model_fields.items():
        if isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel):
            keys |= {f"[{prefix}{name}]"} | _schema_keys(field.annotation, f"{prefix}{name}.")
        else:
            keys.add(f"{prefix}{name}")
    return keys


def test_schema_rows_document_every_key():
    rows = schema_rows()
    keys = [key for key, _, _, _ in rows]

    assert len(keys) == len(set(keys))
    assert set(keys) == _schema_keys(ChallengeSpec)
    undocumented = [key for key, _, _, doc in rows if not doc.strip()]
    assert undocumented == []


@pytest.mark.parametrize(
    ("key", "type_name", "default"),
    [
        ("slug", "str", "required"),
        ("[dataset]", "table", ""),
        ("dataset.num_classes", "int", "required"),
        ("dataset.name", "Literal['mnist', 'reviews']", "required"),
        ("thresholds", "dict[str, dict[str, float]]", "required"),
        ("dataset.extra_sets", "list[str]", "[]"),
        (
            "contract.required",
            "list[Literal['build_model', 'train', 'predict']]",
            "['build_model']",
        ),
        ("fit.validation_split", "float", "0.1"),
        ("limits.train_seconds", "int", "900"),
        ("limits.cpus", "float", "2.0"),
    ],
)
def test_schema_row_type_and_default(key, type_name, default):
    rows = {row[0]: row for row in schema_rows()}

    assert rows[key][1:3] == (type_name, default)


@pytest.mark.parametrize("slug", ["lenet5-mnist", "sentiment-bilstm"])
def test_every_key_of_real_specs_is_in_the_schema(slug):
    raw = tomllib.loads((REPO_ROOT / "challenges" / slug / "challenge.toml").read_text())
    used = {
        f"{table}.{key}"
        for table, keys in raw.items()
        if table != "thresholds" and isinstance(keys, dict)
        for key in keys
    }
    used |= {key for key, value in raw.items() if not isinstance(value, dict)} | {"thresholds"}

    assert used <= {key for key, _, _, _ in schema_rows()}


def test_cli_challenges_schema_prints_every_key():
    result = CliRunner().invoke(main, ["challenges", "schema"])

    assert result.exit_code == 0, result.output
    printed = {line.split()[0] for line in result.output.splitlines()}
    assert printed == {key for key, _, _, _ in schema_rows()}


def test_an_assessment_can_set_its_own_bar_on_a_tier():
    challenge = get_challenge("lenet5-mnist")

    stricter = challenge.with_bars("sample", {"accuracy": 0.97, "f1_macro": 0.9})

    assert stricter.spec.bars("sample") == {"accuracy": 0.97, "f1_macro": 0.9}
    assert challenge.spec.bars("sample") == {"accuracy": 0.93}  # the challenge is unchanged
    assert stricter.spec.bars("full") == challenge.spec.bars("full")


@pytest.mark.parametrize("bars", [{"roc_auc": 0.9}, {"accuracy": 1.5}])
def test_a_bar_the_challenge_cannot_judge_is_refused(bars):
    with pytest.raises(UnknownChallengeError):
        get_challenge("lenet5-mnist").with_bars("sample", bars)
