"""Reference solution for lenet5-mnist (function mode).

A LeNet-5 in the layout of LeCun et al. (1998): two convolution + pooling
stages followed by three fully connected layers. The platform predicts: it loads
the saved model with Keras safe_mode and calls model.predict, which returns the
class probabilities, shape (n, 10). ReLU replaces the original
squashing activations: with Adam and a few thousand images, sigmoid units
saturate and need many more epochs to reach the same accuracy.
"""

import keras
from keras import layers


def build_model():
    """Return a compiled LeNet-5 for 28x28x1 inputs and 10 classes."""
    model = keras.Sequential(
        [
            keras.Input(shape=(28, 28, 1)),
            # padding="same" gives 28x28 maps, as the paper got from 32x32 inputs without padding.
            layers.Conv2D(6, 5, padding="same", activation="relu"),
            layers.MaxPooling2D(2),
            layers.Conv2D(16, 5, activation="relu"),
            layers.MaxPooling2D(2),
            layers.Flatten(),
            layers.Dense(120, activation="relu"),
            layers.Dense(84, activation="relu"),
            layers.Dense(10, activation="softmax"),
        ],
        name="lenet5",
    )
    model.compile(
        optimizer="adam",
        loss="sparse_categorical_crossentropy",  # labels are class ids 0-9, not one-hot
        metrics=["accuracy"],
    )
    return model


def train(model, x_train, y_train):
    """Fit for 15 epochs, holding out 10% of the train split for validation."""
    model.fit(
        x_train,
        y_train,
        epochs=15,
        batch_size=64,
        validation_split=0.1,
        verbose=2,
    )
    return model
