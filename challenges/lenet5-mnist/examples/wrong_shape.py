"""Known-bad example: a fully convolutional head that keeps one prediction per position.

The last convolution gives 10 class scores at each of the 5x5 positions of the last
feature map, and train() copies each image's label onto all 25 positions, as a
segmentation model would be trained. It trains, but the platform's model.predict(x)
returns shape (n, 5, 5, 10) instead of (n, 10) probabilities. Expected: invalid_predictions.
"""

import keras
import numpy as np
from keras import layers


def build_model():
    model = keras.Sequential(
        [
            keras.Input(shape=(28, 28, 1)),
            layers.Conv2D(6, 5, padding="same", activation="relu"),
            layers.MaxPooling2D(2),
            layers.Conv2D(16, 5, activation="relu"),
            layers.MaxPooling2D(2),
            # bug: no Flatten and Dense head, so no single answer per image
            layers.Conv2D(10, 1, activation="softmax"),
        ]
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def train(model, x_train, y_train):
    y_positions = np.broadcast_to(y_train[:, None, None], (len(y_train), 5, 5))
    model.fit(x_train, y_positions, epochs=2, batch_size=128, verbose=2)
    return model
