"""Known-bad example: train() one-hot encodes the labels but keeps the sparse loss.

categorical labels of shape (n, 10) against sparse_categorical_crossentropy
make model.fit() raise a ValueError on the first batch. Expected: train_exception.
"""

import keras
from keras import layers


def build_model():
    model = keras.Sequential(
        [
            keras.Input(shape=(28, 28, 1)),
            layers.Conv2D(6, 5, padding="same", activation="relu"),
            layers.MaxPooling2D(2),
            layers.Conv2D(16, 5, activation="relu"),
            layers.MaxPooling2D(2),
            layers.Flatten(),
            layers.Dense(120, activation="relu"),
            layers.Dense(84, activation="relu"),
            layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def train(model, x_train, y_train):
    y_one_hot = keras.utils.to_categorical(y_train, 10)
    model.fit(x_train, y_one_hot, epochs=5, batch_size=128)
    return model
