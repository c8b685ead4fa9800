"""An honest LeNet variant written the long way: a long docstring, a stop-word style list of
class names, a learning-rate schedule table, per-class weights and explanatory messages.

Nothing here is data about the test set. The embedded-data signal must leave it alone: a
reviewer who sees a flag on this file learns to ignore flags. The text goes on for a while,
as students' explanations do, because the statement asks for the reasoning behind each layer
choice, the optimiser, the schedule and the regularisation, and a thorough candidate writes
it all down in the module docstring instead of a separate file. LeNet-5 uses two
convolution/pooling stages followed by three dense layers; the original used tanh and
average pooling, this one ReLU and max pooling, which train faster on MNIST. Adam with a
step schedule converges in a few epochs; dropout keeps the dense part from memorising.

模型说明：两层卷积和池化，然后三层全连接；学习率按表格逐步下降，类别权重保持均衡。
"""

import keras
import numpy as np

CLASS_NAMES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
CLASS_WEIGHTS = {
    0: 1.0,
    1: 0.9,
    2: 1.05,
    3: 1.0,
    4: 1.02,
    5: 1.1,
    6: 1.0,
    7: 0.98,
    8: 1.05,
    9: 1.03,
}
SCHEDULE = [
    (0, 1e-3),
    (2, 8e-4),
    (4, 6e-4),
    (6, 4e-4),
    (8, 2e-4),
    (10, 1e-4),
    (12, 8e-5),
    (14, 6e-5),
    (16, 4e-5),
    (18, 2e-5),
    (20, 1e-5),
]
FILTERS = (6, 16)
DENSE = (120, 84)
KERNEL = (5, 5)
AUGMENT = {"rotation": 0.05, "zoom": 0.1, "translation": (0.1, 0.1), "contrast": 0.1}
MESSAGES = {
    "start": "training LeNet-5 with a step learning-rate schedule",
    "done": "finished training; the best validation accuracy was kept",
    "warn": "the validation loss went up for two epochs in a row",
}


def schedule(epoch, lr):
    rate = lr
    for start, value in SCHEDULE:
        if epoch >= start:
            rate = value
    return rate


def build_model():
    model = keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            keras.layers.Conv2D(FILTERS[0], KERNEL, padding="same", activation="relu"),
            keras.layers.MaxPooling2D(),
            keras.layers.Conv2D(FILTERS[1], KERNEL, activation="relu"),
            keras.layers.MaxPooling2D(),
            keras.layers.Flatten(),
            keras.layers.Dense(DENSE[0], activation="relu"),
            keras.layers.Dropout(0.25),
            keras.layers.Dense(DENSE[1], activation="relu"),
            keras.layers.Dense(10, activation="softmax"),
        ],
        name="lenet5_long_form",
    )
    model.compile(
        optimizer=keras.optimizers.Adam(SCHEDULE[0][1]),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


def train(model, x_train, y_train):
    print(MESSAGES["start"])
    weights = {k: float(v) for k, v in CLASS_WEIGHTS.items()}
    model.fit(
        x_train,
        y_train,
        epochs=12,
        batch_size=128,
        validation_split=0.1,
        class_weight=weights,
        callbacks=[keras.callbacks.LearningRateScheduler(schedule)],
        verbose=2,
    )
    print(MESSAGES["done"], np.round(model.history.history["val_accuracy"][-1], 4))
    return model
