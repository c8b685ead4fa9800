"""Contract error: build_model() raises. Expected: build_exception."""

import keras


def build_model():
    return keras.Sequential([keras.Input(shape=(28, 28, 1)), keras.layers.Dense(-3)])
