"""What a saved model carries besides its weights (graders/modelfile.py), on crafted archives.

The archives are laid out as Keras 3 writes them (``config.json``, ``metadata.json``,
``model.weights.h5``, ``assets/...``); the end-to-end tests in tests/grading train real ones.
"""

from __future__ import annotations

import json
import stat
import zipfile

import pytest

from graders import modelfile
from graders.modelfile import Carried, ModelRejected, carried_flags, config_numbers, inspect


def layer(class_name: str, name: str, **settings) -> dict:
    return {
        "module": "keras.layers",
        "class_name": class_name,
        "config": {"name": name, "trainable": True, **settings},
        "registered_name": None,
    }


def sequential(*layers: dict) -> dict:
    return {
        "module": "keras",
        "class_name": "Sequential",
        "config": {"name": "sequential", "layers": list(layers)},
    }


HONEST = sequential(
    layer("InputLayer", "input", batch_shape=[None, 28, 28, 1]),
    layer("Conv2D", "conv", filters=6, kernel_size=[5, 5], strides=[1, 1]),
    layer("Dense", "dense", units=10),
)


def archive(tmp_path, config, assets: dict[str, bytes] | None = None, raw_config=None):
    path = tmp_path / "model.keras"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("metadata.json", '{"keras_version": "3.15.1"}')
        z.writestr("config.json", raw_config if raw_config is not None else json.dumps(config))
        z.writestr("model.weights.h5", b"\x89HDF\r\n" + b"\0" * 100)
        for name, data in (assets or {}).items():
            z.writestr(name, data)
    return path


def test_an_honest_model_carries_its_hyperparameters_only(tmp_path):
    carried = inspect(archive(tmp_path, HONEST))

    # 28, 28, 1 / 6, 5, 5, 1, 1 / 10: every number counts, none of them data
    assert carried.config_numbers == 9 and carried.asset_entries == 0
    assert carried.largest_array == 3
    assert carried_flags(carried, 300_000) == []


def test_a_test_table_in_a_rescaling_offset_is_refused_naming_the_layer(tmp_path):
    offset = [[[float(i)] for i in range(28)] for _ in range(28)]  # 784 numbers
    config = sequential(
        layer("InputLayer", "input", batch_shape=[None, 28, 28, 1]),
        layer("Rescaling", "lookup_table", scale=1.0, offset=offset),
    )

    with pytest.raises(ModelRejected) as info:
        inspect(archive(tmp_path, config))

    assert info.value.code == "unsafe_model"
    message = str(info.value)
    assert "'lookup_table' (Rescaling)" in message and "784" in message and "'offset'" in message


@pytest.mark.parametrize(
    ("class_name", "vocabulary"),
    [
        ("IntegerLookup", list(range(7, 600))),
        ("StringLookup", [f"tok{i}" for i in range(500)]),
    ],
)
def test_a_vocabulary_in_layer_settings_is_refused(tmp_path, class_name, vocabulary):
    config = sequential(layer(class_name, "vocab", vocabulary=vocabulary))

    with pytest.raises(ModelRejected, match=rf"'vocab' \({class_name}\).*'vocabulary'"):
        inspect(archive(tmp_path, config))


def test_numbers_hidden_in_many_small_settings_all_count(tmp_path):
    layers = [layer("Rescaling", f"r{i}", scale=1.0, offset=[0.5] * 60) for i in range(40)]

    carried = inspect(archive(tmp_path, sequential(*layers)))

    assert carried.config_numbers == 40 * 61
    assert [f["kind"] for f in carried_flags(carried, 300_000)] == ["budget"]


def test_vocabulary_assets_count_once_per_distinct_file(tmp_path):
    vocab = "\n".join(f"word{i}" for i in range(5000)).encode()
    assets = {
        "assets/layers/text_vectorization/vocabulary.txt": vocab,
        "assets/layers/text_vectorization/_lookup_layer/vocabulary.txt": vocab,  # Keras' copy
        "assets/layers/table/values.bin": b"\0" * 4000,
    }

    carried = inspect(archive(tmp_path, HONEST, assets))

    assert carried.asset_entries == 5000 + 1000
    assert carried.assets_bytes == 2 * len(vocab) + 4000


def test_a_config_over_its_cap_is_refused_before_it_is_parsed(tmp_path):
    raw = '{"pad": "' + "x" * (modelfile.CONFIG_MAX_BYTES + 10) + '"}'

    with pytest.raises(ModelRejected, match="config.json is larger than 256 KiB"):
        inspect(archive(tmp_path, None, raw_config=raw))


