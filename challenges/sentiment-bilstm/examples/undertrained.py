"""Known-bad example: a sound BiLSTM that is trained far too little.

It adapts the vocabulary and trains for one epoch on 5% of the train split.
It runs without error and is graded normally; its F1 falls below the pass bar
(expected: below_bar).
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
    n = len(x_train) // 20  # 5% of the data
    model.get_layer("vectorizer").adapt(x_train[:n])
    model.fit(x_train[:n], y_train[:n], epochs=1, batch_size=64, verbose=2)
    return model
