"""Hostile: writes until the disk is full, in the output folder and in /tmp."""


def build_model():
    block = b"\0" * (8 * 1024 * 1024)
    for path in ("/out/fill.bin", "/tmp/fill.bin"):
        with open(path, "wb") as fh:
            for _ in range(100_000):  # 800 GB
                fh.write(block)
