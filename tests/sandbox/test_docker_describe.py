"""The docker backend's record names the engine's version without a call of its own."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.docker


def test_describe_names_the_engine_version_from_its_answers(docker_sandbox):
    from sandbox.docker_backend import DockerSandbox

    sandbox = DockerSandbox(client=docker_sandbox.client)  # its image lookup was an answer
    calls = []
    hooks = sandbox.client.api.hooks["response"]
    hooks.append(lambda response, *args, **kwargs: calls.append(response.url))
    try:
        described = sandbox.describe()
        made = list(calls)
        version = sandbox.client.version()["Version"]
    finally:
        hooks.pop()

    assert made == []  # describe() asked the engine nothing
    assert described["engine"] == version
    assert described["backend"] == "docker" and described["image_id"] == sandbox.image_id
    watchers = len(hooks)
    DockerSandbox(client=docker_sandbox.client)
    assert len(hooks) == watchers  # one watcher per client, however many backends use it
