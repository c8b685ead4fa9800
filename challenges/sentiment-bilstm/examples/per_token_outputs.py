"""Known-bad example: a sequence-labelling model for a review-level label.

Following the BiLSTM-CRF pattern, this model keeps one output per token
(return_sequences=True) and train() copies each review's label onto all of its
200 token positions. It trains, but predictions have shape (n, 200, 1) instead
of (n,) or (n, 1). Expected: invalid_predictions.
"""

import keras
import numpy as np
from keras import layers

SEQUENCE_LENGTH = 200


def build_model():
    vectorizer = layers.TextVectorization(
        max_tokens=20_000, output_sequence_length=SEQUENCE_LENGTH, name="vectorizer"
    )
    inputs = keras.Input(shape=(1,), dtype="string")
    x = vectorizer(inputs)
    x = layers.Embedding(20_000, 64, mask_zero=True)(x)
    x = layers.Bidirectional(layers.LSTM(64, return_sequences=True))(x)
    outputs = layers.Dense(1, activation="sigmoid")(x)  # one probability per token
    model = keras.Model(inputs, outputs)
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    return model


def train(model, x_train, y_train):
    model.get_layer("vectorizer").adapt(x_train)
    # One label per token, as a tagger would be trained: shape (n, 200, 1).
    y_tokens = np.repeat(y_train[:, None, None], SEQUENCE_LENGTH, axis=1)
    model.fit(x_train, y_tokens, epochs=1, batch_size=64, verbose=2)
    return model
