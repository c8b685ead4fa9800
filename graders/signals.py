"""Source signals for the reviewer: what in a submission's code may carry answers.

Read on the trusted side with ``ast`` (the code is parsed, never executed). What is looked
for, and why:

- **embedded data, seen as a whole** (kind ``embedded_data``): a replay ships the test set's
  answers inside the file, cut in chunks short enough to pass any per-literal check. So the
  literals of the whole file are measured together: every string or bytes literal that is
  not prose, and every number inside a list, tuple, set or dict display (or a huge integer),
  is joined and compressed; the compressed size estimates the information the file carries
  (an encoded blob does not shrink, the honest files' layer names and settings do). Above
  ``PAYLOAD_BYTES`` the file is flagged, with the lines that hold the most and the encodings
  recognised (hex, base64, base85/ascii85, or high entropy). The calls that unpack such
  data (zlib, lzma, bz2, gzip, base64, binascii, pickle, marshal, ``np.frombuffer``,
  ``np.unpackbits``...) are named with their lines when the file carries data or the call
  is applied to a literal. Code of more than ``SIZE_BYTES`` is flagged too (the references
  are 2-4 KB; data coded as words would make a file of hundreds of KB).
- **hashing** (kind ``source``): ``hashlib``/``zlib``/``binascii`` imports, ``hash()`` calls
  and ``.tobytes()``, the usual way to recognise an input exactly and look up its label;
  a hint only, it proves nothing by itself.

An ``embedded_data`` flag on a pass makes it "passed, flagged for review"
(``graders.verdicts``); a ``source`` flag is a note. Thresholds and the measurements they
come from: docs/grading.md, "Embedded data".
"""

from __future__ import annotations

import ast
import math
import re
import zlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from sandbox import harness

#: Code (a notebook's code cells) larger than this is mostly data (references: 2-4 KB).
SIZE_BYTES = 20_000
#: Compressed bytes of the file's non-prose literals that flag it (honest files: <= 115).
PAYLOAD_BYTES = 1_024
#: With at least this much, an unpacking call is named even when its argument is a name.
UNPACK_PAYLOAD_BYTES = 256
#: A literal's own data must reach this many characters for its encoding to be named.
ENCODED_CHARS = 64
#: Bits per character above which a literal counts as high-entropy (English text: ~4.1).
HIGH_ENTROPY_BITS = 5.2
#: Lines named in a flag, the largest contributors first.
LINES_NAMED = 8

HASH_MODULES = ("hashlib", "zlib", "binascii", "mmh3", "xxhash")
HASH_CALLS = {"hash", "tobytes", "md5", "sha1", "sha256", "crc32", "adler32", "digest"}
#: Calls that turn a literal back into data: (module or object, function) or a bare name.
UNPACK_CALLS = {
    "decompress",
    "decompressobj",
    "LZMADecompressor",
    "BZ2Decompressor",
    "b64decode",
    "standard_b64decode",
    "urlsafe_b64decode",
    "b32decode",
    "b16decode",
    "b85decode",
    "a85decode",
    "decodebytes",
    "unhexlify",
    "a2b_base64",
    "a2b_hex",
    "fromhex",
    "frombuffer",
    "unpackbits",
    "loads",
    "from_bytes",
}
#: ``loads`` and ``decompress`` are unpacking only on these modules (``json.loads`` is not).
UNPACK_MODULES = {
    "loads": {"pickle", "marshal", "cloudpickle", "dill"},
    "decompress": {"zlib", "lzma", "bz2", "gzip", "zstd", "brotli"},
}

HEX = re.compile(r"[0-9a-fA-F]+")
BASE64 = re.compile(r"[A-Za-z0-9+/=_-]+")
BASE85 = re.compile(r"[0-9A-Za-z!#$%&()*+\-;<=>?@^_`{|}~]+")
ASCII85 = re.compile(r"[!-u]+")
WORD = re.compile(r"[^\W\d_]+(?:['’\-：，、；。][^\W\d_]+)*[.,;:!?)\"'”」。，：；]*")


