"""Source signals for the reviewer: what in a submission's code may carry answers.

Read on the trusted side with ``ast`` (the code is parsed, never executed). Each signal is
a flag on the report, never a failure: an honest solution may embed a small table, and a
hashing import proves nothing by itself. What is looked for, and why:

- the file's size: the references are 2-4 KB; a file of tens of KB is mostly data;
- long string or bytes literals, and base64-looking ones: an encoded model or label table;
- large numeric literals (lists, tuples, sets or dicts of many numbers): a table of labels;
- hashing: ``hashlib``/``zlib``/``binascii`` imports, ``hash()`` calls and ``.tobytes()``,
  the usual way to recognise an input exactly and look up its label.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from sandbox import harness

SIZE_BYTES = 20_000
LONG_LITERAL_CHARS = 1_000
BASE64_CHARS = 200
NUMBERS_IN_LITERAL = 200
HASH_MODULES = ("hashlib", "zlib", "binascii", "mmh3", "xxhash")
HASH_CALLS = {"hash", "tobytes", "md5", "sha1", "sha256", "crc32", "adler32", "digest"}
BASE64 = re.compile(rf"^[A-Za-z0-9+/=\s]{{{BASE64_CHARS},}}$")


def source_flags(path: Path) -> list[dict]:
    """Flags for the submission at ``path`` (a ``.py`` file or a notebook's code cells)."""
    data = path.read_bytes()
    try:
        source, _ = harness.source_from_bytes(data, path.suffix)
        tree = harness.parse(source, path.name)
    except harness.HarnessError:
        return []  # the grading reports why the file cannot be read
    flags = []
    if len(data) > SIZE_BYTES:
        flags.append(_flag(f"the file is {len(data) / 1000:.0f} KB (references: 2-4 KB)"))
    for node in ast.walk(tree):
        flags += _node_flags(node)
    return flags[:20]


def _flag(message: str, line: int | None = None) -> dict:
    flag = {"kind": "source", "message": message}
    if line is not None:
        flag["line"] = line
    return flag


def _node_flags(node: ast.AST) -> list[dict]:
    line = getattr(node, "lineno", None)
    if isinstance(node, ast.Constant) and isinstance(node.value, str | bytes):
        text = node.value if isinstance(node.value, str) else node.value.decode("latin-1")
        if len(text) >= BASE64_CHARS and BASE64.match(text):
            return [_flag(f"a base64-like literal of {len(text):,} characters", line)]
        if len(text) >= LONG_LITERAL_CHARS:
            return [_flag(f"a literal of {len(text):,} characters", line)]
    if isinstance(node, ast.List | ast.Tuple | ast.Set | ast.Dict):
        items = node.values if isinstance(node, ast.Dict) else node.elts
        numbers = sum(
            isinstance(v, ast.Constant) and isinstance(v.value, int | float) for v in items
        )
        if numbers >= NUMBERS_IN_LITERAL:
            return [_flag(f"a literal holding {numbers:,} numbers", line)]
    if isinstance(node, ast.Import | ast.ImportFrom):
        names = [node.module or ""] if isinstance(node, ast.ImportFrom) else []
        names += [alias.name for alias in node.names]
        hashing = sorted({n.split(".")[0] for n in names} & set(HASH_MODULES))
        if hashing:
            return [_flag(f"imports {', '.join(hashing)} (hashing)", line)]
    if isinstance(node, ast.Call):
        func = node.func
        name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
        if name in HASH_CALLS:
            return [_flag(f"calls {name}() (hashing of inputs?)", line)]
    return []
