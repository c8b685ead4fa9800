"""Contract error: a custom layer class. It trains and saves, but the platform loads the
model with Keras safe_mode and no candidate code, so it cannot load. Expected: unsafe_model."""

import keras
from keras import layers


@keras.saving.register_keras_serializable(package="mine")
class Scale(layers.Layer):
    def call(self, x):
        return x * 2.0


def build_model():
    model = keras.Sequential(
        [
            keras.Input(shape=(28, 28, 1)),
            Scale(),
            layers.Flatten(),
            layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    return model
