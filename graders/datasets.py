"""Prepared datasets on disk: opened and verified at grading time.

Layout of one prepared dataset tier, under ``data_dir()/NAME/TIER/``::

    manifest.json        counts, source, seed and the SHA-256 of every file below
    public/train_x.*     what a train sandbox may see (inputs and labels)
    public/train_y.npy
    public/test_x.*      what a predict sandbox may see (inputs only)
    public/ood_x.*       out-of-domain inputs, where the dataset has them
    hidden/test_y.npy    labels that never enter a sandbox
    hidden/ood_y.npy

Images are ``uint8`` arrays ``(n, 28, 28)``; texts are JSON arrays of strings
(``.json``). ``open_dataset`` verifies every checksum and says which command repairs
a missing or corrupted file. The tiers are built offline by ``graders.dataset_build``.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from graders.challenges import PRIVATE_SUFFIX, base_tier
from graders.errors import DatasetError
from graders.paths import data_dir

MANIFEST = "manifest.json"
HIDDEN = ("test", "ood")  # splits whose labels live in hidden/


# -- reading -----------------------------------------------------------------------------------


class PreparedDataset:
    """One verified dataset tier on disk."""

    def __init__(self, root: Path, manifest: dict):
        self.root = root
        self.manifest = manifest
        self.name: str = manifest["dataset"]
        self.tier: str = manifest["tier"]

    @property
    def splits(self) -> dict[str, int]:
        return self.manifest["splits"]

    @property
    def checksum(self) -> str:
        """One SHA-256 over the manifest's file checksums: names this exact data."""
        return hashlib.sha256(
            json.dumps(self.manifest["files"], sort_keys=True).encode()
        ).hexdigest()

    def x_path(self, split: str) -> Path:
        """The public inputs file of ``split`` (``train``, ``test`` or ``ood``)."""
        return self.root / self.manifest["inputs"][split]

    def y_path(self, split: str) -> Path:
        """The labels file of ``split``: public for ``train``, hidden otherwise."""
        folder = "hidden" if split in HIDDEN else "public"
        return self.root / folder / f"{split}_y.npy"

    def load_x(self, split: str) -> np.ndarray:
        return read_array(self.x_path(split))

    def load_y(self, split: str) -> np.ndarray:
        return read_array(self.y_path(split))


def read_array(path: Path) -> np.ndarray:
    """Read an ``.npy`` array or a ``.json`` list of strings (as an object array)."""
    if path.suffix == ".json":
        texts = json.loads(path.read_text(encoding="utf-8"))
        arr = np.empty(len(texts), dtype=object)
        arr[:] = texts
        return arr
    return np.load(path, allow_pickle=False)


def _fix_command(name: str, tier: str) -> str:
    if tier.endswith(PRIVATE_SUFFIX):
        return f"assay data import {name} PATH --test-set --base-tier {base_tier(tier)}"
    if name == "mnist" and tier == "full":
        return "assay data import mnist DIR  (DIR holds the original MNIST IDX files)"
    return "assay data prepare --force"


def open_dataset(
    name: str, tier: str, root: Path | None = None, verify: bool = True
) -> PreparedDataset:
    """Open ``name``/``tier``, verifying checksums; ``DatasetError`` names the fix."""
    folder = (root or data_dir()) / name / tier
    fix = _fix_command(name, tier)
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DatasetError(
            f"dataset {name}/{tier} is not prepared (no {folder / MANIFEST}); run: {fix}"
        ) from None
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise DatasetError(
            f"dataset {name}/{tier}: {folder / MANIFEST} is corrupted; run: {fix}"
        ) from None
    if verify:
        _verify(folder, manifest, f"dataset {name}/{tier}", fix)
    return PreparedDataset(folder, manifest)


def _verify(folder: Path, manifest: dict, what: str, fix: str) -> None:
    for rel, expected in manifest["files"].items():
        path = folder / rel
        if not path.is_file():
            raise DatasetError(f"{what}: file {rel} is missing; run: {fix}")
        if sha256_file(path) != expected:
            raise DatasetError(f"{what}: file {rel} is corrupted (checksum mismatch); run: {fix}")


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def list_prepared(root: Path | None = None) -> list[PreparedDataset]:
    """Every prepared tier under ``root``, unverified (for listings)."""
    base = root or data_dir()
    return [
        PreparedDataset(p.parent, json.loads(p.read_text()))
        for p in sorted(base.glob(f"*/*/{MANIFEST}"))
    ]
