"""Known-bad example: the model function is named create_model(), not build_model().

Expected: missing_build_model.
"""

import keras
from keras import layers


def create_model():
    vectorizer = layers.TextVectorization(max_tokens=20_000, output_sequence_length=200)
    inputs = keras.Input(shape=(1,), dtype="string")
    x = vectorizer(inputs)
    x = layers.Embedding(20_000, 64, mask_zero=True)(x)
    x = layers.Bidirectional(layers.LSTM(64))(x)
    outputs = layers.Dense(1, activation="sigmoid")(x)
    return keras.Model(inputs, outputs)
