"""Hostile: trains for a few seconds, then never returns from predict().

The predict phase's time limit must count from the moment the trained model is
handed over, not from when its sandbox was started (during training).
"""

import time

import keras


def build_model():
    inputs = keras.Input((28, 28, 1))
    pooled = keras.layers.GlobalAveragePooling2D()(inputs)
    return keras.Model(inputs, keras.layers.Dense(10, activation="softmax")(pooled))


def train(model, x_train, y_train):
    time.sleep(8)
    return model


def predict(model, x):
    while True:
        time.sleep(1)
