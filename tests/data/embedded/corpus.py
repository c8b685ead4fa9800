"""Replay-style hostile sources for the embedded-data signal (graders/signals.py).

Each variant carries the same payload (the sample test split as 7x7 two-bit thumbnails,
what a replay needs) in another form: encodings, chunk sizes, number tables, packed
integers. ``TUNING`` was used to choose the thresholds; ``HELD_OUT`` was written at the same
time, before any tuning, and only scored afterwards (docs/grading.md gives both figures).
"""

from __future__ import annotations

import base64
import binascii
import bz2
import lzma
import zlib

import numpy as np

HEAD = "import keras\nimport numpy as np\n\n"
TAIL = (
    "\n\ndef build_model():\n"
    "    return keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Flatten(),\n"
    "                             keras.layers.Dense(10, activation='softmax')])\n"
)


def thumbnails(images: np.ndarray, labels: np.ndarray) -> tuple[bytes, list[int]]:
    """7x7 thumbnails, two bits a pixel, sorted by class; packed bytes and class counts."""
    order = np.argsort(labels, kind="stable")
    small = images[order].reshape(-1, 7, 4, 7, 4).mean(axis=(2, 4)) / 255.0
    levels = np.clip((small * 4).astype(np.uint8), 0, 3).reshape(-1)
    levels = np.concatenate([levels, np.zeros(-len(levels) % 4, dtype=np.uint8)])
    bits = np.stack([levels >> 1, levels & 1], axis=1).reshape(-1)
    counts = np.bincount(labels, minlength=10).tolist()
    return np.packbits(bits).tobytes(), counts


def chunks(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


def _list(name: str, items: list, per_line: int = 1) -> str:
    rows = [
        ", ".join(repr(i) for i in items[k : k + per_line]) for k in range(0, len(items), per_line)
    ]
    return f"{name} = [\n" + "".join(f"    {r},\n" for r in rows) + "]\n"


def b64_single(p: bytes) -> str:
    return (
        HEAD
        + f"import base64\nDATA = {base64.b64encode(p).decode()!r}\n"
        + ("X = np.frombuffer(base64.b64decode(DATA), np.uint8)\n")
        + TAIL
    )


def b85_chunks_60(p: bytes) -> str:
    return (
        HEAD
        + "import base64\n"
        + _list("CHUNKS", chunks(base64.b85encode(p).decode(), 60))
        + ("X = np.frombuffer(base64.b85decode(''.join(CHUNKS)), np.uint8)\n")
        + TAIL
    )


def hex_plus_32(p: bytes) -> str:
    parts = chunks(p.hex(), 32)
    body = " +\n    ".join(repr(c) for c in parts)
    return (
        HEAD + f"DATA = (\n    {body}\n)\nX = np.frombuffer(bytes.fromhex(DATA), np.uint8)\n" + TAIL
    )


def byte_numbers(p: bytes) -> str:
    return HEAD + _list("TABLE", list(p), per_line=16) + "X = np.array(TABLE, np.uint8)\n" + TAIL


def bytes_literal(p: bytes) -> str:
    return HEAD + f"RAW = {p!r}\nX = np.frombuffer(RAW, np.uint8)\n" + TAIL


def zlib_b64_chunks_40(p: bytes) -> str:
    text = base64.b64encode(zlib.compress(p, 9)).decode()
    return (
        HEAD
        + "import base64, zlib\n"
        + _list("PARTS", chunks(text, 40))
        + ("X = np.frombuffer(zlib.decompress(base64.b64decode(''.join(PARTS))), np.uint8)\n")
        + TAIL
    )


# -- held out ------------------------------------------------------------------------------


def lzma_b85_implicit(p: bytes) -> str:
    text = base64.b85encode(lzma.compress(p)).decode()
    body = "\n    ".join(repr(c) for c in chunks(text, 70))
    return (
        HEAD
        + "import base64, lzma\nBLOB = (\n    "
        + body
        + "\n)\n"
        + ("X = np.frombuffer(lzma.decompress(base64.b85decode(BLOB)), np.uint8)\n")
        + TAIL
    )


def a85_chunks_24(p: bytes) -> str:
    return (
        HEAD
        + "import base64\n"
        + _list("A", chunks(base64.a85encode(p).decode(), 24), 3)
        + ("X = np.frombuffer(base64.a85decode(''.join(A)), np.uint8)\n")
        + TAIL
    )


def per_image_rows(p: bytes) -> str:
    rows = [list(p[i : i + 13]) for i in range(0, len(p), 13)]
    text = "ROWS = [\n" + "".join(f"    {r},\n" for r in rows) + "]\n"
    return HEAD + text + "X = np.array([b for r in ROWS for b in r], np.uint8)\n" + TAIL


def big_integers(p: bytes) -> str:
    ints = [int.from_bytes(c, "big") for c in (p[i : i + 400] for i in range(0, len(p), 400))]
    return (
        HEAD
        + _list("PACKED", ints)
        + ("X = b''.join(v.to_bytes(400, 'big') for v in PACKED)\n")
        + TAIL
    )


def bz2_hex_many_names(p: bytes) -> str:
    text = binascii.hexlify(bz2.compress(p)).decode()
    parts = chunks(text, 48)
    names = "".join(f"P{i} = {c!r}\n" for i, c in enumerate(parts))
    joined = " + ".join(f"P{i}" for i in range(len(parts)))
    return (
        HEAD
        + "import binascii, bz2\n"
        + names
        + (f"X = bz2.decompress(binascii.unhexlify({joined}))\n")
        + TAIL
    )


def spaced_base64(p: bytes) -> str:
    text = " ".join(chunks(base64.b64encode(p).decode(), 8))
    return (
        HEAD
        + "import base64\n"
        + _list("S", chunks(text, 90))
        + ("X = base64.b64decode(''.join(S).replace(' ', ''))\n")
        + TAIL
    )


def float_table(p: bytes) -> str:
    values = [round(b / 255, 3) for b in p]
    return HEAD + _list("W", values, per_line=10) + "X = (np.array(W) * 255).round()\n" + TAIL


def dict_of_chunks(p: bytes) -> str:
    text = base64.b64encode(lzma.compress(p)).decode()
    table = {i: c for i, c in enumerate(chunks(text, 30))}
    body = "".join(f"    {k}: {v!r},\n" for k, v in table.items())
    return (
        HEAD
        + "import base64, lzma\nD = {\n"
        + body
        + "}\n"
        + ("X = lzma.decompress(base64.b64decode(''.join(D[k] for k in sorted(D))))\n")
        + TAIL
    )


TUNING = {
    "b64_single": b64_single,
    "b85_chunks_60": b85_chunks_60,
    "hex_plus_32": hex_plus_32,
    "byte_numbers": byte_numbers,
    "bytes_literal": bytes_literal,
    "zlib_b64_chunks_40": zlib_b64_chunks_40,
}
HELD_OUT = {
    "lzma_b85_implicit": lzma_b85_implicit,
    "a85_chunks_24": a85_chunks_24,
    "per_image_rows": per_image_rows,
    "big_integers": big_integers,
    "bz2_hex_many_names": bz2_hex_many_names,
    "spaced_base64": spaced_base64,
    "float_table": float_table,
    "dict_of_chunks": dict_of_chunks,
}
