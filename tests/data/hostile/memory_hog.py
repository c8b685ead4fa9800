"""Hostile: allocates far more memory than any limit, touching every page."""


def build_model():
    blocks = []
    while True:
        blocks.append(bytearray(64 * 1024 * 1024))