@dataclass
class _Piece:
    line: int
    text: str  # what the literal carries, as text


@dataclass
class _Found:
    pieces: list[_Piece] = field(default_factory=list)
    unpacks: list[tuple[str, int, bool]] = field(default_factory=list)  # name, line, on literal
    hashing: list[dict] = field(default_factory=list)


def source_flags(path: Path) -> list[dict]:
    """Flags for the submission at ``path`` (a ``.py`` file or a notebook's code cells)."""
    try:
        source, _ = harness.source_from_bytes(path.read_bytes(), path.suffix)
        tree = harness.parse(source, path.name)
    except harness.HarnessError:
        return []  # the grading reports why the file cannot be read
    return flags_for(tree, len(source.encode("utf-8")))


def flags_for(tree: ast.AST, code_bytes: int) -> list[dict]:
    """The flags of a parsed module whose code is ``code_bytes`` long."""
    found = _Found()
    _walk(tree, found)
    flags = []
    if code_bytes > SIZE_BYTES:
        flags.append(
            _flag(
                "embedded_data",
                f"the code is {code_bytes / 1000:.0f} KB (references: 2-4 KB): mostly data?",
            )
        )
    measure = measure_payload(found.pieces)
    if measure.compressed >= PAYLOAD_BYTES:
        flags.append(_flag("embedded_data", _payload_message(measure), measure.lines[0]))
    for name, line, on_literal in found.unpacks:
        if on_literal or measure.compressed >= UNPACK_PAYLOAD_BYTES:
            flags.append(_flag("embedded_data", f"unpacks embedded data: calls {name}()", line))
    flags += found.hashing
    return flags[:20]


@dataclass
class Payload:
    """The file's non-prose literals, measured together."""

    chars: int
    compressed: int  # zlib level 9 of their text joined: an estimate of the information
    lines: list[int]  # the largest contributors first
    encodings: list[str]


def measure_payload(pieces: list[_Piece]) -> Payload:
    if not pieces:
        return Payload(0, 0, [0], [])
    joined = "\n".join(p.text for p in pieces).encode("utf-8", "surrogatepass")
    per_line: Counter = Counter()
    for p in pieces:
        per_line[p.line] += len(p.text)
    encodings: Counter = Counter()
    for p in pieces:
        kind = encoding_of(p.text)
        if kind:
            encodings[kind] += len(p.text)
    # Chunks of one blob are classified one by one; short ones too, once the file holds a lot.
    return Payload(
        chars=sum(len(p.text) for p in pieces),
        compressed=len(zlib.compress(joined, 9)),
        lines=[line for line, _ in per_line.most_common()],
        encodings=[kind for kind, chars in encodings.most_common() if chars >= ENCODED_CHARS],
    )


def encoding_of(text: str) -> str | None:
    """The encoding a data literal looks like: hex, base64, base85, ascii85, high entropy."""
    if len(text) < 8:
        return None
    if HEX.fullmatch(text) and any(c.isdigit() for c in text):
        return "hex"
    mixed = sum(1 for test in (str.isdigit, str.isupper, str.islower) if any(map(test, text)))
    if BASE64.fullmatch(text) and mixed >= 2:
        return "base64"
    if BASE85.fullmatch(text) and mixed >= 2:
        return "base85"
    if ASCII85.fullmatch(text) and mixed >= 2:
        return "ascii85"
    if len(text) >= ENCODED_CHARS and entropy(text) >= HIGH_ENTROPY_BITS:
        return "high-entropy"
    return None


def entropy(text: str) -> float:
    """Shannon entropy in bits per character."""
    counts = Counter(text)
    n = len(text)
    return -sum(c / n * math.log2(c / n) for c in counts.values())


def is_prose(text: str) -> bool:
    """Words separated by spaces (docstrings, messages, comments in strings): not data."""
    tokens = text.split()
    if len(tokens) < 3:
        return False
    words = sum(len(t) for t in tokens if _is_word(t))
    return words >= 0.6 * sum(len(t) for t in tokens)


