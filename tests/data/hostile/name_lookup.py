"""Hostile: resolves a host name (DNS) to phone home."""

import socket

import keras


def build_model():
    socket.getaddrinfo("example.com", 443)
    return keras.Sequential(
        [keras.Input((28, 28, 1)), keras.layers.Flatten(), keras.layers.Dense(10)]
    )
