"""Contract error: the model ends without softmax, so it predicts logits, not
probabilities in [0, 1]. Expected: invalid_predictions (out_of_range)."""

import keras
from keras import layers


def build_model():
    model = keras.Sequential([keras.Input(shape=(28, 28, 1)), layers.Flatten(), layers.Dense(10)])
    model.compile(
        optimizer="adam",
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    return model
