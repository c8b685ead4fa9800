"""The reference LeNet-5, trained outside any sandbox on the prepared MNIST sample.

This trains our own reference code in-process (it is trusted), to pin the sample
tier's bar to what the reference really reaches: it must pass, and the
under-trained example must miss.
"""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from graders.challenges import get_challenge
from graders.datasets import open_dataset
from graders.scoring import score_predictions

pytestmark = pytest.mark.slow
LENET = get_challenge("lenet5-mnist")


def load_module(path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def train_and_score(relative: str):
    import keras

    keras.utils.set_random_seed(1234)
    dataset = open_dataset("mnist", "sample")
    module = load_module(LENET.path(relative))
    x = (dataset.load_x("train").astype(np.float32) / 255.0)[..., None]
    model = module.train(module.build_model(), x, dataset.load_y("train"))
    x_test = (dataset.load_x("test").astype(np.float32) / 255.0)[..., None]
    predictions = model.predict(x_test, verbose=0)
    return score_predictions(LENET, dataset, {"test": predictions})


def test_reference_lenet_passes_the_sample_bar(prepared_data):
    report = train_and_score("reference/solution.py")
    assert report.status == "graded"
    assert report.passed, report.verdict
    assert report.verdict.checks[0].margin > 0


def test_undertrained_lenet_misses_the_sample_bar(prepared_data):
    report = train_and_score("examples/undertrained.py")
    assert report.status == "graded"
    assert not report.passed
