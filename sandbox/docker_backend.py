"""The Docker backend (production; GPUs through device requests).

The container starts with ``sleep infinity`` as pid 1 (under another uid than the job's,
so the job cannot signal or trace it) and the job is an ``exec`` in it, so that ``/out``
can be a size-limited tmpfs: after the job, ``tar`` (another exec) streams ``/out`` to
the host while the container still exists. ``docker cp``/``get_archive`` cannot read
tmpfs mounts, and a bind mount has no size limit.

Every container: no network (``network_mode=none``), read-only root, tmpfs ``/tmp`` and
``/out`` with a size, ``/job`` a read-only bind, uid 10001 (``grader`` in the image), all
capabilities dropped, ``no-new-privileges``, a pids limit, memory with swap equal to
memory (no swap), CPU quota, no core files. It is killed at the wall limit or on cancel
and always removed.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Any

from sandbox.archive import ChunkReader, ExtractResult, safe_extract
from sandbox.base import Job, RunResult, Sandbox, wait_for
from sandbox.errors import SandboxError, SandboxUnavailable
from sandbox.streams import OutputCapture, pump_demuxed

log = logging.getLogger(__name__)

DEFAULT_IMAGE = os.environ.get("ASSAY_GRADER_IMAGE", "assay-grader:latest")
DEFAULT_USER = "10001:10001"
#: pid 1 (``sleep``) runs as another uid, so the job can neither signal nor trace it.
KEEPER_USER = "65534:65534"
DEFAULT_PYTHON = "/opt/venv/bin/python"
MB = 1024 * 1024


def _docker():
    try:
        import docker
    except ImportError as exc:
        raise SandboxUnavailable(
            "the docker Python package is missing: pip install docker"
        ) from exc
    return docker


class DockerSandbox(Sandbox):
    """Runs jobs in containers of the grader image on a Docker engine."""

    name = "docker"

    def __init__(
        self,
        image: str = DEFAULT_IMAGE,
        python: str = DEFAULT_PYTHON,
        user: str = DEFAULT_USER,
        client=None,
    ):
        if user.split(":")[0] in ("0", "root"):
            raise ValueError("sandboxed jobs never run as root")
        docker = _docker()
        self.client = client or docker.from_env()
        self.image, self.python, self.user = image, python, user
        try:
            self.image_id = self.client.images.get(image).id
        except docker.errors.ImageNotFound as exc:
            raise SandboxUnavailable(
                f"grader image {image!r} not found; build it with: assay image build --offline"
            ) from exc

    @classmethod
    def available(cls) -> tuple[bool, str]:
        """Whether the docker package is installed and an engine answers."""
        try:
            docker = _docker()
            docker.from_env(timeout=10).ping()
        except SandboxUnavailable as exc:
            return False, str(exc)
        except Exception as exc:
            return False, (
                f"no Docker engine answers ({exc}); start one (scripts/start-dockerd.sh) "
                "or point DOCKER_HOST at one"
            )
        return True, ""

    def describe(self) -> dict[str, Any]:
        """Backend, image name and id, engine version."""
        return {
            "backend": self.name,
            "image": self.image,
            "image_id": self.image_id,
            "engine": self.client.version().get("Version"),
        }

    def run(self, job: Job) -> RunResult:
        """Run ``job`` in a fresh container; see the module docstring for the isolation."""
        docker = _docker()
        make_readable(Path(job.input_dir))
        Path(job.output_dir).mkdir(parents=True, exist_ok=True)
        try:
            container = self.client.containers.run(**container_options(job, self.image_id))
        except docker.errors.APIError as exc:
            raise SandboxError(f"docker could not start a sandbox container: {exc}") from exc
        try:
            return _DockerRun(self, container, job).execute()
        finally:
            _remove(container)


def container_options(job: Job, image: str) -> dict[str, Any]:
    """Keyword arguments for ``client.containers.run`` that sandbox ``job``."""
    docker = _docker()
    limits = job.limits
    tmpfs = f"rw,nosuid,nodev,size={limits.disk_mb}m,mode=1777"
    options: dict[str, Any] = {
        "image": image,
        "entrypoint": ["sleep", "infinity"],
        "detach": True,
        "user": KEEPER_USER,
        "working_dir": "/tmp",
        "environment": job.environment(),
        "hostname": "sandbox",
        "network_mode": "none",
        "read_only": True,
        "tmpfs": {"/tmp": tmpfs, "/out": tmpfs},
        "volumes": {str(Path(job.input_dir).resolve()): {"bind": "/job", "mode": "ro"}},
        "cap_drop": ["ALL"],
        "security_opt": ["no-new-privileges"],
        "ipc_mode": "private",
        "pids_limit": limits.processes,
        "mem_limit": f"{limits.memory_mb}m",
        "memswap_limit": f"{limits.memory_mb}m",
        "nano_cpus": int(limits.cpus * 1e9),
        "ulimits": [docker.types.Ulimit(name="core", soft=0, hard=0)],
        "labels": {"assay.sandbox": "job"},
    }
    if limits.gpus > 0:
        options["device_requests"] = [
            docker.types.DeviceRequest(count=limits.gpus, capabilities=[["gpu"]])
        ]
    return options


def make_readable(path: Path) -> None:
    """Let the container's uid read the input folder (a+rX; links are left alone)."""
    for root, dirs, files in os.walk(path):
        os.chmod(root, os.stat(root).st_mode | 0o555)
        for name in files:
            file = os.path.join(root, name)
            if not os.path.islink(file):
                os.chmod(file, os.stat(file).st_mode | 0o444)
        dirs[:] = [d for d in dirs if not os.path.islink(os.path.join(root, d))]


