"""Known-bad example: train() one-hot encodes the labels for a one-unit sigmoid output.

Labels of shape (n, 2) against a (n, 1) output make model.fit() raise a
ValueError on the first batch. Expected: train_exception.
"""

import keras
from keras import layers


def build_model():
    vectorizer = layers.TextVectorization(
        max_tokens=20_000, output_sequence_length=200, name="vectorizer"
    )
    inputs = keras.Input(shape=(1,), dtype="string")
    x = vectorizer(inputs)
    x = layers.Embedding(20_000, 64, mask_zero=True)(x)
    x = layers.Bidirectional(layers.LSTM(64))(x)
    outputs = layers.Dense(1, activation="sigmoid")(x)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    return model


def train(model, x_train, y_train):
    model.get_layer("vectorizer").adapt(x_train)
    y_one_hot = keras.utils.to_categorical(y_train, 2)
    model.fit(x_train, y_one_hot, epochs=3, batch_size=64)
    return model
