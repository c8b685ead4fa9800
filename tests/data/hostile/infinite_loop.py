"""Hostile: never returns from build_model."""


def build_model():
    while True:
        pass
