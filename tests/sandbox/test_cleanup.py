"""Each backend leaves nothing behind: no container, no cgroup."""

from __future__ import annotations

import pytest

from sandbox import bwrap_backend


@pytest.mark.docker
def test_docker_removes_its_container(docker_sandbox, make_job, monkeypatch):
    from docker.errors import NotFound
    from docker.models.containers import ContainerCollection

    started = []
    original_create = ContainerCollection.create

    def recording_create(self, *args, **kwargs):
        started.append(original_create(self, *args, **kwargs))
        return started[-1]

    monkeypatch.setattr(ContainerCollection, "create", recording_create)
    result = docker_sandbox.run(make_job("while True:\n    pass\n", wall_seconds=1))
    assert result.timed_out
    [container] = started
    with pytest.raises(NotFound):
        docker_sandbox.client.containers.get(container.id)


@pytest.mark.docker
def test_docker_describes_its_image(docker_sandbox):
    record = docker_sandbox.describe()
    assert record["backend"] == "docker"
    assert record["image_id"].startswith("sha256:")


@pytest.mark.bwrap
def test_bwrap_removes_its_cgroup(bwrap_sandbox, make_job, monkeypatch, skip_or_fail):
    created = []
    original_create = bwrap_backend.Cgroup.create

    def recording_create(*args, **kwargs):
        created.append(original_create(*args, **kwargs))
        return created[-1]

    monkeypatch.setattr(bwrap_backend.Cgroup, "create", recording_create)
    job = make_job("import os\nos.fork()\nwhile True:\n    pass\n", wall_seconds=1)
    assert bwrap_sandbox.run(job).timed_out
    [cgroup] = created
    if cgroup is None:
        skip_or_fail("no writable cgroup on this machine (rlimit fallback)")
    assert not any(path.exists() for path in cgroup.dirs.values())


@pytest.mark.bwrap
def test_bwrap_describes_how_it_limits(bwrap_sandbox):
    record = bwrap_sandbox.describe()
    assert record["backend"] == "bwrap"
    assert record["limits_via"] in ("cgroup v1", "cgroup v2", "rlimits")
