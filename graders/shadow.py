"""The shadow test: the test inputs again, under small label-preserving changes.

Public test labels can be replayed: a model (or a ``predict()``) that recognises each test
input exactly and answers its known label scores perfectly without having learnt anything.
Every grading therefore also predicts a *shadow* copy of the test inputs, changed on the
trusted side with a secret seed drawn per grading:

- images (MNIST): each digit rotated by up to 8 degrees and given a little Gaussian noise
  (sigma 8 of 255), which changes every pixel value. Shifts were measured and left out: one
  pixel costs honest models up to 0.12 of accuracy (the starter's dense model, 0.04-0.06 for
  LeNet-5 on the 4,000-image sample, which is trained without augmentation), two pixels up
  to 0.33; the flag's threshold would then have to let a lookup that adds 0.2 pass unseen,
  while any change at all defeats an exact lookup (docs/grading.md, "Shadow test");
- texts (reviews): up to three neutral words swapped for synonyms ("movie" <-> "film") and the
  last few words dropped, so no review is byte-for-byte the one in the public file.

An honest model scores about the same on both (the measured gaps are in ``docs/grading.md``);
a lookup misses on every changed input. The report shows both scores and flags a gap above
the challenge's ``shadow.max_gap``; it never fails the verdict by itself.

The predict sandbox gets the two sets under random names, each in its own secret row order,
so nothing in it can tell the real test set from its shadow but by recognising the inputs.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

#: Neutral swaps: words whose replacement says the same about the film and its sentiment.
NEUTRAL_SWAPS = {
    "movie": "film",
    "film": "movie",
    "movies": "films",
    "films": "movies",
    "story": "plot",
    "plot": "story",
    "actor": "performer",
    "actors": "performers",
    "actress": "performer",
    "director": "filmmaker",
    "scene": "sequence",
    "scenes": "sequences",
    "character": "role",
    "characters": "roles",
    "watched": "saw",
    "saw": "watched",
    "show": "series",
    "ending": "finale",
    "script": "screenplay",
    "cast": "ensemble",
}
MAX_SWAPS = 3
#: Fraction of a review's words dropped from its end (at least one word).
TRUNCATE_FRACTION = 0.05
MAX_ROTATION_DEG, NOISE_SIGMA = 8.0, 8.0

DESCRIPTIONS = {
    "image": f"each image rotated by up to {MAX_ROTATION_DEG:g} degrees, Gaussian noise "
    f"sigma {NOISE_SIGMA:g}/255",
    "text": f"up to {MAX_SWAPS} neutral word swaps (movie/film, story/plot, ...) and the last "
    f"{TRUNCATE_FRACTION:.0%} of words (at least one) dropped",
}


def new_seed() -> int:
    """A secret seed for one grading (never derived from anything the candidate can see)."""
    return secrets.randbits(63)


def perturb(x: np.ndarray, kind: str, seed: int) -> np.ndarray:
    """The shadow copy of ``x`` (``kind``: ``image`` or ``text``), drawn from ``seed``."""
    rng = np.random.default_rng(seed)
    if kind == "image":
        return np.stack([_perturb_image(img, rng) for img in x]).astype(x.dtype)
    out = np.empty(len(x), dtype=object)
    out[:] = [_perturb_text(str(text), rng) for text in x]
    return out


def _perturb_image(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Rotate about the centre, add noise, clip to the pixel range."""
    angle = rng.uniform(-MAX_ROTATION_DEG, MAX_ROTATION_DEG)
    moved = ndimage.rotate(img.astype(np.float32), angle, reshape=False, order=1, mode="constant")
    moved += rng.normal(0.0, NOISE_SIGMA, size=moved.shape)
    return np.clip(np.rint(moved), 0, 255)


def _perturb_text(text: str, rng: np.random.Generator) -> str:
    """Swap up to three neutral words, then drop the last words of the review."""
    words = text.split(" ")
    swappable = [i for i, w in enumerate(words) if w.lower() in NEUTRAL_SWAPS]
    if swappable:
        picks = rng.choice(swappable, size=min(MAX_SWAPS, len(swappable)), replace=False)
        for i in picks:
            word = words[i]
            swap = NEUTRAL_SWAPS[word.lower()]
            words[i] = swap.capitalize() if word[:1].isupper() else swap
    if len(words) > 1:
        keep = len(words) - max(1, int(len(words) * TRUNCATE_FRACTION))
        words = words[:keep]
    changed = " ".join(words)
    return changed if changed != text else text + " ."


@dataclass
class Disguise:
    """How one set was handed to the predict sandbox: its name there and its row order."""

    name: str
    order: np.ndarray  # row i in the sandbox is row order[i] of the original set

    def restore(self, predictions: np.ndarray) -> np.ndarray:
        """Predictions put back in the original row order (a wrong length is left as it is,
        for validation to reject)."""
        if not isinstance(predictions, np.ndarray) or predictions.shape[:1] != self.order.shape:
            return predictions
        restored = np.empty_like(predictions)
        restored[self.order] = predictions
        return restored


def disguise(n: int, rng: np.random.Generator) -> Disguise:
    """A random name (``set_<hex>``) and a random row order for a set of ``n`` rows."""
    return Disguise(f"set_{secrets.token_hex(4)}", rng.permutation(n))


def gap_check(metric: str, test: float | None, shadow: float | None, max_gap: float) -> dict:
    """The shadow result as stored in the report; ``flagged`` when the gap exceeds ``max_gap``."""
    gap = None if test is None or shadow is None else round(test - shadow, 6)
    return {
        "metric": metric,
        "test": test,
        "shadow": shadow,
        "gap": gap,
        "max_gap": max_gap,
        "flagged": gap is not None and gap > max_gap,
    }
