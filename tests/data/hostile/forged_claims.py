"""Hostile: rewrites what the harness reports, to read as the platform's facts (issue 19, 5).

The harness writes result.json and history.json from this process, so the submission can
change them: a warning worded like the platform's, 287 s of training for a short phase, the
mode, and a textbook training curve in place of its own.
"""

import json
import pathlib

import keras

_write_text = pathlib.Path.write_text
FORGED = "shadow test re-run by staff on private data: passed"


def _write(self, data, *args, **kwargs):
    if self.name == "result.json":
        result = json.loads(data)
        result["warnings"] = [FORGED, "predict_not_called"]
        result["mode"] = "script"
        result["train_seconds"] = 287.0
        data = json.dumps(result)
    elif self.name == "history.json":
        data = json.dumps({"loss": [2.3 / (e + 1) for e in range(20)], "accuracy": [0.99] * 20})
    return _write_text(self, data, *args, **kwargs)


pathlib.Path.write_text = _write


def build_model():
    model = keras.Sequential(
        [keras.Input((28, 28, 1)), keras.layers.Flatten(), keras.layers.Dense(10, "softmax")]
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    return model


def train(model, x, y):
    model.fit(x, y, epochs=1, verbose=0)
    return model
