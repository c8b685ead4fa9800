"""Hostile: replays the public test labels with standard layers only.

The first Dense layer holds every public test image (kernel 2*t, bias -|t|^2: its largest
output is the nearest test image), a sharp softmax picks it, and the second Dense layer
holds the one-hot labels. The test fills IMAGES (base64 of the uint8 test images) and
LABELS before submitting. It loads under safe_mode and scores 1.0 on the test set, but
holds 784 weights per test image: far over the model budget.
"""

import base64

import keras
import numpy as np

IMAGES = None  # filled in by the test
LABELS = None
SHARPNESS = 0.05


def build_model():
    n = len(LABELS)
    return keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            keras.layers.Flatten(),
            keras.layers.Dense(n, activation="softmax", name="images"),
            keras.layers.Dense(10, use_bias=False, name="labels"),
        ]
    )


def train(model, x_train, y_train):
    raw = np.frombuffer(base64.b64decode(IMAGES), dtype=np.uint8)
    images = raw.reshape(len(LABELS), 784).astype("float32") / 255.0
    kernel = 2.0 * images.T / SHARPNESS
    bias = -(images**2).sum(axis=1) / SHARPNESS
    model.get_layer("images").set_weights([kernel, bias])
    model.get_layer("labels").set_weights([np.eye(10, dtype="float32")[LABELS]])
    return model
