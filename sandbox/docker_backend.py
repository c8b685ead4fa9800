"""The Docker backend (production; GPUs through device requests).

The container starts with ``sleep <wall limit + slack>`` as pid 1 (under another uid than
the job's, so the job cannot signal or trace it) and the job is an ``exec`` in it, so that
``/out`` can be a size-limited tmpfs: after the job, ``tar`` (another exec) streams ``/out``
to the host while the container still exists. ``docker cp``/``get_archive`` cannot read
tmpfs mounts, and a bind mount has no size limit.

A container ends itself: when ``sleep`` exits, the kernel ends everything in its pid
namespace and the engine removes the container (``auto_remove``), with no host process
left to ask. It is labelled with its owner (``assay.owner``) and the time it ends at the
latest (``assay.expires``) for the janitor and the reaper (``sandbox.lifecycle``). As the
engine removes it when it stops, an out-of-memory kill is read from the engine's ``oom``
event for the container, not from its state afterwards.

Every container: no network (``network_mode=none``), read-only root, tmpfs ``/tmp`` and
``/out`` with a size, ``/job`` a read-only bind, uid 10001 (``grader`` in the image), all
capabilities dropped, ``no-new-privileges``, a pids limit, memory with swap equal to
memory (no swap), CPU quota, no core files. It is killed at the wall limit, on cancel, or
when it sits at its pids limit (``sandbox.pidcap``), and always removed.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from pathlib import Path
from typing import Any

from sandbox import lifecycle, seccomp, settings
from sandbox.archive import ChunkReader, ExtractResult, safe_extract
from sandbox.base import Job, RunResult, Sandbox, wait_for
from sandbox.cgroups import pids_current_file
from sandbox.errors import SandboxError, SandboxUnavailable
from sandbox.lifecycle import EXPIRES_LABEL, OWNER_LABEL, Owner
from sandbox.paths import make_readable
from sandbox.pidcap import PidsCapWatch
from sandbox.streams import OutputCapture, pump_demuxed

log = logging.getLogger(__name__)


def default_image() -> str:
    """The grader image: ``ASSAY_GRADER_IMAGE`` (default ``assay-grader:latest``)."""
    return settings.current().grader_image


DEFAULT_USER = "10001:10001"
#: pid 1 (``sleep``) runs as another uid, so the job can neither signal nor trace it.
KEEPER_USER = "65534:65534"
DEFAULT_PYTHON = "/opt/venv/bin/python"
MB = 1024 * 1024
#: pid 1 sleeps this long beyond the job's wall limit: the container's start before the
#: limit counts, and copying ``/out`` out after it.
SLACK_SECONDS = 60


def _docker():
    try:
        import docker
    except ImportError as exc:
        raise SandboxUnavailable(
            "the docker Python package is missing: pip install docker"
        ) from exc
    return docker


#: Where a client's API object keeps the engine version of its latest answer.
ENGINE_ATTR = "_assay_engine_version"


def _watch_engine_version(client) -> None:
    """Keep the engine's version from its answers' ``Server: Docker/27.5.1 (linux)`` header.

    A report's engine version then costs no ``version()`` call of its own (about 20 ms on
    a busy engine, on every grading's path to its sandbox), and follows an engine that
    restarts with another version. Once per client; ``describe`` asks ``version()`` while
    no answer has named it.
    """
    api = getattr(client, "api", None)
    if not isinstance(getattr(api, "hooks", None), dict) or hasattr(api, ENGINE_ATTR):
        return
    setattr(api, ENGINE_ATTR, "")

    def note(response, *args, **kwargs):
        server = response.headers.get("Server", "")
        if server.startswith("Docker/"):
            setattr(api, ENGINE_ATTR, server[len("Docker/") :].split(" ", 1)[0])
        return response

    api.hooks.setdefault("response", []).append(note)


class DockerSandbox(Sandbox):
    """Runs jobs in containers of the grader image on a Docker engine."""

    name = "docker"

    def __init__(
        self,
        image: str | None = None,
        python: str = DEFAULT_PYTHON,
        user: str = DEFAULT_USER,
        client=None,
    ):
        if user.split(":")[0] in ("0", "root"):
            raise ValueError("sandboxed jobs never run as root")
        image = image or default_image()
        docker = _docker()
        self.client = client or docker.from_env()
        self.image, self.python, self.user = image, python, user
        _watch_engine_version(self.client)
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
        """Backend, image name and id, engine version (from the engine's latest answer)."""
        return {
            "backend": self.name,
            "image": self.image,
            "image_id": self.image_id,
            "engine": getattr(self.client.api, ENGINE_ATTR, "")
            or self.client.version().get("Version"),
        }

    def run(self, job: Job) -> RunResult:
        """Run ``job`` in a fresh container; see the module docstring for the isolation."""
        docker = _docker()
        make_readable(Path(job.input_dir))
        Path(job.output_dir).mkdir(parents=True, exist_ok=True)
        lifecycle.tell_janitor("docker")
        try:
            container = self.client.containers.create(**container_options(job, self.image_id))
        except docker.errors.APIError as exc:
            raise SandboxError(f"docker could not create a sandbox container: {exc}") from exc
        token = lifecycle.track(f"container {container.id[:12]}", lambda: _remove(container))
        try:
            run = _DockerRun(self, container, job)  # watches for events before the start
            try:
                container.start()
            except docker.errors.APIError as exc:
                run.close()
                raise SandboxError(f"docker could not start a sandbox container: {exc}") from exc
            return run.execute()
        finally:
            _remove(container)
            lifecycle.untrack(token)


def container_options(
    job: Job, image: str, owner: Owner | None = None, slack: float = SLACK_SECONDS
) -> dict[str, Any]:
    """Keyword arguments for ``client.containers.create``/``run`` that sandbox ``job``.

    pid 1 sleeps for the wall limit plus ``slack`` seconds, then the container ends and
    the engine removes it; ``owner`` (default: this process) goes into its labels.
    """
    docker = _docker()
    limits = job.limits
    tmpfs = f"rw,nosuid,nodev,size={limits.disk_mb}m,mode=1777"
    lifetime = math.ceil(limits.wall_seconds + slack)
    options: dict[str, Any] = {
        "image": image,
        "entrypoint": ["sleep", str(lifetime)],
        "detach": True,
        "auto_remove": True,
        "user": KEEPER_USER,
        "working_dir": "/tmp",
        "environment": job.environment(),
        "hostname": "sandbox",
        "network_mode": "none",
        "read_only": True,
        "tmpfs": {"/tmp": tmpfs, "/out": tmpfs},
        "volumes": {str(Path(job.input_dir).resolve()): {"bind": "/job", "mode": "ro"}},
        "cap_drop": ["ALL"],
        # The shared profile: Docker's default minus io_uring and ptrace (sandbox.seccomp).
        "security_opt": ["no-new-privileges", seccomp.docker_security_opt()],
        "ipc_mode": "private",
        "pids_limit": limits.processes,
        "mem_limit": f"{limits.memory_mb}m",
        "memswap_limit": f"{limits.memory_mb}m",
        "nano_cpus": int(limits.cpus * 1e9),
        "ulimits": [docker.types.Ulimit(name="core", soft=0, hard=0)],
        "labels": {
            "assay.sandbox": "job",
            OWNER_LABEL: (owner or Owner.current()).id,
            EXPIRES_LABEL: str(int(time.time()) + lifetime),
        },
    }
    if limits.gpus > 0:
        options["device_requests"] = [
            docker.types.DeviceRequest(count=limits.gpus, capabilities=[["gpu"]])
        ]
    return options


class _ContainerEvents:
    """The engine's ``oom`` and ``destroy`` events of one container, read in a thread.

    Opened before the container starts, so no out-of-memory kill is missed; ``destroy``
    says the engine has removed it (``auto_remove``).
    """

    def __init__(self, client, container_id: str):
        self.oom = False
        self.gone = threading.Event()
        filters = {"container": container_id, "event": ["oom", "destroy"]}
        try:
            # ``since`` replays what happened between the engine's reply and its subscription.
            self.stream = client.events(since=int(time.time()) - 1, filters=filters, decode=True)
        except Exception as exc:
            log.warning("no engine events for %s: %s", container_id[:12], exc)
            self.stream = None
            return
        threading.Thread(target=self._read, name="sandbox-docker-events", daemon=True).start()

    def _read(self) -> None:
        try:
            for event in self.stream:
                action = event.get("Action") or event.get("status")
                if action == "oom":
                    self.oom = True
                elif action == "destroy":
                    break
        except Exception as exc:  # closed by close(), or the engine went away
            log.debug("events stream ended: %s", exc)
        finally:
            self.gone.set()

    def wait_gone(self, timeout: float) -> bool:
        """Wait until the engine has removed the container; False on timeout or no stream."""
        return self.stream is not None and self.gone.wait(timeout)

    def close(self) -> None:
        if self.stream is not None:
            self.stream.close()


class _DockerRun:
    """One job in one container; made before the container starts (see ``_ContainerEvents``)."""

    def __init__(self, sandbox: DockerSandbox, container, job: Job):
        self.sandbox, self.container, self.job = sandbox, container, job
        self.api = sandbox.client.api
        kill_at = job.limits.flood_bytes
        self.stdout = OutputCapture(job.limits.output_bytes, job.on_stdout_line, kill_at)
        self.stderr = OutputCapture(job.limits.output_bytes, kill_at=kill_at)
        self.extracted = ExtractResult()
        self.events = _ContainerEvents(sandbox.client, container.id)
        self.pids = PidsCapWatch(self._pids_count, job.limits.processes)
        self._pids_file: Path | None = None
        self._pids_looked = False

    def close(self) -> None:
        self.events.close()

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
        outcome = wait_for(finished, deadline, self.job.cancel, self._must_stop)
        wall = time.monotonic() - start
        peak = self._peak_memory_mb()
        exit_code = None
        if outcome == "done":
            exit_code = self.api.exec_inspect(exec_id).get("ExitCode")
            self._collect_output()
        oom = self._stop()
        pump.join(timeout=10)
        return self._result(exit_code, outcome, wall, peak, oom)

    def _must_stop(self) -> bool:
        return self.stdout.flooded or self.stderr.flooded or self.pids.capped()

    def _pids_count(self) -> int | None:
        """The container's task count: its cgroup's ``pids.current`` when the engine is on
        this machine (cheap), else the engine's stats."""
        if not self._pids_looked:
            self._pids_looked = True
            self.container.reload()
            path = pids_current_file(self.container.attrs["State"]["Pid"])
            # Only a cgroup named after this container: the engine may be on another host.
            self._pids_file = path if path and self.container.id in str(path) else None
        if self._pids_file is not None:
            return int(self._pids_file.read_text())
        stats = self.container.stats(stream=False, one_shot=True)
        return stats.get("pids_stats", {}).get("current")

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
        """Kill the container and wait until the engine has removed it; True when the
        kernel killed a process in it for memory (the engine's ``oom`` event)."""
        try:
            self.container.kill()
        except Exception as exc:  # already stopped
            log.debug("kill: %s", exc)
        if not self.events.wait_gone(30):
            log.warning("sandbox container %s was not removed in time", self.container.id[:12])
        self.events.close()
        return self.events.oom

    def _result(self, exit_code, outcome: str, wall: float, peak, oom: bool) -> RunResult:
        return RunResult(
            exit_code=exit_code,
            backend=DockerSandbox.name,
            timed_out=outcome == "timeout",
            cancelled=outcome == "cancelled",
            output_flooded=outcome == "flooded" and not self.pids.hit,
            pids_capped=self.pids.hit,
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
    docker = _docker()
    try:
        container.remove(force=True)
    except docker.errors.APIError as exc:
        if exc.status_code not in (404, 409):  # 404/409: auto_remove did it, or is doing it
            log.warning("could not remove sandbox container %s: %s", container.id[:12], exc)
    except Exception as exc:
        log.warning("could not remove sandbox container %s: %s", container.id[:12], exc)