def test_assets_over_their_cap_are_refused(tmp_path):
    half = b"a\n" * (modelfile.ASSETS_MAX_BYTES // 4 + 8)
    assets = {"assets/a.txt": half, "assets/b.txt": half + b"b"}

    with pytest.raises(ModelRejected, match="its assets is larger than"):
        inspect(archive(tmp_path, HONEST, assets))


def test_a_link_in_the_archive_is_refused(tmp_path):
    path = archive(tmp_path, HONEST)
    with zipfile.ZipFile(path, "a") as z:
        info = zipfile.ZipInfo("assets/evil.txt")
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        z.writestr(info, "/etc/passwd")

    with pytest.raises(ModelRejected, match="link"):
        inspect(path)


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("not json", "unsafe_model"),
        ("[" * 100_000 + "]" * 100_000, "unsafe_model"),
        ('{"x": 1e999999}', None),  # json reads an overflowing float as inf: one number
    ],
)
def test_a_broken_config_is_a_candidate_error(tmp_path, raw, code):
    path = archive(tmp_path, None, raw_config=raw)
    if code is None:
        assert inspect(path).config_numbers == 1
        return
    with pytest.raises(ModelRejected) as info:
        inspect(path)
    assert info.value.code == code


def test_a_file_that_is_no_archive_fails_to_load(tmp_path):
    path = tmp_path / "model.keras"
    path.write_bytes(b"PK\x03\x04 not really")

    with pytest.raises(ModelRejected) as info:
        inspect(path)

    assert info.value.code == "load_failed"


def test_deep_configs_are_measured_without_recursion():
    deep: list = [1.0]
    for _ in range(50_000):
        deep = [deep]

    with pytest.raises(ModelRejected):  # a flattened array of one value... nested 50,000 deep
        config_numbers({"class_name": "X", "config": {"name": "x", "a": deep, "b": [0] * 65}})
    assert config_numbers({"a": deep}) == (1, 1)


def test_large_asset_vocabularies_are_flagged_within_budget():
    carried = Carried(
        config_numbers=90, asset_entries=40_000, config_bytes=9000, assets_bytes=1, largest_array=3
    )

    flags = carried_flags(carried, 300_000)

    assert [f["kind"] for f in flags] == ["budget"] and "40,000 entries" in flags[0]["message"]
    assert carried_flags(carried, 3_000_000) == []


def test_an_archive_of_too_many_files_is_refused_from_its_end_record(tmp_path):
    path = archive(tmp_path, HONEST, {f"assets/{i}.txt": b"" for i in range(300)})

    with pytest.raises(ModelRejected, match="holds 303 files"):
        inspect(path)


def test_a_corrupt_compressed_asset_is_the_candidates_failure(tmp_path):
    path = archive(tmp_path, HONEST, {"assets/vocab.txt": b"word\n" * 2000})
    data = bytearray(path.read_bytes())
    start = data.index(b"assets/vocab.txt") + len("assets/vocab.txt")
    data[start + 10 : start + 40] = b"\xff" * 30  # inside its deflate stream
    path.write_bytes(bytes(data))

    with pytest.raises(ModelRejected) as info:
        inspect(path)

    assert info.value.code in ("load_failed", "unsafe_model")


def test_a_custom_layer_is_refused_by_name_where_the_platform_loads_the_model(tmp_path):
    custom = {
        "module": "solution",
        "class_name": "Lookup",
        "config": {"name": "lookup", "labels": list(range(1000))},
        "registered_name": "replay>Lookup",
    }
    path = archive(tmp_path, sequential(custom))

    with pytest.raises(ModelRejected, match=r"needs code of its own to load \(replay>Lookup\)"):
        inspect(path)
    with pytest.raises(ModelRejected, match="'lookup' \\(Lookup\\) keeps an array of 1,000"):
        inspect(path, standard_only=False)  # the candidate's predict() loads it: still data


def test_a_pass_with_a_budget_flag_reads_as_flagged_for_review(tmp_path):
    from graders.report import Report, Verdict
    from graders.verdicts import of_report

    layers = [layer("Rescaling", f"r{i}", scale=1.0, offset=[0.5] * 60) for i in range(40)]
    flags = carried_flags(inspect(archive(tmp_path, sequential(*layers))), 300_000)
    report = Report("c", "t", "mnist", "sample", "graded", verdict=Verdict(True, []), flags=flags)

    assert of_report(report).key == "passed_flagged"
    assert of_report(report).reasons == ("budget",)
