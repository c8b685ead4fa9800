"""Copying a sandbox's ``/out`` to the host from an untrusted tar stream.

Both backends keep ``/out`` in a size-limited tmpfs inside the sandbox and hand it over
as a tar stream after the job. The stream is written by (or under the influence of) the
submission, so extraction trusts nothing: only regular files and directories with
relative, normalised names are written; links, devices, FIFOs and anything naming a
path outside the destination are skipped; the total size and the member count are
capped while reading, so an endless stream cannot fill the host disk.
"""

from __future__ import annotations

import io
import logging
import os
import shutil
import tarfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

log = logging.getLogger(__name__)

MAX_MEMBERS = 10_000
BLOCK = 4096
#: Room for tar headers (512 bytes each, more for long names) on top of the file data.
HEADER_ALLOWANCE = MAX_MEMBERS * 1024


@dataclass
class ExtractResult:
    """What ``safe_extract`` did.

    ``exceeded``: the archive held more than the capacity or ``MAX_MEMBERS`` (extraction
    stopped); ``full``: the files fill the sandbox's ``/out`` to its last block, i.e. a
    write there most likely failed for lack of space.
    """

    files: int = 0
    used_bytes: int = 0
    exceeded: bool = False
    full: bool = False
    skipped: list[str] = field(default_factory=list)
    error: str | None = None


def safe_extract(stream: io.RawIOBase, dest: Path, capacity: int) -> ExtractResult:
    """Extract the tar ``stream`` into ``dest``; ``capacity`` is the size of ``/out``."""
    result = ExtractResult()
    limited = LimitedReader(stream, capacity + HEADER_ALLOWANCE)
    try:
        with tarfile.open(fileobj=limited, mode="r|") as tar:
            for count, member in enumerate(tar):
                result.used_bytes += -(-max(member.size, 0) // BLOCK) * BLOCK
                if result.used_bytes > capacity or count >= MAX_MEMBERS:
                    result.exceeded = True
                    break
                _extract_member(tar, member, dest, result)
    except (tarfile.TarError, OSError, EOFError) as exc:
        result.error = f"{type(exc).__name__}: {exc}"
        result.exceeded = result.exceeded or limited.exhausted
        log.debug("output archive unreadable: %s", result.error)
    result.full = result.used_bytes + BLOCK > capacity
    return result


def _extract_member(tar: tarfile.TarFile, member: tarfile.TarInfo, dest: Path, result) -> None:
    relative = _safe_relative(member.name)
    if relative == PurePosixPath(".") and member.isdir():
        return
    if (
        relative is None
        or relative == PurePosixPath(".")
        or not (member.isfile() or member.isdir())
    ):
        result.skipped.append(member.name)
        return
    target = dest.joinpath(*relative.parts)
    if member.isdir():
        _make_dir(dest, relative)
        return
    _make_dir(dest, relative.parent)
    source = tar.extractfile(member)
    # O_EXCL|O_NOFOLLOW: never write through a link or over something already there.
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
    with os.fdopen(fd, "wb") as out:
        shutil.copyfileobj(source, out)
    result.files += 1


def _safe_relative(name: str) -> PurePosixPath | None:
    """``name`` as a normalised relative path, or None when it could leave the destination."""
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts or "\x00" in name:
        return None
    parts = [part for part in path.parts if part != "."]
    return PurePosixPath(*parts) if parts else PurePosixPath(".")


def _make_dir(dest: Path, relative: PurePosixPath) -> None:
    current = dest
    for part in relative.parts:
        if part == ".":
            continue
        current = current / part
        if current.is_symlink():
            raise OSError(f"refusing to write through a link: {current}")
        current.mkdir(mode=0o755, exist_ok=True)


class LimitedReader(io.RawIOBase):
    """Reads at most ``limit`` bytes of ``stream``, then raises (bounds memory and disk)."""

    def __init__(self, stream, limit: int):
        self._stream = stream
        self._left = limit
        self.exhausted = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        if self._left <= 0:
            self.exhausted = True
            raise OSError("output archive larger than allowed")
        view = memoryview(buffer)[: self._left]
        data = self._stream.read(len(view))
        if not data:
            return 0
        view[: len(data)] = data
        self._left -= len(data)
        return len(data)


class ChunkReader(io.RawIOBase):
    """A readable file over an iterator of byte chunks (e.g. a Docker response stream)."""

    def __init__(self, chunks: Iterable[bytes]):
        self._chunks: Iterator[bytes] = iter(chunks)
        self._pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        while not self._pending:
            try:
                self._pending = next(self._chunks)
            except StopIteration:
                return 0
        size = min(len(buffer), len(self._pending))
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size
