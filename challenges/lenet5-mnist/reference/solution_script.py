"""Reference solution for lenet5-mnist in script mode.

A plain Keras script: load MNIST, scale it, train a LeNet-5, evaluate. Under
the grader, load_data() serves the challenge's train split (its second pair is
a validation slice of that split, not the hidden test set) and the last model
passed to fit() is the one that gets graded.
"""

import numpy as np
from tensorflow import keras

(x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()

# uint8 (n, 28, 28) -> float32 (n, 28, 28, 1) in [0, 1], the form the grader's test inputs have.
x_train = np.expand_dims(x_train.astype("float32") / 255.0, -1)
x_test = np.expand_dims(x_test.astype("float32") / 255.0, -1)

model = keras.Sequential(
    [
        keras.Input(shape=(28, 28, 1)),
        keras.layers.Conv2D(6, 5, padding="same", activation="relu"),
        keras.layers.MaxPooling2D(2),
        keras.layers.Conv2D(16, 5, activation="relu"),
        keras.layers.MaxPooling2D(2),
        keras.layers.Flatten(),
        keras.layers.Dense(120, activation="relu"),
        keras.layers.Dense(84, activation="relu"),
        keras.layers.Dense(10, activation="softmax"),
    ]
)
# Integer labels with the sparse loss; one-hot labels with categorical_crossentropy work as well.
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
model.fit(x_train, y_train, epochs=15, batch_size=64, validation_data=(x_test, y_test), verbose=2)

loss, accuracy = model.evaluate(x_test, y_test, verbose=0)
print(f"validation loss {loss:.4f}, accuracy {accuracy:.4f}")
