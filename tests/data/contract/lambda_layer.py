"""Contract error: a Lambda layer, whose Python code safe_mode refuses to load.
Expected: unsafe_model."""

import keras
from keras import layers


def build_model():
    model = keras.Sequential(
        [
            keras.Input(shape=(28, 28, 1)),
            layers.Lambda(lambda x: x * 2.0),
            layers.Flatten(),
            layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    return model
