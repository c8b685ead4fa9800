"""Hostile: kills its own process group."""

import os
import signal


def build_model():
    os.killpg(0, signal.SIGKILL)