def _is_word(token: str) -> bool:
    """Shaped like a word of prose: lower case, Capitalised or a short acronym (a run of
    base64 letters such as ``AAAAAAAA`` or ``aTXrKHPj`` is not)."""
    if not WORD.fullmatch(token):
        return False
    core = token.rstrip(".,;:!?)\"'”」。，")
    return (
        core.islower()
        or core.istitle()
        or (core.isupper() and len(core) <= 6)
        or not any(c.isupper() or c.islower() for c in core)
    )


def _payload_message(measure: Payload) -> str:
    lines = sorted(measure.lines[:LINES_NAMED])
    more = len(measure.lines) - len(lines)
    where = ", ".join(map(str, lines)) + (f" and {more} more" if more > 0 else "")
    kinds = f", encoded as {', '.join(measure.encodings)}" if measure.encodings else ""
    return (
        f"embedded data: {measure.chars:,} characters of literals across the file "
        f"(about {measure.compressed / 1000:.1f} KB compressed){kinds}; lines {where}"
    )


def _flag(kind: str, message: str, line: int | None = None) -> dict:
    flag = {"kind": kind, "message": message}
    if line is not None:
        flag["line"] = line
    return flag


def _walk(tree: ast.AST, found: _Found) -> None:
    for node in ast.walk(tree):
        line = getattr(node, "lineno", None)
        if isinstance(node, ast.Constant):
            _constant(node, found)
        elif isinstance(node, ast.List | ast.Tuple | ast.Set | ast.Dict):
            items = node.values + node.keys if isinstance(node, ast.Dict) else node.elts
            numbers = [
                repr(v.value)
                for v in items
                if isinstance(v, ast.Constant)
                and isinstance(v.value, int | float | complex)
                and not isinstance(v.value, bool)
            ]
            if numbers:
                found.pieces.append(_Piece(line or 0, ",".join(numbers)))
        elif isinstance(node, ast.Import | ast.ImportFrom):
            names = [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            names += [alias.name for alias in node.names]
            hashing = sorted({n.split(".")[0] for n in names} & set(HASH_MODULES))
            if hashing:
                found.hashing.append(
                    _flag("source", f"imports {', '.join(hashing)} (hashing)", line)
                )
        elif isinstance(node, ast.Call):
            _call(node, found)


def _constant(node: ast.Constant, found: _Found) -> None:
    value, line = node.value, getattr(node, "lineno", 0)
    if isinstance(value, bytes):
        found.pieces.append(_Piece(line, value.decode("latin-1")))
    elif isinstance(value, str) and value and not is_prose(value):
        found.pieces.append(_Piece(line, value))
    elif isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**20:
        found.pieces.append(_Piece(line, str(value)))  # a table packed into one integer


def _call(node: ast.Call, found: _Found) -> None:
    func = node.func
    name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
    line = getattr(node, "lineno", None)
    if name in HASH_CALLS:
        found.hashing.append(_flag("source", f"calls {name}() (hashing of inputs?)", line))
    if name not in UNPACK_CALLS:
        return
    owner = _dotted(func.value) if isinstance(func, ast.Attribute) else ""
    modules = UNPACK_MODULES.get(name)
    # ``json.loads`` is not unpacking; a bare ``decompress(...)`` (from lzma import ...) is.
    if modules is not None and owner and owner.split(".")[-1] not in modules:
        return
    on_literal = any(_is_literal(a) for a in node.args)
    found.unpacks.append((f"{owner}.{name}" if owner else name, line or 0, on_literal))


def _dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return "..."


def _is_literal(node: ast.AST) -> bool:
    """A literal, or literals joined (``"a" "b"``, ``"".join([...])``, ``b"" + b""``)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str | bytes):
        return True
    if isinstance(node, ast.BinOp):
        return _is_literal(node.left) or _is_literal(node.right)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        if node.func.attr == "join":  # "".join(["...", "..."]), not "".join(NAME)
            return any(
                isinstance(a, ast.List | ast.Tuple) and a.elts and all(map(_is_literal, a.elts))
                for a in node.args
            )
        if node.func.attr == "encode":  # "...".encode()
            return _is_literal(node.func.value)
    return False
