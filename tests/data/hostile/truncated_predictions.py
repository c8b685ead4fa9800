"""Hostile: a patched numpy.save writes truncated .npy files in the predict phase."""

import keras
import numpy as np

_save = np.save


def _truncating_save(file, arr, *args, **kwargs):
    _save(file, arr, *args, **kwargs)
    path = str(file)
    if "predictions_" in path:
        with open(path, "rb+") as f:
            f.truncate(200)


np.save = _truncating_save


def build_model():
    model = keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            keras.layers.Flatten(),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    return model


def train(model, x, y):
    model.fit(x, y, epochs=1, verbose=0)
    return model
