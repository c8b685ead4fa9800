"""Known-bad example: trains well, but predict() takes the argmax over the wrong axis.

argmax(axis=0) picks, for each of the 10 classes, the most confident image, so
predict() returns shape (10,) instead of (n,) class ids or (n, 10)
probabilities. Expected: invalid_predictions.
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
    model.fit(x_train, y_train, epochs=2, batch_size=128, verbose=2)
    return model


def predict(model, x):
    return model.predict(x, verbose=0).argmax(axis=0)  # bug: should be axis=1
