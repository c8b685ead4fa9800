"""`assay image`: the build command for each way of building, and the image the engine has."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from graders.cli import main
from sandbox.image import OFFLINE_SCRIPT, REPO_ROOT, build_command


def test_offline_build_runs_the_project_script():
    assert build_command(offline=True, tf_package="tensorflow-cpu") == [str(OFFLINE_SCRIPT)]
    assert OFFLINE_SCRIPT.is_file()


def test_online_build_targets_the_grader_stage_with_the_chosen_tensorflow():
    cmd = build_command(offline=False, tf_package="tensorflow[and-cuda]")
    assert cmd[:4] == ["docker", "build", "--target", "grader"]
    assert "TF_PACKAGE=tensorflow[and-cuda]" in cmd
    assert cmd[-1] == str(REPO_ROOT)


@pytest.mark.docker
def test_image_show_names_the_image_the_docker_sandbox_runs(docker_sandbox):
    result = CliRunner().invoke(main, ["image", "show"])
    assert result.exit_code == 0, result.output
    fields = dict(line.split(None, 1) for line in result.output.splitlines())
    assert fields["id"] == docker_sandbox.image_id
    assert fields["inputs"].startswith("assay-grader:")
