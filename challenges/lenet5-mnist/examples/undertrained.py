"""Known-bad example: a sound LeNet-5 that is trained far too little.

It trains for one epoch on 5% of the train split, runs without error and is
graded normally; its accuracy falls below the pass bar (expected: below_bar).
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
    n = len(x_train) // 20  # 5% of the data
    model.fit(x_train[:n], y_train[:n], epochs=1, batch_size=32, verbose=2)
    return model
