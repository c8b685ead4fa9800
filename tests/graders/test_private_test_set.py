"""`assay data import --test-set`: an operator's own labelled test set as a private tier."""

from __future__ import annotations

import gzip
import struct

import numpy as np
import pandas as pd
import pytest

from graders.challenges import get_challenge
from graders.dataset_build import Tier, import_test_set, write_tier
from graders.datasets import open_dataset
from graders.errors import DatasetError
from graders.scoring import blank_report

RNG = np.random.default_rng(3)


@pytest.fixture
def root(tmp_path):
    """A data folder with small public mnist/sample and reviews/sample tiers."""
    data = tmp_path / "data"
    images = RNG.integers(0, 256, (30, 28, 28), dtype=np.uint8)
    labels = np.arange(30) % 10
    write_tier(
        Tier(
            "mnist",
            "sample",
            "test",
            {"train": (images[:20], labels[:20]), "test": (images[20:], labels[20:])},
        ),
        data,
    )
    texts = np.array([f"review number {i}" for i in range(12)], dtype=object)
    ood = np.array(["short one", "another"], dtype=object)
    write_tier(
        Tier(
            "reviews",
            "sample",
            "test",
            {
                "train": (texts[:8], np.arange(8) % 2),
                "test": (texts[8:], np.arange(4) % 2),
                "ood": (ood, np.array([0, 1])),
            },
        ),
        data,
    )
    return data


def idx(arr: np.ndarray, magic: int) -> bytes:
    return struct.pack(f">I{arr.ndim}I", magic, *arr.shape) + arr.astype(np.uint8).tobytes()


def test_an_idx_test_set_becomes_a_private_tier_that_trains_on_its_base(root, tmp_path):
    folder = tmp_path / "mine"
    folder.mkdir()
    x = RNG.integers(0, 256, (7, 28, 28), dtype=np.uint8)
    y = np.array([3, 1, 4, 1, 5, 9, 2])
    (folder / "my-images-idx3-ubyte.gz").write_bytes(gzip.compress(idx(x, 2051)))
    (folder / "my-labels-idx1-ubyte").write_bytes(idx(y, 2049))

    ds = import_test_set("mnist", folder, "sample", root)

    assert ds.tier == "sample-private"
    reopened = open_dataset("mnist", "sample-private", root)  # checksums verify
    assert np.array_equal(reopened.load_x("test"), x)
    assert np.array_equal(reopened.load_y("test"), y)
    assert np.array_equal(
        reopened.load_x("train"), open_dataset("mnist", "sample", root).load_x("train")
    )
    assert reopened.manifest["test_labels"] == "private"
    lenet = get_challenge("lenet5-mnist")
    assert blank_report(lenet, reopened).test_labels == "private"
    assert blank_report(lenet, open_dataset("mnist", "sample", root)).test_labels == "public"


def test_a_csv_test_set_with_a_header_and_rows_already_in_train_dropped(root, tmp_path):
    train_x = open_dataset("mnist", "sample", root).load_x("train")
    x = np.concatenate([RNG.integers(0, 256, (3, 28, 28), dtype=np.uint8), train_x[:1]])
    table = pd.DataFrame(x.reshape(4, 784), columns=[f"pixel{i}" for i in range(784)])
    table.insert(0, "label", [7, 0, 2, 5])
    path = tmp_path / "mine.csv"
    table.to_csv(path, index=False)

    ds = import_test_set("mnist", path, "sample", root)

    assert ds.splits["test"] == 3  # the copy of a train image is not a test
    assert open_dataset("mnist", "sample-private", root).load_y("test").tolist() == [7, 0, 2]


def test_a_reviews_csv_keeps_the_out_of_domain_set(root, tmp_path):
    path = tmp_path / "reviews.csv"
    pd.DataFrame({"text": ["great film", "dull"], "label": ["positive", "negative"]}).to_csv(
        path, index=False
    )
    ds = import_test_set("reviews", path, "sample", root)
    assert ds.splits == {"train": 8, "test": 2, "ood": 2}
    assert open_dataset("reviews", "sample-private", root).load_y("test").tolist() == [1, 0]


@pytest.mark.parametrize(
    ("rows", "fragment"),
    [
        ("review,label\nhmm,1\n", "needs columns text and label"),
        ("text,label\nfine,maybe\n", "labels must be 0/1"),
    ],
)
def test_bad_reviews_csv_is_refused_with_a_reason(root, tmp_path, rows, fragment):
    path = tmp_path / "bad.csv"
    path.write_text(rows)
    with pytest.raises(DatasetError, match=fragment):
        import_test_set("reviews", path, "sample", root)


def test_a_missing_private_tier_names_the_import_command(root):
    with pytest.raises(DatasetError, match="assay data import mnist PATH --test-set"):
        open_dataset("mnist", "full-private", root)


def test_the_cli_imports_a_test_set_and_refuses_reviews_without_test_set(root, tmp_path):
    from click.testing import CliRunner

    from graders.cli import main

    path = tmp_path / "reviews.csv"
    pd.DataFrame({"text": ["great film", "dull"], "label": [1, 0]}).to_csv(path, index=False)
    env = {"ASSAY_DATA_DIR": str(root)}
    runner = CliRunner()

    ok = runner.invoke(main, ["data", "import", "reviews", str(path), "--test-set"], env=env)
    assert ok.exit_code == 0, ok.output
    assert "reviews/sample-private" in ok.output
    refused = runner.invoke(main, ["data", "import", "reviews", str(path)], env=env)
    assert refused.exit_code != 0 and "--test-set" in refused.output
