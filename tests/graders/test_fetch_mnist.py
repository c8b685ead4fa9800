"""``assay data fetch mnist``: download, verify the pinned SHA-256, import (issue 19).

Against a real HTTP server on 127.0.0.1 serving the project's own copy of the files
(``../shared/data/mnist``, beside the clone as CI lays it out), never an outside address.
"""

from __future__ import annotations

import functools
import gzip
import shutil
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from click.testing import CliRunner

from graders.cli import main
from graders.dataset_build import MNIST_SHA256, fetch_mnist
from graders.datasets import open_dataset
from graders.errors import DatasetError
from tests.conftest import unavailable

ROOT = Path(__file__).resolve().parents[2]
SHARED_MNIST = ROOT.parent / "shared" / "data" / "mnist"
if not SHARED_MNIST.is_dir():  # a worktree beside the clone: the shared folder is one up
    SHARED_MNIST = Path("/work/shared/data/mnist")


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def serve(monkeypatch):
    """serve(folder) -> the URL of a local HTTP server serving ``folder``."""
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    servers = []

    def start(folder: Path) -> str:
        handler = functools.partial(_Quiet, directory=str(folder))
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}/"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture
def shared_mnist() -> Path:
    if not SHARED_MNIST.is_dir():
        unavailable(f"the original MNIST files are not at {SHARED_MNIST}")
    return SHARED_MNIST


@pytest.mark.slow
def test_fetch_downloads_verifies_and_imports_the_full_tier(serve, shared_mnist, tmp_path):
    url = serve(shared_mnist)
    result = CliRunner().invoke(
        main, ["data", "fetch", "mnist", "--url", url], env={"ASSAY_DATA_DIR": str(tmp_path)}
    )
    assert result.exit_code == 0, result.output
    assert f"downloading MNIST from {url}" in result.output
    assert "mnist/full: train 60000, test 10000" in result.output
    dataset = open_dataset("mnist", "full", root=tmp_path)  # checksums verify
    assert dataset.manifest["test_labels"] == "public"


def _served_copy(shared: Path, folder: Path, broken: str | None = None) -> Path:
    """The small label files as served, gzipped; ``broken``'s content changed by one byte."""
    folder.mkdir()
    for name in MNIST_SHA256:
        source = shared / f"{name}.gz"
        if "labels" in name:
            shutil.copyfile(source, folder / source.name)
    if broken:
        data = bytearray(gzip.decompress((shared / f"{broken}.gz").read_bytes()))
        data[-1] ^= 1
        (folder / f"{broken}.gz").write_bytes(gzip.compress(bytes(data)))
    return folder


def test_a_file_that_does_not_match_its_checksum_imports_nothing(serve, shared_mnist, tmp_path):
    # The first file fetched is the train images: a one-byte change is refused at once.
    folder = _served_copy(shared_mnist, tmp_path / "served", broken="train-labels-idx1-ubyte")
    (folder / "train-images-idx3-ubyte").write_bytes(b"\x00\x00\x08\x03" + b"\x00" * 12)
    with pytest.raises(DatasetError, match="checksum mismatch") as caught:
        fetch_mnist(serve(folder), root=tmp_path / "data")
    assert "nothing was imported" in str(caught.value)
    assert not (tmp_path / "data" / "mnist" / "full").exists()


def test_a_missing_file_and_an_unreachable_server_say_so(serve, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    url = serve(empty)
    with pytest.raises(DatasetError, match=r"cannot download train-images-idx3-ubyte .*HTTP 404"):
        fetch_mnist(url, root=tmp_path / "data")
    with pytest.raises(DatasetError, match="cannot download"):
        fetch_mnist("http://127.0.0.1:9/", root=tmp_path / "data")  # discard port: refused
    with pytest.raises(DatasetError, match="not an http"):
        fetch_mnist("ftp://127.0.0.1/", root=tmp_path / "data")
    result = CliRunner().invoke(main, ["data", "fetch", "mnist", "--url", url])
    assert result.exit_code != 0 and "Traceback" not in result.output
    assert "HTTP 404" in result.output
