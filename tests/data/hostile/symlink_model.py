"""Hostile: leaves a symlink where the trained model should be."""

import os

import keras


def build_model():
    def save(self, path, *args, **kwargs):
        os.symlink("/etc/passwd", path)

    keras.Model.save = save
    return keras.Sequential(
        [keras.Input((28, 28, 1)), keras.layers.Flatten(), keras.layers.Dense(10)]
    )


def train(model, x, y):
    return model
