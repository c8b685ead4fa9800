"""Hostile: opens a raw connection to phone home.

Aimed only at this machine, so that nothing leaves it even if the sandbox were broken: a TCP
connection to 127.0.0.1, on the port of the test's probe listener on the host
(``ASSAY_PROBE_PORT``; else port 9, where nothing listens). Inside a sandbox 127.0.0.1 is
the sandbox's own loopback, so the connection is refused; with the host's network it would
reach the probe.
"""

import os
import socket

import keras

PORT = int(os.environ.get("ASSAY_PROBE_PORT") or 9)


def build_model():
    socket.create_connection(("127.0.0.1", PORT), timeout=5).close()
    return keras.Sequential(
        [keras.Input((28, 28, 1)), keras.layers.Flatten(), keras.layers.Dense(10)]
    )
