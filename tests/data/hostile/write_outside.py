"""Hostile: tries to write everywhere except /out and /tmp, then trains a model.

Prints WROTE:<path> for every write that succeeded; the test expects none.
"""

import os

import keras

TARGETS = [
    "/job/evil.txt",
    "/usr/evil.txt",
    "/evil.txt",
    "/etc/evil.txt",
    "/home/evil.txt",
    "/var/evil.txt",
    os.path.expanduser("~/../evil.txt"),
]


def build_model():
    for path in TARGETS:
        try:
            with open(path, "w") as fh:
                fh.write("pwned")
            print(f"WROTE:{path}")
        except OSError:
            pass
    return keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            keras.layers.Flatten(),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
