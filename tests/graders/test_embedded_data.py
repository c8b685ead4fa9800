"""Issue 19, finding 1: embedded data is seen as a whole (graders/signals.py).

Honest files (references, starters, examples, the seed-style script and notebook, long-form
honest variants, and the hostile files that carry no data) raise no embedded-data flag;
replays that carry the sample test split (1,000 7x7 two-bit thumbnails, 12,250 bytes) are
flagged whatever the encoding. The corpus (tests/data/embedded/corpus.py) has a tuning part
and a held-out part; the held-out figure is asserted separately (docs/grading.md).
"""

from __future__ import annotations

import ast
import base64
import importlib.util
import lzma
from pathlib import Path

import pytest

from graders import signals
from graders.challenges import get_challenge
from graders.datasets import open_dataset

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data"
_spec = importlib.util.spec_from_file_location("corpus", DATA / "embedded" / "corpus.py")
corpus = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(corpus)

HONEST = sorted(
    [*ROOT.glob("challenges/*/*.py"), *ROOT.glob("challenges/*/*/*.py")]
    + [*ROOT.glob("challenges/*/*/*.ipynb"), *DATA.glob("embedded/honest_*.py")]
    + [p for p in DATA.glob("hostile/*.py")]  # unfilled: their code, no data
)


def embedded(flags: list[dict]) -> list[dict]:
    return [f for f in flags if f["kind"] == "embedded_data"]


def flags_of_text(text: str) -> list[dict]:
    return signals.flags_for(ast.parse(text), len(text.encode()))


@pytest.fixture(scope="module")
def payload(prepared_data):
    dataset = open_dataset("mnist", "sample")
    return corpus.thumbnails(dataset.load_x("test"), dataset.load_y("test"))


@pytest.mark.parametrize("path", HONEST, ids=lambda p: str(p.relative_to(ROOT)))
def test_honest_files_carry_no_embedded_data_flag(path):
    assert embedded(signals.source_flags(path)) == []


def test_the_honest_files_sit_well_under_the_bar():
    measured = []
    for path in HONEST:
        try:
            from sandbox import harness

            source, _ = harness.source_from_bytes(path.read_bytes(), path.suffix)
            tree = harness.parse(source, path.name)
        except Exception:  # the syntax-error examples: nothing to measure
            continue
        found = signals._Found()
        signals._walk(tree, found)
        measured.append(signals.measure_payload(found.pieces).compressed)
    assert max(measured) * 1.5 <= signals.PAYLOAD_BYTES, max(measured)


@pytest.mark.parametrize("name", sorted(corpus.TUNING))
def test_tuning_replays_are_flagged(payload, name):
    packed, _ = payload
    assert embedded(flags_of_text(corpus.TUNING[name](packed)))


def test_held_out_replays_are_flagged(payload):
    packed, _ = payload
    missed = [n for n, make in corpus.HELD_OUT.items() if not embedded(flags_of_text(make(packed)))]
    assert missed == [], f"held out: {len(corpus.HELD_OUT) - len(missed)}/{len(corpus.HELD_OUT)}"


def test_the_issues_replay_is_flagged_with_its_lines_and_unpacking(payload, tmp_path):
    path = filled_replay(payload, tmp_path)
    flags = embedded(signals.source_flags(path))
    messages = " | ".join(f["message"] for f in flags)
    assert "encoded as base85" in messages, messages
    assert "calls lzma.decompress()" in messages and "calls base64.b85decode()" in messages
    assert "calls np.unpackbits()" in messages and "calls np.frombuffer()" in messages
    text = path.read_text()
    first = next(f for f in flags if f["message"].startswith("embedded data:"))
    assert "CHUNKS" in text.splitlines()[first["line"] - 1] or first["line"] > 10


def filled_replay(payload, tmp_path: Path) -> Path:
    """tests/data/hostile/replay_thumbnails.py filled as its author would: the public split's
    thumbnails, lzma + base85 in chunks of 76 characters."""
    packed, counts = payload
    text = base64.b85encode(lzma.compress(packed, preset=9 | lzma.PRESET_EXTREME)).decode()
    chunks = [text[i : i + 76] for i in range(0, len(text), 76)]
    source = (DATA / "hostile" / "replay_thumbnails.py").read_text()
    source = source.replace("CHUNKS = None", f"CHUNKS = {chunks!r}", 1)
    source = source.replace("COUNTS = None", f"COUNTS = {counts!r}", 1)
    path = tmp_path / "replay_thumbnails.py"
    path.write_text(source)
    return path


def test_a_chunked_literal_hidden_in_prose_like_spacing_still_counts():
    import random

    blob = base64.b64encode(random.Random(5).randbytes(2000)).decode()
    spaced = " ".join(blob[i : i + 6] for i in range(0, len(blob), 6))
    assert not signals.is_prose(spaced)
    assert signals.is_prose("A docstring, written as sentences: words and more words, 10 of them.")
    assert signals.is_prose("模型说明：两层卷积 和 池化，然后 三层全连接")


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("0123456789abcdef" * 8, "hex"),
        (base64.b64encode(bytes(range(200))).decode(), "base64"),
        (base64.b85encode(bytes(range(200))).decode(), "base85"),
        ("sparse_categorical_crossentropy", None),
        ("accuracy", None),
    ],
)
def test_encodings_are_named(text, kind):
    assert signals.encoding_of(text) == kind


def test_references_stay_unflagged_through_the_challenges():
    for slug in ("lenet5-mnist", "sentiment-bilstm"):
        challenge = get_challenge(slug)
        assert signals.source_flags(challenge.path(challenge.spec.reference)) == []


def test_unpacking_calls_are_named_however_they_are_imported():
    blob = base64.b85encode(lzma.compress(bytes(range(256)) * 8)).decode()
    source = (
        "from lzma import decompress\nfrom base64 import b85decode\nimport json\n"
        f"X = decompress(b85decode({blob!r}))\nC = json.loads('{{}}')\n"
    )
    messages = [f["message"] for f in embedded(flags_of_text(source))]
    assert "unpacks embedded data: calls decompress()" in messages
    assert "unpacks embedded data: calls b85decode()" in messages
    assert not any("json.loads" in m for m in messages)
