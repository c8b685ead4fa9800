"""``assay image``: build and show the grader image the docker sandbox runs."""

from __future__ import annotations

import click


@click.group()
def image() -> None:
    """Build and show the grader image that the docker sandbox runs."""


@image.command("build")
@click.option(
    "--offline",
    is_flag=True,
    help="Build without an image registry: debootstrap base + local wheelhouse "
    "(scripts/build-grader-image.sh). Without it: docker build from the public Python base.",
)
@click.option(
    "--tf-package",
    default="tensorflow-cpu",
    show_default=True,
    help='TensorFlow distribution in the image; "tensorflow[and-cuda]" for GPU hosts.',
)
def image_build(offline: bool, tf_package: str) -> None:
    """Build the Dockerfile's grader target (skipped when its inputs are unchanged, offline)."""
    from sandbox.image import build_image, describe_image

    build_image(offline, tf_package)
    _show(describe_image())


@image.command("show")
def image_show() -> None:
    """Print the grader image's id, tags, size and build-inputs hash."""
    from sandbox.image import describe_image

    _show(describe_image())


def _show(info: dict) -> None:
    for key, value in info.items():
        shown = ", ".join(value) if isinstance(value, list) else value
        click.echo(f"{key:<8} {shown}")
