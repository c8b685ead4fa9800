"""Hostile: replays the public test labels from inside a custom layer.

The layer holds a signature of every public test image (a fixed weighted sum of its
pixels) and its label, and answers the label of the nearest signature. The test fills
SIGNATURES and LABELS before submitting. It needs its own class to load, which the
platform's predict phase (Keras safe_mode, no candidate code) refuses: unsafe_model.
"""

import keras
import numpy as np
from keras import ops

SIGNATURES = None  # filled in by the test
LABELS = None


def pixel_weights() -> np.ndarray:
    return ((np.arange(784) * 2654435761) % 1000 / 1000).astype("float32")


@keras.saving.register_keras_serializable(package="replay")
class Lookup(keras.layers.Layer):
    def __init__(self, signatures, labels, **kwargs):
        super().__init__(**kwargs)
        self.signatures, self.labels = list(signatures), list(labels)

    def call(self, x):
        sig = ops.matmul(ops.reshape(x, (-1, 784)) * 255.0, pixel_weights()[:, None])
        nearest = ops.argmin(ops.abs(sig - np.array(self.signatures, "float32")[None]), axis=1)
        return ops.one_hot(ops.take(np.array(self.labels, "int32"), nearest), 10)

    def get_config(self):
        return {**super().get_config(), "signatures": self.signatures, "labels": self.labels}


def build_model():
    inputs = keras.Input((28, 28, 1))
    return keras.Model(inputs, Lookup(SIGNATURES, LABELS)(inputs))


def train(model, x_train, y_train):
    return model
