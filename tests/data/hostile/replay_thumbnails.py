"""Hostile: the replay of issue 19, finding 1 (tests/grading/test_replay_split.py fills it).

The sample tier's test split was a fixed-seed split of a public file, so a candidate could
rebuild it offline. This file carries it as 7x7 thumbnails with two bits per pixel, sorted
by class (no labels stored: COUNTS says how many of each class), lzma-compressed,
base85-encoded and cut into short chunks so that no single literal looks long. The model
is standard layers only (it loads under safe_mode): 4x4 average pooling makes the input a
7x7 thumbnail, a Dense layer scores its distance to every stored thumbnail, a sharp softmax
picks the nearest one and a second Dense layer (softmax again) maps it to its class. About 60,000
parameters for 1,000 thumbnails. It scores 1.000 on the split it was built from.
"""

import base64
import lzma

import keras
import numpy as np

CHUNKS = None  # filled in by the test
COUNTS = None
SHARPNESS = 0.01


def thumbnails():
    packed = np.frombuffer(lzma.decompress(base64.b85decode("".join(CHUNKS))), dtype=np.uint8)
    levels = np.unpackbits(packed[:, None], axis=1).reshape(-1, 4, 2)
    levels = (levels[:, :, 0] * 2 + levels[:, :, 1]).reshape(-1)[: sum(COUNTS) * 49]
    return (levels.reshape(sum(COUNTS), 49).astype("float32") + 0.5) / 4.0


def build_model():
    n = sum(COUNTS)
    return keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            keras.layers.AveragePooling2D(4),
            keras.layers.Flatten(),
            keras.layers.Dense(n, activation="softmax", name="nearest"),
            keras.layers.Dense(10, use_bias=False, activation="softmax", name="classes"),
        ]
    )


def train(model, x_train, y_train):
    thumbs = thumbnails()
    classes = np.repeat(np.arange(10), COUNTS)
    model.get_layer("nearest").set_weights(
        [2.0 * thumbs.T / SHARPNESS, -(thumbs**2).sum(axis=1) / SHARPNESS]
    )
    model.get_layer("classes").set_weights([20.0 * np.eye(10, dtype="float32")[classes]])
    return model
