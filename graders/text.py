"""Making text from a sandbox safe to show: no terminal control, no spoofing, valid UTF-8.

Candidate code decides what it prints and what strings it leaves in its results. Shown raw,
an escape sequence clears a reviewer's terminal and draws a fake "PASSED", OSC 52 writes
their clipboard, a right-to-left override reorders a line, and a lone surrogate makes the
JSON encoder (or the database driver) raise. ``clean`` turns every such character into a
visible escape (``\\x1b``, ``\\u202e``) and keeps newlines and tabs where asked.
"""

from __future__ import annotations

import re

# C0 and C1 controls (but \t \n handled separately), DEL, bidirectional overrides and
# isolates, line/paragraph separators, zero-width joiners used to hide text.
_UNSAFE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2066-\u2069\ufeff]")
_UNSAFE_ONE_LINE = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2066-\u2069\ufeff]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")


def without_surrogates(text: str) -> str:
    """``text`` with lone surrogates (valid in JSON escapes, not in UTF-8) as U+FFFD."""
    return _SURROGATE.sub("\ufffd", text)


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def clean(text: object, *, multiline: bool = True, limit: int | None = None) -> str:
    """``text`` as a safe string: controls escaped, surrogates replaced, at most ``limit`` chars.

    ``multiline`` keeps ``\\n`` and ``\\t`` (logs, tracebacks); otherwise they are escaped
    too (names, messages shown on one line). Non-strings are converted with ``str``.
    """
    if not isinstance(text, str):
        text = str(text)
    if limit is not None and len(text) > limit:
        text = text[:limit] + "…"
    text = without_surrogates(text)
    return (_UNSAFE if multiline else _UNSAFE_ONE_LINE).sub(_escape, text)
