"""Hostile: prints gigabytes to stdout."""

import sys


def build_model():
    line = "x" * 1023 + "\n"
    for _ in range(4 * 1024 * 1024):  # 4 GiB
        sys.stdout.write(line)
