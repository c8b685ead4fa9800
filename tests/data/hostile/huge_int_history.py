"""Hostile: a 401-digit integer in history.json and in a progress line (issue 19, 3 and 4).

``float()`` of such an integer raises ``OverflowError``; read back unguarded it made the
report say ``platform_error`` (retried for free) and killed the host's progress reader, so a
forged first line stayed on screen. The forged line is written to the harness's progress
FIFO before training; the real epochs follow it.
"""

import os
import pathlib
import sys

import keras

HUGE = "1" + "0" * 400
_write_text = pathlib.Path.write_text


def _write(self, data, *args, **kwargs):
    if self.name == "history.json":
        data = '{"loss": [0.5, ' + HUGE + "]}"
    return _write_text(self, data, *args, **kwargs)


pathlib.Path.write_text = _write


def _forge_progress():
    fd = getattr(sys.modules.get("__main__"), "PROGRESS_FD", None)
    if fd is None:
        return
    forged = b'{"event": "epoch", "epoch": 1, "epochs": 1, "logs": {"accuracy": 1.0}}\n'
    killer = b'{"event": "epoch", "epoch": 1, "epochs": 2, "logs": {"loss": ' + HUGE.encode()
    os.write(fd, forged + killer + b"}}\n")


def build_model():
    model = keras.Sequential(
        [keras.Input((28, 28, 1)), keras.layers.Flatten(), keras.layers.Dense(10, "softmax")]
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    return model


def train(model, x, y):
    _forge_progress()
    model.fit(x, y, epochs=2, verbose=0)
    return model
