"""Hostile: replays the public test labels by lookup in its own predict().

The sample tier's test split is a fixed-seed split of a public file, so its labels can be
known in advance. The test fills LABELS (sha1 of a test image's uint8 pixels -> its label)
before submitting; the model is never trained. Where the platform predicts, this predict()
is never called and the untrained model misses the bar; where a challenge calls it, the
lookup scores 1.0 on the test set and falls to chance on the shadow copy.
"""

import hashlib

import keras
import numpy as np

LABELS = None  # filled in by the test


def build_model():
    return keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            keras.layers.Flatten(),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )


def train(model, x_train, y_train):
    return model  # no training at all


def predict(model, x):
    guesses = model.predict(x, verbose=0).argmax(axis=1)
    pixels = np.rint(np.asarray(x) * 255).astype(np.uint8).reshape(len(x), 28, 28)
    keys = [hashlib.sha1(image.tobytes()).hexdigest() for image in pixels]
    return np.array([LABELS.get(key, int(g)) for key, g in zip(keys, guesses, strict=True)])
