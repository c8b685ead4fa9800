"""Hostile: leaves a 48 MB history.json (the host used to load it whole, and copy it into the report)."""

import pathlib

import keras

_write_text = pathlib.Path.write_text


def _write(self, data, *args, **kwargs):
    if self.name == "history.json":
        data = '{"loss": [' + ", ".join(["0.123456789"] * 4_000_000) + "]}"
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
