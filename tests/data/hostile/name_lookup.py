"""Hostile: looks a host name up (DNS) to phone home.

Aimed only at this machine, so that nothing leaves it even if the sandbox were broken: the
query is sent by hand, over UDP, to a resolver on 127.0.0.1 (the test's probe listener on
the host, ``ASSAY_PROBE_PORT``; else port 9, where nothing answers). The system resolver is
not used: its servers come from the host's /etc/resolv.conf (Docker copies it into every
container), outside addresses a broken sandbox would really query. The name is under
``.invalid`` (RFC 6761), which no real resolver answers either.
"""

import os
import socket
import struct

import keras

PORT = int(os.environ.get("ASSAY_PROBE_PORT") or 9)
NAME = "phone-home.assay.invalid"


def dns_query(name: str) -> bytes:
    """A standard query for the A record of ``name`` (id 0x4153, recursion desired)."""
    labels = b"".join(bytes([len(part)]) + part for part in name.encode().split(b"."))
    return struct.pack(">HHHHHH", 0x4153, 0x0100, 1, 0, 0, 0) + labels + b"\0\0\1\0\1"


def build_model():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(5)
        sock.connect(("127.0.0.1", PORT))
        sock.send(dns_query(NAME))
        sock.recv(512)  # refused inside a sandbox: nothing listens on its own loopback
    return keras.Sequential(
        [keras.Input((28, 28, 1)), keras.layers.Flatten(), keras.layers.Dense(10)]
    )
