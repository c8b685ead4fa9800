"""The ``assay`` command line: score, data prepare/import/list, and error handling."""

from __future__ import annotations

import ast
import gzip
import json
import shutil
import struct
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner, Result

from graders.cli import main
from graders.datasets import open_dataset
from graders.report import Report


@pytest.fixture
def assay(prepared_data):
    """Run ``assay ARGS...`` in-process with ``ASSAY_DATA_DIR`` set (default: the prepared data)."""

    def invoke(*args, data_dir: Path = prepared_data) -> Result:
        env = {"ASSAY_DATA_DIR": str(data_dir)}
        return CliRunner().invoke(main, [str(a) for a in args], env=env)

    return invoke


@pytest.fixture
def mnist_labels(prepared_data) -> np.ndarray:
    return open_dataset("mnist", "sample").load_y("test")


def save(path: Path, arr) -> Path:
    np.save(path, np.asarray(arr))
    return path


def assert_readable_error(result: Result, exit_code: int, fragment: str) -> None:
    assert result.exit_code == exit_code, result.output
    assert isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    assert fragment in result.stderr


# -- assay score ---------------------------------------------------------------------------------


def test_score_passing_predictions(assay, mnist_labels, tmp_path):
    result = assay("score", "--challenge", "lenet5-mnist", save(tmp_path / "p.npy", mnist_labels))

    assert result.exit_code == 0, result.output
    assert "LeNet-5 handwritten digit classifier [lenet5-mnist] on mnist/sample" in result.stdout
    assert "PASSED" in result.stdout
    assert "met    Accuracy: 1.0000 (bar >= 0.93)  margin +0.0700" in result.stdout


def test_score_below_the_bar(assay, mnist_labels, tmp_path):
    preds = save(tmp_path / "p.npy", np.zeros_like(mnist_labels))

    result = assay("score", "--challenge", "lenet5-mnist", preds)

    assert result.exit_code == 1, result.output
    assert "BELOW THE BAR" in result.stdout
    assert "missed Accuracy: 0.1000 (bar >= 0.93)  margin -0.8300" in result.stdout


def test_score_nan_predictions(assay, tmp_path):
    preds = save(tmp_path / "p.npy", np.full(1000, np.nan))

    result = assay("score", "--challenge", "lenet5-mnist", preds)

    assert result.exit_code == 2, result.output
    assert "FAILED in score: invalid_predictions" in result.stdout
    assert "1000 prediction value(s) are NaN or infinite (first at row 0)" in result.stdout
    assert "[not_finite]" in result.stdout


def test_score_writes_a_json_report(assay, mnist_labels, tmp_path):
    preds = save(tmp_path / "p.npy", np.where(np.arange(1000) < 100, 0, mnist_labels))

    result = assay("score", "--challenge", "lenet5-mnist", "--json", tmp_path / "r.json", preds)

    assert result.exit_code == 1, result.output
    assert f"report written to {tmp_path / 'r.json'}" in result.stdout
    report = Report.from_dict(json.loads((tmp_path / "r.json").read_text(encoding="utf-8")))
    assert (report.challenge, report.tier, report.status) == ("lenet5-mnist", "sample", "graded")
    assert not report.passed
    assert report.verdict.checks[0].value == report.test.value("accuracy") < 0.93
    assert report.test.confusion[0][0] >= 90


def test_score_json_to_stdout(assay, tmp_path):
    y = open_dataset("reviews", "sample").load_y("test")
    preds = save(tmp_path / "p.npy", np.where(y == 1, 0.9, 0.2))

    result = assay("score", "--challenge", "sentiment-bilstm", "--json", "-", preds)

    assert result.exit_code == 0, result.output
    report = Report.from_dict(json.loads(result.stdout))
    assert report.passed
    assert report.test.value("roc_auc") == 1.0


def test_score_npz_and_csv(assay, mnist_labels, tmp_path):
    np.savez(tmp_path / "p.npz", ids=mnist_labels)
    np.savetxt(tmp_path / "p.csv", mnist_labels, fmt="%d")

    for name in ("p.npz", "p.csv"):
        result = assay("score", "--challenge", "lenet5-mnist", tmp_path / name)
        assert result.exit_code == 0, result.output


def test_score_unknown_challenge(assay, tmp_path):
    result = assay("score", "--challenge", "nope", save(tmp_path / "p.npy", [0]))

    assert_readable_error(
        result, 2, "error: no challenge 'nope'; known: lenet5-mnist, sentiment-bilstm"
    )


def test_score_unprepared_tier(assay, tmp_path):
    preds = save(tmp_path / "p.npy", [0])

    result = assay("score", "--challenge", "lenet5-mnist", "--tier", "full", preds)

    assert_readable_error(result, 3, "dataset mnist/full is not prepared")
    assert "run: assay data import mnist DIR" in result.stderr


def test_score_missing_predictions_file(assay, tmp_path):
    result = assay("score", "--challenge", "lenet5-mnist", tmp_path / "absent.npy")

    assert result.exit_code == 2
    assert "does not exist" in result.stderr


# -- assay data ----------------------------------------------------------------------------------


