"""Hostile: forks without end and swallows every error, so nothing ever raises."""

import os


def build_model():
    while True:
        try:  # noqa: SIM105 (spelled out: this is what a hostile submission writes)
            os.fork()
        except OSError:  # BlockingIOError at the pids limit: ignore it and try again
            pass
