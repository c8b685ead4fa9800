"""Which gradings a warm sandbox can serve (``graders.warm.Shape``): no sandbox needed."""

from __future__ import annotations

from dataclasses import replace

import pytest

from graders.challenges import all_challenges, get_challenge
from graders.pipeline import GradeOptions
from graders.warm import Shape, default_shape, shape_for
from sandbox.base import Limits

BASE = Limits(wall_seconds=600, memory_mb=4096, cpus=2, processes=256)


@pytest.mark.parametrize(
    ("grading", "env", "fits"),
    [
        (BASE, None, True),
        (replace(BASE, wall_seconds=60), None, True),  # a shorter train limit: counted on the host
        (replace(BASE, wall_seconds=601), None, False),  # longer than the sandbox can live
        (replace(BASE, memory_mb=2048), None, False),  # set when the sandbox started
        (replace(BASE, cpus=1), None, False),
        (replace(BASE, processes=64), None, False),
        (BASE, {"EXTRA": "1"}, False),  # the environment is fixed at the start too
    ],
)
def test_a_slot_serves_only_gradings_with_its_limits_and_environment(grading, env, fits):
    assert Shape.of(BASE).fits(grading, env) is fits


def test_widening_keeps_the_longer_train_limit_and_takes_the_rest_from_the_grading():
    shape = Shape.of(BASE).widened(replace(BASE, wall_seconds=60, memory_mb=2048))
    assert shape.limits.wall_seconds == 600 and shape.limits.memory_mb == 2048


def test_the_default_shape_serves_every_challenge_on_its_default_tier():
    shape = default_shape()
    assert shape is not None
    for challenge in all_challenges().values():
        assert shape.fits(shape_for(challenge).limits)


def test_a_grading_with_its_own_options_gets_its_own_shape():
    lenet = get_challenge("lenet5-mnist")
    small = shape_for(lenet, "sample", GradeOptions(train_seconds=30, memory_mb=1536))
    assert small.limits.wall_seconds == 30 and small.limits.memory_mb == 1536
    assert not default_shape().fits(small.limits)
