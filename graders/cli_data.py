"""``assay data``: prepare, import, fetch and list the offline datasets.

Thin wrappers around ``graders.dataset_build`` (building tiers) and ``graders.datasets``
(opening and verifying them); a failure is a ``DatasetError``, which the ``assay`` group
prints as one line with a non-zero exit code.
"""

from __future__ import annotations

from pathlib import Path

import click

from graders.errors import AssayError


@click.group()
def data() -> None:
    """Prepare, import and list the offline datasets."""


@data.command("prepare")
@click.option(
    "--dataset", "names", multiple=True, help="Only this dataset (repeatable): mnist, reviews."
)
@click.option("--force", is_flag=True, help="Rebuild even when the prepared files verify.")
def data_prepare(names: tuple[str, ...], force: bool) -> None:
    """Build every dataset from installed packages (no download), split and checksum it."""
    from graders.dataset_build import prepare

    for ds in prepare(list(names) or None, force=force):
        counts = ", ".join(f"{k} {v}" for k, v in ds.splits.items())
        click.echo(f"{ds.name}/{ds.tier}: {counts}  ({ds.root})")


@data.command("import")
@click.argument("name", type=click.Choice(["mnist", "reviews"]))
@click.argument("folder", type=click.Path(exists=True, path_type=Path))
@click.option(
    "--test-set",
    is_flag=True,
    help="FOLDER is your own labelled test set (IDX folder or CSV file), stored as tier "
    "BASE-private: reports graded on it say their test labels are private.",
)
@click.option(
    "--base-tier", default="sample", show_default=True, help="With --test-set: the train split."
)
def data_import(name: str, folder: Path, test_set: bool, base_tier: str) -> None:
    """Import original IDX files (gzipped or not) as the full MNIST tier (60,000/10,000),
    or, with --test-set, an operator's own labelled test set for a dataset."""
    from graders.dataset_build import import_mnist, import_test_set

    if test_set:
        ds = import_test_set(name, folder, base_tier)
    elif name != "mnist" or not folder.is_dir():
        raise click.UsageError("without --test-set, import takes mnist and a folder of IDX files")
    else:
        ds = import_mnist(folder)
    click.echo(
        f"{ds.name}/{ds.tier}: train {ds.splits['train']}, test {ds.splits['test']}  ({ds.root})"
    )


@data.command("fetch")
@click.argument("name", type=click.Choice(["mnist"]))
@click.option(
    "--url",
    default=None,
    help="Folder URL holding the four IDX files (NAME.gz or NAME); default: a public mirror.",
)
def data_fetch(name: str, url: str | None) -> None:
    """Download the original MNIST files, verify their pinned SHA-256 and import them as
    the full tier (for operators with internet; grading itself never downloads)."""
    from graders.dataset_build import MNIST_URL, fetch_mnist

    source = url or MNIST_URL
    click.echo(f"downloading MNIST from {source}")
    ds = fetch_mnist(source)
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
