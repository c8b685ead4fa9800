"""Contract error: a model far over the challenge's budget of 300,000 parameters
(784 x 1,000 + 1,000 x 10 weights: about 795,000). Expected: over_budget."""

import keras
from keras import layers


def build_model():
    model = keras.Sequential(
        [
            keras.Input(shape=(28, 28, 1)),
            layers.Flatten(),
            layers.Dense(1000, activation="relu"),
            layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    return model
