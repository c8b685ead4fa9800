"""Hostile: opens a raw connection to an outside address."""

import socket

import keras


def build_model():
    socket.create_connection(("1.1.1.1", 53), timeout=5)
    return keras.Sequential(
        [keras.Input((28, 28, 1)), keras.layers.Flatten(), keras.layers.Dense(10)]
    )
