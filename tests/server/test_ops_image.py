"""The server image (Dockerfile target ``server``, scripts/build-server-image.sh) in a real
container: it answers /healthz and /readyz, runs as a non-root user and declares a healthcheck;
and docker-compose.yml passes ``docker-compose config``."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
IMAGE = os.environ.get("ASSAY_SERVER_IMAGE", "assay-server:latest")


def _docker(*args: str, timeout: float = 60) -> str:
    done = subprocess.run(
        ["docker", *args], capture_output=True, text=True, timeout=timeout, check=False
    )
    assert done.returncode == 0, f"docker {' '.join(args)}: {done.stderr}"
    return done.stdout.strip()


@pytest.fixture
def server_image(skip_or_fail) -> str:
    if (
        shutil.which("docker") is None
        or subprocess.run(["docker", "info"], capture_output=True, check=False).returncode
    ):
        skip_or_fail("no Docker engine answers")
    if subprocess.run(["docker", "image", "inspect", IMAGE], capture_output=True).returncode:
        skip_or_fail(f"{IMAGE} is not built (scripts/build-server-image.sh)")
    return IMAGE


@pytest.mark.docker
@pytest.mark.slow
def test_the_server_image_answers_healthz_as_a_non_root_user(server_image):
    health = json.loads(_docker("image", "inspect", server_image))[0]["Config"]["Healthcheck"]
    assert "/healthz" in " ".join(health["Test"])
    # The engine here runs with --bridge=none (scripts/start-dockerd.sh): no published
    # ports, so the container shares the host's network and serves on a free port.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    container = _docker(
        "run",
        "-d",
        "--rm",
        "--network",
        "host",
        "-e",
        "ASSAY_SECRET_KEY=" + "0" * 64,
        server_image,
        "assay",
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    )
    try:
        deadline, answer = time.monotonic() + 90, None
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as r:
                    answer = json.loads(r.read())
                    break
            except OSError:
                time.sleep(1)
        logs = subprocess.run(["docker", "logs", container], capture_output=True, text=True)
        assert answer == {"status": "ok"}, logs.stdout[-2000:] + logs.stderr[-2000:]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=5) as r:
            assert json.loads(r.read()) == {"status": "ok"}  # SQLite database and queue
        assert _docker("exec", container, "id", "-u") == "10002"
    finally:
        subprocess.run(["docker", "rm", "-f", container], capture_output=True)


def test_compose_file_is_valid(skip_or_fail):
    if shutil.which("docker-compose") is None:
        skip_or_fail("docker-compose is not installed (scripts/system-deps.sh)")
    env = {**os.environ, "ASSAY_SECRET_KEY": "0" * 64}
    done = subprocess.run(
        ["docker-compose", "-f", str(ROOT / "docker-compose.yml"), "config"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    for service in ("postgres:", "redis:", "web:", "worker:"):
        assert service in done.stdout
    assert "/var/run/docker.sock:/var/run/docker.sock" in done.stdout
