"""Starter for lenet5-mnist: a LeNet-5 handwritten digit classifier.

The grader imports this file and calls:

    build_model()                  -> keras.Model  (required)
    train(model, x_train, y_train) -> keras.Model  (optional)

x_train: float32, shape (n, 28, 28, 1), pixel values scaled to [0, 1].
y_train: int64, shape (n,), class ids 0-9 (not one-hot).

Without train(), the grader compiles an uncompiled model with adam,
sparse_categorical_crossentropy and accuracy, then calls
model.fit(x_train, y_train, epochs=10, batch_size=128, validation_split=0.1).
The platform predicts, not your code: a separate sandbox without this file loads
the saved model with keras.saving.load_model(path, safe_mode=True) and calls
model.predict(x); the output must be probabilities (n, 10) or class ids (n,).
Use standard Keras layers only: a custom layer or a Lambda layer cannot be loaded
there (unsafe_model). The test labels are public; this way a pass means the
model itself reads the digits.

This file runs as it is, but the model below is a placeholder that will not
reach the pass bar. Replace it with a LeNet-5.
"""

import keras
from keras import layers


def build_model():
    """Return the model to train; compiled or not."""
    # TODO: replace this placeholder with LeNet-5:
    #   Conv2D 6 filters 5x5 -> pooling -> Conv2D 16 filters 5x5 -> pooling
    #   -> Flatten -> Dense 120 -> Dense 84 -> Dense 10 (softmax).
    model = keras.Sequential(
        [
            keras.Input(shape=(28, 28, 1)),
            layers.Flatten(),
            layers.Dense(10, activation="softmax"),
        ]
    )
    # TODO: choose the optimizer; the labels are class ids, hence the sparse loss.
    model.compile(
        optimizer="adam",
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


# Optional: uncomment to control training yourself (epochs, batch size, callbacks).
# def train(model, x_train, y_train):
#     model.fit(x_train, y_train, epochs=15, batch_size=64, validation_split=0.1)
#     return model
