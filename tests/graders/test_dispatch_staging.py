"""What a grading stages before its train sandbox starts, made cheap (issue 10's dispatch time).

Real parts: the prepared sample tiers, the real challenges, files on disk. The sandbox runs
elsewhere (tests/grading); here each piece is checked on its own: slices made once per
process and hard-linked read-only, the test inputs and their shadow written on a thread
under the names the predict job gave them beforehand, checksums verified once per tier
while its files stay the same.
"""

from __future__ import annotations

import json
import os
import shutil
import stat

import numpy as np
import pytest

from graders import service
from graders.challenges import get_challenge
from graders.errors import DatasetError
from graders.phases import sliced, write_data
from graders.pipeline import GradeOptions
from graders.predict_phase import HiddenInputs, _hidden_sets, _test_rows
from graders.scoring import open_challenge_dataset
from graders.shadow import disguise


@pytest.fixture
def mnist(prepared_data):
    challenge = get_challenge("lenet5-mnist")
    return challenge, open_challenge_dataset(challenge, "sample")


def test_a_slice_is_made_once_and_hard_linked_read_only(mnist, tmp_path):
    _, dataset = mnist
    src = dataset.x_path("train")
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir(), second.mkdir()

    assert write_data(src, first, "train_x", 120) == "/job/train_x.npy"
    write_data(src, second, "train_x", 120)

    a, b = first / "train_x.npy", second / "train_x.npy"
    assert a.stat().st_ino == b.stat().st_ino == sliced(src, 120).stat().st_ino
    assert stat.S_IMODE(a.stat().st_mode) & 0o222 == 0  # nobody writes to the shared copy
    assert np.array_equal(np.load(a), np.load(src)[:120])
    assert sliced(src, 50).stat().st_ino != a.stat().st_ino  # another limit, another slice


def test_a_slice_of_a_rewritten_source_is_made_again(tmp_path):
    src = tmp_path / "train_x.npy"
    np.save(src, np.arange(10))
    old = sliced(src, 3)
    fresh = tmp_path / "new.npy"
    np.save(fresh, np.arange(10, 20))
    os.replace(fresh, src)  # as ``assay data prepare --force`` puts a new tier in place

    new = sliced(src, 3)

    assert new != old and np.load(new).tolist() == [10, 11, 12]


def test_a_text_slice_keeps_the_reviews(prepared_data, tmp_path):
    challenge = get_challenge("sentiment-bilstm")
    dataset = open_challenge_dataset(challenge, "sample")

    write_data(dataset.x_path("train"), tmp_path, "train_x", 7)

    texts = json.loads((tmp_path / "train_x.json").read_text(encoding="utf-8"))
    assert texts == [str(t) for t in dataset.load_x("train")[:7]]


@pytest.mark.parametrize("slug", ["lenet5-mnist", "sentiment-bilstm"])
def test_hidden_inputs_are_written_in_their_disguise_under_the_names_given_before(
    slug, prepared_data, tmp_path
):
    challenge = get_challenge(slug)
    dataset = open_challenge_dataset(challenge, "sample")
    options = GradeOptions(test_limit=40)
    seed = 12345
    rows = _test_rows(dataset, options.test_limit)
    rng = np.random.default_rng(seed)
    disguises = {name: disguise(rows, rng) for name in ("test", "shadow")}
    suffix = dataset.x_path("test").suffix
    paths = {d.name: f"/job/{d.name}{suffix}" for d in disguises.values()}
    hidden = HiddenInputs(challenge, dataset, options, seed, tmp_path, disguises, paths)

    hidden.start()
    hidden.start()  # a second start (a warm slot that died, then cold) does nothing
    hidden.wait()

    expected = _hidden_sets(challenge, dataset, options, seed)
    for name, d in disguises.items():
        path = tmp_path / f"{d.name}{suffix}"
        assert stat.S_IMODE(path.stat().st_mode) == 0o644  # the sandbox's user reads it
        if suffix == ".npy":
            written = np.load(path)
        else:
            written = np.array(json.loads(path.read_text(encoding="utf-8")), dtype=object)
        assert len(written) == rows == 40
        assert np.array_equal(d.restore(written), expected[name])
    assert not np.array_equal(expected["shadow"], expected["test"])


def test_hidden_inputs_that_fail_raise_in_the_grading_thread(mnist, tmp_path):
    challenge, dataset = mnist
    options = GradeOptions(test_limit=10)
    rng = np.random.default_rng(1)
    wrong = {"test": disguise(11, rng)}  # a manifest that disagrees with the file
    hidden = HiddenInputs(challenge, dataset, options, 1, tmp_path, wrong, {})

    hidden.start()
    with pytest.raises(RuntimeError, match="11"):
        hidden.wait()
    hidden.join()  # after a failure: returns at once


def test_hidden_inputs_never_started_are_not_made_by_join(mnist, tmp_path):
    challenge, dataset = mnist
    hidden = HiddenInputs(challenge, dataset, GradeOptions(), 1, tmp_path, {}, {})

    hidden.join()  # the train phase failed before its sandbox: nothing to wait for

    assert list(tmp_path.iterdir()) == []


def test_a_tier_is_verified_once_until_one_of_its_files_changes(
    prepared_data, tmp_path, monkeypatch
):
    root = tmp_path / "data"
    shutil.copytree(prepared_data / "mnist", root / "mnist")
    monkeypatch.setenv("ASSAY_DATA_DIR", str(root))
    challenge = get_challenge("lenet5-mnist")
    verified = []
    real = service.open_challenge_dataset
    monkeypatch.setattr(
        service, "open_challenge_dataset", lambda *a: verified.append(a) or real(*a)
    )

    service.open_verified_dataset(challenge, "sample")
    service.open_verified_dataset(challenge, "sample")
    assert len(verified) == 1  # the second grading reads no checksums

    labels = root / "mnist" / "sample" / "hidden" / "test_y.npy"
    corrupted = np.load(labels)
    corrupted[0] = (corrupted[0] + 1) % 10
    np.save(labels, corrupted)  # a new mtime (and content): verified again, and refused
    with pytest.raises(DatasetError, match="corrupted"):
        service.open_verified_dataset(challenge, "sample")
    assert len(verified) == 2
