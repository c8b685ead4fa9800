"""Contract error: build_model() returns the layers, not a model. Expected: not_a_model."""

from keras import layers


def build_model():
    return [layers.Flatten(), layers.Dense(10, activation="softmax")]
