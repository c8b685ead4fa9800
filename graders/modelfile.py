"""What a saved ``.keras`` model carries besides its weights, measured on the host.

``count_params()`` sees weights only. A Keras model also keeps numbers in its ``config.json``
(a ``Rescaling`` layer's ``offset``, a ``Normalization``'s ``mean``, a lookup layer's
``vocabulary``) and in its assets (the vocabulary files of ``TextVectorization`` and the
lookup layers). Each of those can hold a copy of the test set, so the model budget counts them
all. The file comes from the candidate's sandbox: it is read here as hostile input, with
caps checked before anything is parsed.

Rules, each a refusal (``unsafe_model``) with a message that names what broke it:

1. At most ``MAX_ENTRIES`` files in the archive, none a link; ``config.json`` at most
   ``CONFIG_MAX_BYTES``, the assets together at most ``ASSETS_MAX_BYTES`` (sizes as read,
   not as the archive's directory claims).
2. No array in a layer's settings longer than ``ARRAY_MAX`` values (nested lists counted
   flat): data belongs in weights, which the budget and the shadow test see.
3. Every number in ``config.json`` counts one, every string in an array counts one (a
   vocabulary entry), every line of a text asset counts one, any other asset one per 4 bytes;
   identical assets (Keras saves a ``TextVectorization``'s vocabulary twice) count once.
"""

from __future__ import annotations

import hashlib
import json
import math
import stat
import struct
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sandbox import harness

MAX_ENTRIES = 256
CONFIG_MAX_BYTES = 256 * 1024
ASSETS_MAX_BYTES = 2 * 1024 * 1024
ARRAY_MAX = 64
#: Files of a ``.keras`` archive that are not assets.
_OWN = ("config.json", "metadata.json", "model.weights.h5", "model.weights.npz")


class ModelRejected(Exception):
    """The saved model breaks a rule above; ``code`` is the report's error class."""

    def __init__(self, message: str, code: str = "unsafe_model"):
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Carried:
    """What the model keeps outside its weights (counted into the parameter budget)."""

    config_numbers: int
    asset_entries: int
    config_bytes: int
    assets_bytes: int
    largest_array: int

    @property
    def numbers(self) -> int:
        return self.config_numbers + self.asset_entries


def _read(archive: zipfile.ZipFile, info: zipfile.ZipInfo, cap: int, what: str) -> bytes:
    """At most ``cap`` bytes of an entry, however large its directory says it is."""
    if stat.S_ISLNK(info.external_attr >> 16):
        raise ModelRejected(f"the saved model holds a link ({info.filename!r})")
    with archive.open(info) as f:
        data = f.read(cap + 1)
    if len(data) > cap:
        raise ModelRejected(
            f"{what} is larger than {cap // 1024:,} KiB; the limit is there to "
            "keep data out of the model: keep numbers in weights"
        )
    return data


def _layer_label(node: dict) -> str:
    cfg = node.get("config")
    name = cfg.get("name") if isinstance(cfg, dict) else None
    kind = node.get("class_name")
    return f"layer {str(name)[:64]!r} ({str(kind)[:64]})" if name else f"{str(kind)[:64]}"


def _flat(value: list) -> tuple[int, list[dict]]:
    """(values, dicts) in a list, nested lists counted flat: numbers and strings are values."""
    stack, values, dicts = [value], 0, []
    while stack:
        for item in stack.pop():
            if isinstance(item, list):
                stack.append(item)
            elif isinstance(item, dict):
                dicts.append(item)
            elif isinstance(item, int | float | str) and not isinstance(item, bool):
                values += 1
    return values, dicts


def config_numbers(config: Any) -> tuple[int, int]:
    """(numbers counted, largest array) in a model config; ``ModelRejected`` past ``ARRAY_MAX``.

    Iterative (no recursion limit to trip), so a deeply nested config is measured too.
    """
    count, largest = 0, 0
    stack: list[tuple[Any, str, str]] = [(config, "the model", "")]
    while stack:
        node, layer, key = stack.pop()
        if isinstance(node, dict):
            if "class_name" in node and isinstance(node.get("config"), dict):
                layer = _layer_label(node)
            for k, v in node.items():
                stack.append((v, layer, str(k)))
        elif isinstance(node, list):
            values, dicts = _flat(node)
            largest = max(largest, values)
            if values > ARRAY_MAX:
                raise ModelRejected(
                    f"{layer} keeps an array of {values:,} values in its setting "
                    f"{key[:64]!r}; arrays in layer settings may hold at most {ARRAY_MAX} "
                    "(data belongs in weights, which the model budget counts)"
                )
            count += values  # a string in an array counts too: a vocabulary entry
            stack.extend((item, layer, key) for item in dicts)
        elif isinstance(node, int | float) and not isinstance(node, bool):
            count += 1
    return count, largest


def _asset_entries(data: bytes, name: str) -> int:
    if name.endswith(".txt"):
        return sum(1 for line in data.split(b"\n") if line.strip())
    return math.ceil(len(data) / 4)


