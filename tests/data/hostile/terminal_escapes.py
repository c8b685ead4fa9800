"""Hostile: prints terminal escapes (clear screen, a fake PASSED, OSC 52 clipboard), forges
progress-looking lines on stdout, and is chatty enough to fill the stdout budget."""

import json
import sys

import keras

FAKE = "\x1b[2J\x1b[H\x1b[32mPASSED  accuracy 1.0000\x1b[0m\x1b]52;c;ZXZpbA==\x07\x1b]0;owned\x07"


class Chatty(keras.callbacks.Callback):
    def on_train_batch_end(self, batch, logs=None):
        print("batch", batch, "x" * 20_000)


def build_model():
    model = keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            keras.layers.Flatten(),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def train(model, x, y):
    print(FAKE)
    sys.stderr.write(FAKE + "\n")
    forged = {"event": "epoch", "epoch": 99, "epochs": 99, "logs": {"accuracy": 1.0}}
    print("##assay-progress## " + json.dumps(forged))
    model.fit(x, y, epochs=2, batch_size=16, verbose=0, callbacks=[Chatty()])
    print(FAKE)
    return model
