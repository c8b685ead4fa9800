"""``assay sandbox``: housekeeping of sandbox leftovers."""

from __future__ import annotations

import click


@click.group()
def sandbox() -> None:
    """Find and remove what sandboxes of dead graders left behind."""


def main_reap(*, docker: bool) -> int:
    """Remove leftovers of graders that are gone; print what went; the count removed."""
    from sandbox.reaper import reap

    reaped = reap(docker=docker)
    for kind in ("containers", "cgroups", "folders"):
        for name in getattr(reaped, kind):
            click.echo(f"removed {kind[:-1]} {name}")
    for error in reaped.errors:
        click.echo(f"warning: {error}", err=True)
    click.echo(f"{reaped.removed} removed, {reaped.kept} kept (their grader still runs)")
    return reaped.removed


@sandbox.command("reap")
@click.option(
    "--docker/--no-docker",
    default=True,
    show_default=True,
    help="Also look for containers (--no-docker on a machine without an engine).",
)
def reap_command(docker: bool) -> None:
    """Remove containers, cgroups and work folders whose grader is gone.

    Each carries its owner (host, pid and start time); a container of another host's
    grader is removed only after the time it would have ended itself.
    """
    main_reap(docker=docker)
