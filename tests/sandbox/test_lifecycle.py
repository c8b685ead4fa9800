"""Owners, the live registry, the pids-cap watch, self-ending containers and the reaper."""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
from pathlib import Path

import pytest

from sandbox import lifecycle
from sandbox.cgroups import Cgroup
from sandbox.docker_backend import container_options
from sandbox.lifecycle import Owner, make_work_dir, owned_work_dir
from sandbox.pidcap import PidsCapWatch
from sandbox.reaper import find_cgroups, find_folders, reap

# -- owners --------------------------------------------------------------------------------------


def dead_owner() -> Owner:
    """An owner on this host whose process has ended (a real pid, now gone)."""
    proc = subprocess.Popen(["true"])
    owner = Owner.of_pid(proc.pid)
    proc.wait()
    return owner or Owner(Owner.current().host, proc.pid, 1)


def test_an_owner_is_host_pid_and_start_time():
    me = Owner.current()
    assert me.pid == os.getpid() and me.start > 0
    assert Owner.parse(me.id) == me
    assert me.alive() is True
    assert me.tag.endswith(f"-{me.pid}-{me.start}")


def test_a_reused_pid_is_not_a_live_owner():
    me = Owner.current()
    assert Owner(me.host, me.pid, me.start + 1).alive() is False
    assert dead_owner().alive() is False


def test_another_hosts_owner_cannot_be_judged():
    assert Owner("elsewhere.example", 1, 1).alive() is None
    assert Owner.parse("not an owner") is None


# -- the live registry ---------------------------------------------------------------------------


def test_owned_work_dir_is_tagged_tracked_and_removed():
    with owned_work_dir("grade") as work:
        assert work.name.startswith(f"assay-grade-{Owner.current().tag}-")
        assert f"folder {work}" in lifecycle.live()
        assert work in find_folders()
        assert lifecycle.janitor_pid() is not None
    assert not work.exists()
    assert f"folder {work}" not in lifecycle.live()


def test_cleanup_all_runs_every_cleanup_even_when_one_fails(monkeypatch):
    # A registry of its own: sandboxes other tests of this process still hold are not ours.
    monkeypatch.setattr(lifecycle, "_live", {})
    ran = []

    def broken():
        raise RuntimeError("engine gone")

    lifecycle.track("a", lambda: ran.append("a"))
    lifecycle.track("broken", broken)
    lifecycle.track("b", lambda: ran.append("b"))
    assert lifecycle.cleanup_all() == 3
    assert sorted(ran) == ["a", "b"]
    assert lifecycle.live() == []


# -- the pids-cap watch --------------------------------------------------------------------------


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(
    ("counts", "capped"),
    [
        ([64] * 8, True),  # at the cap for 3.5 s
        ([64] * 6, False),  # only 2.5 s
        ([64, 64, 64, 40, 64, 64, 64, 64], False),  # dipped below: the hold starts again
        ([63] * 8, True),  # a task may be exiting
        ([50] * 20, False),  # busy, but below the cap
        ([None] * 20, False),  # no count available
    ],
)
def test_pids_cap_watch_needs_the_cap_held_for_seconds(counts, capped):
    clock = Clock()
    samples = iter(counts)
    watch = PidsCapWatch(lambda: next(samples), cap=64, clock=clock)
    seen = []
    for _ in counts:
        seen.append(watch.capped())
        clock.now += 0.5
    assert seen[-1] is capped
    assert watch.hit is capped


# -- containers end themselves -------------------------------------------------------------------


@pytest.mark.docker
def test_container_pid_1_ends_and_removes_the_container_without_a_host_process(
    docker_sandbox, make_job
):
    from docker.errors import NotFound

    job = make_job("pass", wall_seconds=1)
    options = container_options(job, docker_sandbox.image_id, slack=2)
    assert options["entrypoint"] == ["sleep", "3"]
    assert options["auto_remove"] is True
    labels = options["labels"]
    assert labels["assay.owner"] == Owner.current().id
    assert 0 < int(labels["assay.expires"]) - time.time() <= 3
    container = docker_sandbox.client.containers.run(**options)
    started = time.monotonic()
    try:
        while time.monotonic() - started < 30:
            try:
                docker_sandbox.client.containers.get(container.id)
            except NotFound:
                break
            time.sleep(0.5)
        gone_after = time.monotonic() - started
        assert gone_after < 3 + 10, f"still there after {gone_after:.1f} s"
    finally:
        with pytest.raises(NotFound):
            container.remove(force=True)


# -- the reaper ----------------------------------------------------------------------------------


def test_reaper_removes_a_dead_owners_folders_and_keeps_a_live_owners():
    dead = make_work_dir("grade", owner=dead_owner())
    (dead / "train-in").mkdir()
    live = make_work_dir("grade")
    try:
        reaped = reap(docker=False)
        assert str(dead) in reaped.folders and not dead.exists()
        assert live.exists()
    finally:
        live.rmdir()


@pytest.mark.bwrap
def test_reaper_removes_a_dead_owners_cgroup_and_keeps_a_live_owners(bwrap_sandbox, skip_or_fail):
    dead = Cgroup.create(64, 16, 1.0, owner=dead_owner())
    live = Cgroup.create(64, 16, 1.0)
    if dead is None or live is None:
        skip_or_fail("no writable cgroup hierarchy here")
    try:
        dead_dirs = set(dead.dirs.values())
        assert dead_dirs <= set(find_cgroups())
        reaped = reap(docker=False)
        assert dead_dirs <= {Path(name) for name in reaped.cgroups}
        assert not any(path.exists() for path in dead_dirs)
        assert all(path.exists() for path in live.dirs.values())
    finally:
        live.remove()
        dead.remove()


@pytest.mark.docker
def test_reaper_removes_a_dead_owners_container_and_keeps_a_live_owners(docker_sandbox, make_job):
    from docker.errors import NotFound

    client = docker_sandbox.client
    job = make_job("pass", wall_seconds=600)
    dead = client.containers.run(
        **container_options(job, docker_sandbox.image_id, owner=dead_owner())
    )
    elsewhere = Owner("another-grader-host", 4242, 99)
    foreign = client.containers.run(**container_options(job, docker_sandbox.image_id, elsewhere))
    expired_options = container_options(job, docker_sandbox.image_id, elsewhere)
    expired_options["labels"]["assay.expires"] = str(int(time.time()) - 1)
    expired = client.containers.run(**expired_options)
    live = client.containers.run(**container_options(job, docker_sandbox.image_id))
    try:
        reaped = reap(client=client)
        assert dead.name in reaped.containers
        with pytest.raises(NotFound):
            client.containers.get(dead.id)
        # Another host's grader may still run: its container stays until it expires.
        assert client.containers.get(foreign.id).status == "running"
        assert expired.name in reaped.containers
        assert client.containers.get(live.id).status == "running"
    finally:
        for container in (dead, foreign, expired, live):
            with contextlib.suppress(NotFound):
                container.remove(force=True)


def test_assay_sandbox_reap_reports_what_it_removed():
    from click.testing import CliRunner

    from graders.cli import main

    dead = make_work_dir("grade", owner=dead_owner())
    result = CliRunner().invoke(main, ["sandbox", "reap", "--no-docker"])
    assert result.exit_code == 0, result.output
    assert f"removed folder {dead}" in result.output
    assert not dead.exists()