def _directory_fits(path: Path) -> None:
    """Refuse an archive whose central directory is too big before ``zipfile`` reads it all:
    millions of entries would cost the host gigabytes of ``ZipInfo`` objects."""
    with path.open("rb") as f:
        f.seek(0, 2)
        size = f.tell()
        f.seek(max(0, size - (22 + 65535)))  # the end record, after a comment of up to 64 KiB
        tail = f.read()
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or len(tail) - at < 22:
        return  # not a zip: ZipFile says so
    entries, directory_bytes = struct.unpack("<HL", tail[at + 10 : at + 16])
    if entries > MAX_ENTRIES or directory_bytes > MAX_ENTRIES * 1024:
        raise ModelRejected(
            f"the saved model holds {entries:,} files ({directory_bytes:,} bytes of directory); "
            f"at most {MAX_ENTRIES}"
        )


def inspect(path: Path, standard_only: bool = True) -> Carried:
    """Measure what the ``.keras`` file at ``path`` carries; ``ModelRejected`` if it breaks a rule.

    ``standard_only``: the platform loads the model (``contract.predict = "platform"``), so a
    model that needs code of its own (a custom layer, a Lambda) is refused first, with the
    harness's own message. The file is the candidate's: any other exception while reading it
    (a corrupt deflate stream raises ``zlib.error``) is ``load_failed``, never the platform's.
    """
    try:
        return _inspect(path, standard_only)
    except ModelRejected:
        raise
    except Exception as exc:
        reason = f"{type(exc).__name__}: {exc}"[:200]
        raise ModelRejected(f"the saved model cannot be read ({reason})", "load_failed") from None


def _inspect(path: Path, standard_only: bool) -> Carried:
    try:
        _directory_fits(path)
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise ModelRejected(
            f"the saved model is not a .keras archive ({exc})", "load_failed"
        ) from None
    with archive:
        infos = archive.infolist()
        if len(infos) > MAX_ENTRIES:
            raise ModelRejected(
                f"the saved model holds {len(infos):,} files; at most {MAX_ENTRIES}"
            )
        by_name = {i.filename: i for i in infos}
        if "config.json" not in by_name:
            raise ModelRejected("the saved model has no config.json", "load_failed")
        try:
            raw = _read(archive, by_name["config.json"], CONFIG_MAX_BYTES, "its config.json")
            config = json.loads(raw.decode("utf-8"))
        except ModelRejected:
            raise
        except (UnicodeDecodeError, ValueError, RecursionError) as exc:
            raise ModelRejected(
                f"its config.json is not valid JSON ({type(exc).__name__})"
            ) from None
        except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError, RuntimeError) as exc:
            raise ModelRejected(f"the saved model cannot be read ({exc})", "load_failed") from None
        if standard_only and (needed := harness.custom_objects_message(config)):
            raise ModelRejected(needed)  # the more telling refusal, where it applies
        numbers, largest = config_numbers(config)
        seen, entries, total = set(), 0, 0
        for info in infos:
            if info.filename in _OWN or info.is_dir():
                continue
            try:
                data = _read(archive, info, ASSETS_MAX_BYTES - total, "its assets")
            except (
                zipfile.BadZipFile,
                OSError,
                EOFError,
                NotImplementedError,
                RuntimeError,
            ) as exc:
                raise ModelRejected(
                    f"the saved model cannot be read ({exc})", "load_failed"
                ) from None
            total += len(data)
            digest = hashlib.sha256(data).digest()
            if digest not in seen:
                seen.add(digest)
                entries += _asset_entries(data, info.filename)
    return Carried(numbers, entries, len(raw), total, largest)


#: Past these, a model within budget is still flagged for the reviewer. Honest models keep
#: at most 92 numbers in their config (the references; docs/grading.md) and a vocabulary of
#: at most a few percent of the parameter budget.
CONFIG_NUMBERS_FLAG = 1000
ASSET_SHARE_FLAG = 0.10


def carried_flags(carried: Carried, max_params: int) -> list[dict]:
    """``budget`` flags (``Report.flags``) for a model that keeps much outside its weights."""
    flags = []
    if carried.config_numbers > CONFIG_NUMBERS_FLAG:
        flags.append(
            {
                "kind": "budget",
                "message": f"the saved model keeps {carried.config_numbers:,} numbers in its "
                f"layer settings (honest models keep under {CONFIG_NUMBERS_FLAG:,}); they are "
                "counted in the parameter budget and may hold data rather than settings",
            }
        )
    if max_params and carried.asset_entries > ASSET_SHARE_FLAG * max_params:
        flags.append(
            {
                "kind": "budget",
                "message": f"the saved model's assets (vocabularies, lookup tables) hold "
                f"{carried.asset_entries:,} entries, over {ASSET_SHARE_FLAG:.0%} of the "
                f"{max_params:,}-parameter budget; they may hold data rather than a vocabulary",
            }
        )
    return flags