class _DockerRun:
    """One job in one started container."""

    def __init__(self, sandbox: DockerSandbox, container, job: Job):
        self.sandbox, self.container, self.job = sandbox, container, job
        self.api = sandbox.client.api
        kill_at = job.limits.flood_bytes
        self.stdout = OutputCapture(job.limits.output_bytes, job.on_stdout_line, kill_at)
        self.stderr = OutputCapture(job.limits.output_bytes, kill_at=kill_at)
        self.extracted = ExtractResult()

    def execute(self) -> RunResult:
        start = time.monotonic()
        try:
            exec_id = self._exec([self.sandbox.python, *self.job.argv])
            chunks = self.api.exec_start(exec_id, stream=True, demux=True)
        except _docker().errors.APIError as exc:
            raise SandboxError(f"docker could not start the job: {exc}") from exc
        pump = pump_demuxed(chunks, self.stdout, self.stderr)

        def finished(timeout: float) -> bool:
            pump.join(timeout)
            return not pump.is_alive()

        deadline = start + self.job.limits.wall_seconds
        outcome = wait_for(finished, deadline, self.job.cancel, self._flooded)
        wall = time.monotonic() - start
        peak = self._peak_memory_mb()
        exit_code = None
        if outcome == "done":
            exit_code = self.api.exec_inspect(exec_id).get("ExitCode")
            self._collect_output()
        oom = self._stop()
        pump.join(timeout=10)
        return self._result(exit_code, outcome, wall, peak, oom)

    def _flooded(self) -> bool:
        return self.stdout.flooded or self.stderr.flooded

    def _exec(self, cmd: list[str]) -> str:
        env = self.job.environment()
        return self.api.exec_create(
            self.container.id, cmd, user=self.sandbox.user, workdir="/tmp", environment=env
        )["Id"]

    def _collect_output(self) -> None:
        try:
            # Stop what the job left running, so that /out holds still while it is copied.
            reaper = self._exec([self.sandbox.python, "-c", "import os; os.kill(-1, 9)"])
            self.api.exec_start(reaper)
            tar = self._exec(["tar", "-C", "/out", "-cf", "-", "."])
            chunks = self.api.exec_start(tar, stream=True, demux=True)
        except _docker().errors.APIError as exc:  # e.g. the container is gone
            self.extracted = ExtractResult(error=f"could not read /out: {exc}")
            return
        reader = ChunkReader(out for out, _err in chunks if out)
        capacity = self.job.limits.disk_mb * MB
        self.extracted = safe_extract(reader, Path(self.job.output_dir), capacity)

    def _peak_memory_mb(self) -> float | None:
        try:
            stats = self.container.stats(stream=False, one_shot=True)
        except Exception as exc:  # the container may already be gone
            log.debug("no stats: %s", exc)
            return None
        peak = stats.get("memory_stats", {}).get("max_usage")  # absent on cgroup v2
        return round(peak / MB, 1) if peak else None

    def _stop(self) -> bool:
        """Kill the container; True when the kernel killed a process in it for memory."""
        try:
            self.container.kill()
        except Exception as exc:  # already stopped
            log.debug("kill: %s", exc)
        try:
            self.container.wait(timeout=30)
            self.container.reload()
        except Exception as exc:
            log.warning("container did not stop cleanly: %s", exc)
        return bool(self.container.attrs.get("State", {}).get("OOMKilled"))

    def _result(self, exit_code, outcome: str, wall: float, peak, oom: bool) -> RunResult:
        return RunResult(
            exit_code=exit_code,
            backend=DockerSandbox.name,
            timed_out=outcome == "timeout",
            cancelled=outcome == "cancelled",
            output_flooded=outcome == "flooded",
            oom_killed=oom,
            output_exceeded=self.extracted.exceeded or self.extracted.full,
            wall_seconds=round(wall, 3),
            stdout=self.stdout.text,
            stderr=self.stderr.text,
            stdout_truncated=self.stdout.truncated,
            stderr_truncated=self.stderr.truncated,
            peak_memory_mb=peak,
            image=self.sandbox.image_id,
        )


def _remove(container) -> None:
    try:
        container.remove(force=True)
    except Exception as exc:
        log.warning("could not remove sandbox container %s: %s", container.id[:12], exc)