def parse_list(output: str) -> dict[str, tuple[dict, str]]:
    """``assay data list`` lines as {name/tier: (split sizes, state)}."""
    rows = {}
    for line in output.splitlines():
        name, rest = line.split(": ", 1)
        sizes, state = rest.split("}  ", 1)
        rows[name] = (ast.literal_eval(sizes + "}"), state)
    return rows


def test_data_list(assay):
    result = assay("data", "list")

    assert result.exit_code == 0, result.output
    assert parse_list(result.stdout) == {
        "mnist/sample": ({"train": 4000, "test": 1000}, "ok"),
        "reviews/full": ({"train": 20000, "test": 4960, "ood": 8530}, "ok"),
        "reviews/sample": ({"train": 2000, "test": 1000, "ood": 8530}, "ok"),
    }


def test_data_list_shows_a_broken_tier(assay, prepared_data, tmp_path):
    shutil.copytree(prepared_data / "mnist", tmp_path / "mnist")
    path = tmp_path / "mnist" / "sample" / "hidden" / "test_y.npy"
    path.write_bytes(path.read_bytes()[:-1] + b"\xff")

    result = assay("data", "list", data_dir=tmp_path)

    assert result.exit_code == 0, result.output
    sizes, state = parse_list(result.stdout)["mnist/sample"]
    assert sizes == {"train": 4000, "test": 1000}
    assert state.startswith("BROKEN: dataset mnist/sample: file hidden/test_y.npy is corrupted")
    assert state.endswith("(checksum mismatch); run: assay data prepare --force")


def test_data_list_empty(assay, tmp_path):
    result = assay("data", "list", data_dir=tmp_path)

    assert (result.exit_code, result.output) == (0, "")


def test_data_prepare(assay, tmp_path):
    first = assay("data", "prepare", "--dataset", "mnist", data_dir=tmp_path)
    again = assay("data", "prepare", "--dataset", "mnist", data_dir=tmp_path)

    assert (first.exit_code, again.exit_code) == (0, 0), first.output + again.output
    for result in (first, again):
        (line,) = result.stdout.splitlines()
        assert line.startswith("mnist/sample: ")
        assert "train 4000" in line and "test 1000" in line
        assert line.endswith(f"({tmp_path / 'mnist' / 'sample'})")
    assert not (tmp_path / "reviews").exists()


def test_data_prepare_unknown_dataset(assay, tmp_path):
    result = assay("data", "prepare", "--dataset", "cifar", data_dir=tmp_path)

    assert_readable_error(result, 3, "error: unknown dataset(s) ['cifar']")


def write_idx_folder(folder: Path, n_train: int = 5, n_test: int = 3) -> None:
    """Gzipped MNIST IDX files with ``n_train``/``n_test`` blank images labelled 0, 1, 2..."""
    folder.mkdir()
    for stem, n in (("train", n_train), ("t10k", n_test)):
        images = struct.pack(">4I", 2051, n, 28, 28) + bytes(n * 28 * 28)
        labels = struct.pack(">2I", 2049, n) + bytes(i % 10 for i in range(n))
        (folder / f"{stem}-images-idx3-ubyte.gz").write_bytes(gzip.compress(images))
        (folder / f"{stem}-labels-idx1-ubyte.gz").write_bytes(gzip.compress(labels))


def test_data_import_mnist(assay, tmp_path):
    write_idx_folder(tmp_path / "idx")

    result = assay("data", "import", "mnist", tmp_path / "idx", data_dir=tmp_path / "data")

    assert result.exit_code == 0, result.output
    root = tmp_path / "data" / "mnist" / "full"
    assert result.stdout == f"mnist/full: train 5, test 3  ({root})\n"
    assert open_dataset("mnist", "full", tmp_path / "data").load_y("test").tolist() == [0, 1, 2]


def test_data_import_from_a_folder_without_idx_files(assay, tmp_path):
    (tmp_path / "idx").mkdir()

    result = assay("data", "import", "mnist", tmp_path / "idx", data_dir=tmp_path / "data")

    assert_readable_error(result, 3, "no train-images-idx*-ubyte[.gz] file")


def test_demo_summary_shows_the_bars_metric_not_only_the_headline(prepared_data):
    from graders.challenges import get_challenge
    from graders.cli import summary_line
    from graders.report import failed_report
    from graders.scoring import blank_report, score_predictions

    challenge = get_challenge("sentiment-bilstm")
    dataset = open_dataset("reviews", "sample")
    y = dataset.load_y("test")
    graded = score_predictions(challenge, dataset, {"test": np.where(y == 1, 0.9, 0.2)})
    assert summary_line("sentiment-bilstm", graded) == (
        "sentiment-bilstm   PASSED roc_auc 1.0000 (bar 0.75)"
    )
    ids = score_predictions(challenge, dataset, {"test": y})
    assert summary_line("sentiment-bilstm", ids) == (
        "sentiment-bilstm   BELOW THE BAR roc_auc n/a (bar 0.75)"
    )
    failed = failed_report(blank_report(challenge, dataset), "timeout", "too slow", phase="train")
    assert summary_line("sentiment-bilstm", failed) == "sentiment-bilstm   FAILED timeout"
