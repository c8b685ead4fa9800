"""Hostile: keeps a table of numbers in a layer's settings, where count_params() does not look.

A ``Rescaling`` layer's ``offset`` is saved inside ``config.json``; the issue's attack kept
the whole test table there (2,437 KiB) and passed with ``param_count`` 0. Here the offset is
one 28x28 image (784 numbers): enough to be refused, naming the layer.
"""

import keras
import numpy as np


def build_model():
    table = np.linspace(0.0, 1.0, 784, dtype="float32").reshape(28, 28, 1)
    return keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            keras.layers.Rescaling(1.0, offset=table.tolist(), name="lookup_table"),
            keras.layers.Flatten(),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )


def train(model, x, y):
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.fit(x, y, epochs=1, verbose=0)
    return model
