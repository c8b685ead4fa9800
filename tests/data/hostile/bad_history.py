"""Hostile: leaves a history.json whose metric is a string, not a list of numbers."""

import pathlib

import keras

_write_text = pathlib.Path.write_text


def _write(self, data, *args, **kwargs):
    if self.name == "history.json":
        data = '{"loss": "fast", "accuracy": [0.9, "high"]}'
    return _write_text(self, data, *args, **kwargs)


pathlib.Path.write_text = _write


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
