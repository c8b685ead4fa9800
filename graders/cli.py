"""The ``assay`` command line.

Each command is a thin click wrapper around a function of ``graders`` (or, lazily,
``sandbox``/``server``) that takes plain values; expected failures (``AssayError``)
are printed as one readable line with a non-zero exit code, never a traceback.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from graders.errors import AssayError

# Exit codes shared by `assay score` and `assay grade`.
EXIT_PASSED, EXIT_BELOW_BAR, EXIT_SUBMISSION_FAILED, EXIT_PLATFORM_FAILED = 0, 1, 2, 3


class _AssayGroup(click.Group):
    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except AssayError as exc:
            click.secho(f"error: {exc}", fg="red", err=True)
            sys.exit(getattr(exc, "exit_code", EXIT_PLATFORM_FAILED))


@click.group(cls=_AssayGroup)
@click.version_option(package_name="assay")
def main() -> None:
    """Assay: assess machine-learning engineers with real, sandboxed coding challenges."""


# -- data ----------------------------------------------------------------------------------------


@main.group()
def data() -> None:
    """Prepare, import and list the offline datasets."""


@data.command("prepare")
@click.option(
    "--dataset", "names", multiple=True, help="Only this dataset (repeatable): mnist, reviews."
)
@click.option("--force", is_flag=True, help="Rebuild even when the prepared files verify.")
def data_prepare(names: tuple[str, ...], force: bool) -> None:
    """Build every dataset from installed packages (no download), split and checksum it."""
    from graders.datasets import prepare

    for ds in prepare(list(names) or None, force=force):
        counts = ", ".join(f"{k} {v}" for k, v in ds.splits.items())
        click.echo(f"{ds.name}/{ds.tier}: {counts}  ({ds.root})")


@data.command("import")
@click.argument("name", type=click.Choice(["mnist"]))
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path))
def data_import(name: str, folder: Path) -> None:
    """Import original IDX files (gzipped or not) as the full MNIST tier (60,000/10,000)."""
    from graders.datasets import import_mnist

    ds = import_mnist(folder)
    click.echo(
        f"{ds.name}/{ds.tier}: train {ds.splits['train']}, test {ds.splits['test']}  ({ds.root})"
    )


@data.command("list")
def data_list() -> None:
    """List prepared dataset tiers and whether their checksums verify."""
    from graders.datasets import list_prepared, open_dataset

    for ds in list_prepared():
        try:
            open_dataset(ds.name, ds.tier)
            state = "ok"
        except AssayError as exc:
            state = f"BROKEN: {exc}"
        click.echo(f"{ds.name}/{ds.tier}: {ds.splits}  {state}")


# -- challenges ----------------------------------------------------------------------------------


@main.group()
def challenges() -> None:
    """List challenges and document the challenge.toml schema."""


@challenges.command("list")
def challenges_list() -> None:
    """Print each challenge's slug, title and pass bars."""
    from graders.challenges import all_challenges

    for slug, ch in all_challenges().items():
        bars = "; ".join(
            f"{tier}: " + ", ".join(f"{k} {v}" for k, v in bars.items())
            for tier, bars in ch.spec.thresholds.items()
        )
        click.echo(f"{slug:<18} {ch.spec.title}  [{bars}]")


@challenges.command("schema")
def challenges_schema() -> None:
    """Print every key of challenge.toml with its type, default and meaning."""
    from graders.challenges import schema_rows

    for key, type_name, default, doc in schema_rows():
        click.echo(f"{key:<28} {type_name:<16} {default:<14} {doc}")


# -- score ---------------------------------------------------------------------------------------


def emit_report(report, json_path: Path | None) -> None:
    """Print ``report`` as text and write its JSON to ``json_path`` ('-' for stdout)."""
    from graders.render import render_text

    if json_path is not None and str(json_path) == "-":
        click.echo(report.to_json())
        return
    click.echo(render_text(report))
    if json_path is not None:
        json_path.write_text(report.to_json(), encoding="utf-8")
        click.echo(f"report written to {json_path}")


def exit_code(report) -> int:
    if report.status == "failed":
        return (
            EXIT_PLATFORM_FAILED
            if report.error.code == "platform_error"
            else EXIT_SUBMISSION_FAILED
        )
    return EXIT_PASSED if report.passed else EXIT_BELOW_BAR


@main.command("score")
@click.option("--challenge", "slug", required=True, help="Challenge slug, e.g. lenet5-mnist.")
@click.option("--tier", default=None, help="Dataset tier (default: the challenge's default tier).")
@click.option(
    "--json",
    "json_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the report as JSON.",
)
@click.argument("predictions", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def score(slug: str, tier: str | None, json_path: Path | None, predictions: Path) -> None:
    """Score a predictions file (.npy, .npz with ids/probabilities, or .csv) on the hidden test set.

    Exit code 0: passed; 1: below the bar; 2: the predictions are invalid.
    """
    from graders.scoring import score_file

    report = score_file(slug, predictions, tier)
    emit_report(report, json_path)
    sys.exit(exit_code(report))


def _register() -> None:
    # Sub-command groups that live beside the code they drive.
    from graders import cli_theory

    main.add_command(cli_theory.theory)


_register()
