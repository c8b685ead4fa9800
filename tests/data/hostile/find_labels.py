"""Hostile: searches the whole file system for the hidden test labels.

Prints FOUND:<path> for the label files of a prepared dataset (test_y.npy, ood_y.npy) or a
dataset folder (public/ beside hidden/); the test expects none: only the train split and
the job's own files are visible in the sandbox.
"""

import os

import keras

LABEL_FILES = {"test_y.npy", "ood_y.npy"}


def build_model():
    for root, dirs, files in os.walk("/", onerror=lambda e: None):
        dirs[:] = [d for d in dirs if d not in ("proc", "sys", "dev")]
        for name in LABEL_FILES.intersection(files):
            print(f"FOUND:{os.path.join(root, name)}")
        if {"public", "hidden"} <= set(dirs):
            print(f"FOUND:{root}")
    return keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            keras.layers.Flatten(),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
