"""The ``assay`` command line.

Each command is a thin click wrapper around a function of ``graders`` (or, lazily,
``sandbox``/``server``) that takes plain values; expected failures (``AssayError``)
are printed as one readable line with a non-zero exit code, never a traceback.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import click

from graders.errors import AssayError
from sandbox import settings

# Exit codes shared by `assay score` and `assay grade`.
EXIT_PASSED, EXIT_BELOW_BAR, EXIT_SUBMISSION_FAILED, EXIT_PLATFORM_FAILED = 0, 1, 2, 3


class _AssayGroup(click.Group):
    #: Commands imported only when named (name -> "module:attribute"): the server's
    #: commands import Flask, which every other command would otherwise pay for.
    lazy: dict[str, str] = {}

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except (AssayError, settings.SettingsError) as exc:  # a bad ASSAY_* value: its sentence
            click.secho(f"error: {exc}", fg="red", err=True)
            sys.exit(getattr(exc, "exit_code", EXIT_PLATFORM_FAILED))

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx: click.Context, name: str):
        if name in self.lazy and name not in self.commands:
            module, _, attribute = self.lazy[name].partition(":")
            self.add_command(getattr(importlib.import_module(module), attribute), name)
        return super().get_command(ctx, name)


@click.group(cls=_AssayGroup)
@click.version_option(package_name="assay")
def main() -> None:
    """Assay: assess machine-learning engineers with real, sandboxed coding challenges."""
    for line in settings.unknown():  # typo help: the nearest known name
        click.secho(f"warning: {line}", fg="yellow", err=True)


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


@challenges.command("check-data")
@click.option("--slug", "slugs", multiple=True, help="Only this challenge (repeatable).")
def challenges_check_data(slugs: tuple[str, ...]) -> None:
    """Write each challenge's public slice for the self-check (check_data.npz): the first
    rows of its train split, which the platform's dry run trains on too."""
    from graders.challenges import all_challenges
    from graders.scoring import open_challenge_dataset
    from graders.selfcheck import write_check_data

    for slug, challenge in all_challenges().items():
        if slugs and slug not in slugs:
            continue
        path = write_check_data(challenge, open_challenge_dataset(challenge))
        click.echo(f"{slug}: {path} ({path.stat().st_size} bytes)")


# -- score ---------------------------------------------------------------------------------------


def emit_report(report, json_path: Path | None) -> None:
    """Print ``report`` as text and write its JSON to ``json_path`` ('-' for stdout)."""
    from graders.report_text import render_text

    if json_path is not None and str(json_path) == "-":
        click.echo(report.to_json())
        return
    click.echo(render_text(report))
    if json_path is not None:
        json_path.write_text(report.to_json(), encoding="utf-8")
        click.echo(f"report written to {json_path}")


def exit_code(report) -> int:
    """0 passed, 1 below the bar, 2 the submission failed, 3 the platform failed (catalogue)."""
    from graders.catalogue import is_platform

    if report.status == "failed":
        return EXIT_PLATFORM_FAILED if is_platform(report.error.code) else EXIT_SUBMISSION_FAILED
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


# -- grade ---------------------------------------------------------------------------------------


class ProgressPrinter:
    """Live progress on the terminal: phase, epoch/total and loss, one line rewritten in place."""

    def __init__(self):
        self.tty = sys.stderr.isatty()
        self.phase = ""

    def __call__(self, event: dict) -> None:
        kind = event.get("event")
        if kind == "run" and event.get("runs", 1) > 1:
            self._line(f"run {event['run']}/{event['runs']} (seed {event['seed']})", final=True)
        elif kind == "phase":
            self.phase = event.get("phase", self.phase)
            self._line(
                f"[{self.phase}] {event.get('status')}", final=event.get("status") != "sandbox"
            )
        elif kind == "epoch":
            logs = event.get("logs", {})
            metrics = "  ".join(
                f"{k} {v:.4f}" for k, v in logs.items() if isinstance(v, int | float)
            )
            self._line(
                f"[{self.phase}] epoch {event.get('epoch')}/{event.get('epochs')}  {metrics}",
                final=False,
            )
        elif kind == "predicted":
            self._line(f"[predict] {event.get('set')}: {event.get('n')} predictions", final=True)

    def _line(self, text: str, final: bool) -> None:
        if self.tty:
            click.echo("\r\033[K" + text, nl=final, err=True)
        else:
            click.echo(text, err=True)


def grade_path(
    path: Path, slug: str, sandbox, options, image: str | None = None, progress=None, warm=None
):
    """Grade the file at ``path`` through the grading service (a report, never an exception)."""
    from graders.service import grade_submission

    return grade_submission(
        challenge=slug,
        source=path.read_bytes(),
        filename=path.name,
        sandbox=sandbox,
        options=options,
        progress=progress,
        image=image,
        warm=warm,
    )


def warm_pool(slug: str, sandbox: str, options, image: str | None):
    """A one-slot warm pool for ``assay grade --warm`` (None when no backend runs: the
    grading then reports it); with ``--repeats`` every run after the first starts warm."""
    from graders.challenges import get_challenge
    from graders.errors import AssayError
    from graders.warm import WarmPool, shape_for
    from sandbox.errors import SandboxUnavailable
    from sandbox.registry import pick_sandbox

    try:
        backend = pick_sandbox(sandbox, image)
        return backend, WarmPool(backend, shape_for(get_challenge(slug), options.tier, options))
    except (SandboxUnavailable, AssayError):
        return sandbox, None


@main.command("grade")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--challenge", "slug", required=True, help="Challenge slug, e.g. lenet5-mnist.")
@click.option(
    "--sandbox", type=click.Choice(["auto", "docker", "bwrap"]), default="auto", show_default=True
)
@click.option("--tier", default=None, help="Dataset tier (default: the challenge's default tier).")
@click.option(
    "--repeats",
    type=click.IntRange(1, 20),
    default=1,
    show_default=True,
    help="Train N times, seeds in a row.",
)
@click.option("--seed", type=int, default=None, help="First random seed (default 1234).")
@click.option(
    "--train-limit",
    type=click.IntRange(1),
    default=None,
    help="Train on the first N examples only.",
)
@click.option(
    "--test-limit",
    type=click.IntRange(1),
    default=None,
    help="Score the first N test examples only.",
)
@click.option(
    "--split-seed",
    default=None,
    metavar="TEXT",
    help="Secret the sample tiers' train/test split is drawn with (any text); the same secret "
    "draws the same split. Default: a fresh secret per run. The report records the split's "
    "identity, never the secret.",
)
@click.option("--train-seconds", type=click.IntRange(1), default=None, hidden=True)
@click.option("--image", default=None, help="Grader image for the docker sandbox.")
@click.option(
    "--warm",
    is_flag=True,
    help="Train in a sandbox started ahead (imports done), as the worker does; each run of "
    "--repeats takes a fresh one.",
)
@click.option(
    "--json",
    "json_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the report as JSON.",
)
def grade_command(
    path,
    slug,
    sandbox,
    tier,
    repeats,
    seed,
    train_limit,
    test_limit,
    split_seed,
    train_seconds,
    image,
    warm,
    json_path,
) -> None:
    """Grade a solution (.py or .ipynb) in a sandbox: train, predict on hidden test inputs, score.

    Exit code 0: passed; 1: graded but below the bar; 2: the submission failed to run;
    3: the platform itself failed.
    """
    from graders.pipeline import DEFAULT_SEED, GradeOptions
    from sandbox.lifecycle import install_signal_handlers

    install_signal_handlers()  # SIGTERM/SIGINT remove this grader's sandboxes, then exit
    options = GradeOptions(
        tier=tier,
        seed=DEFAULT_SEED if seed is None else seed,
        repeats=repeats,
        train_limit=train_limit,
        test_limit=test_limit,
        train_seconds=train_seconds,
        split_seed=split_seed,
    )
    pool = None
    if warm:
        sandbox, pool = warm_pool(slug, sandbox, options, image)
    try:
        report = grade_path(path, slug, sandbox, options, image, ProgressPrinter(), pool)
    finally:
        if pool is not None:
            pool.close()
    emit_report(report, json_path)
    sys.exit(exit_code(report))


@main.command("check")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--challenge", "slug", required=True, help="Challenge slug, e.g. lenet5-mnist.")
@click.option(
    "--sandbox", type=click.Choice(["auto", "docker", "bwrap"]), default="auto", show_default=True
)
@click.option("--image", default=None, help="Grader image for the docker sandbox.")
@click.option(
    "--warm",
    is_flag=True,
    help="Run in a sandbox started ahead (imports done), as the worker's dry-run lane does.",
)
@click.option(
    "--lang", type=click.Choice(["en", "zh"]), default="en", show_default=True, help="Messages."
)
@click.option(
    "--json",
    "json_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the result as JSON ('-' for stdout).",
)
def check_command(path, slug, sandbox, image, warm, lang, json_path) -> None:
    """Dry-run a solution: the contract, one short training step on a tiny public slice, save,
    the platform's safe load, a handful of predictions, their shape and the model budget.

    The same sandbox, image and limits as a grading; never the hidden test set.
    Exit code 0: it meets the contract; 2: a step failed (it says what to fix);
    3: the platform itself failed.
    """
    import json

    from graders.contract import is_candidate_code, render
    from graders.dryrun import dry_run
    from sandbox.lifecycle import install_signal_handlers

    install_signal_handlers()
    pool = None
    if warm:
        sandbox, pool = check_pool(slug, sandbox, image)
    try:
        result = dry_run(
            challenge=slug,
            source=path.read_bytes(),
            filename=path.name,
            sandbox=sandbox,
            image=image,
            warm=pool,
            progress=StepPrinter(),
        )
    finally:
        if pool is not None:
            pool.close()
    if json_path is not None and str(json_path) == "-":
        click.echo(json.dumps(result.to_dict(), ensure_ascii=False))
    else:
        for line in render(result.outcome, lang):
            click.echo(line)
        if json_path is not None:
            json_path.write_text(json.dumps(result.to_dict(), ensure_ascii=False), "utf-8")
    if result.passed:
        sys.exit(EXIT_PASSED)
    code = result.outcome.code
    sys.exit(EXIT_SUBMISSION_FAILED if is_candidate_code(code) else EXIT_PLATFORM_FAILED)


class StepPrinter:
    """Each sandbox step on stderr as it passes (the full table follows on stdout)."""

    def __call__(self, event: dict) -> None:
        if event.get("event") == "step":
            click.echo(f"[check] {event.get('step')} ok", err=True)


def check_pool(slug: str, sandbox: str, image: str | None):
    """A one-slot warm pool shaped for dry runs (None when no backend runs)."""
    from graders.challenges import get_challenge
    from graders.dryrun import limits_for
    from graders.warm import Shape, WarmPool
    from sandbox.errors import SandboxUnavailable
    from sandbox.registry import pick_sandbox

    try:
        backend = pick_sandbox(sandbox, image)
        challenge = get_challenge(slug)
        limits = limits_for(challenge, challenge.spec.dataset.default_tier)
        return backend, WarmPool(backend, Shape.of(limits))
    except (SandboxUnavailable, AssayError):
        return sandbox, None


def summary_line(slug: str, report) -> str:
    """One line per graded challenge: outcome, and each bar's metric against its bar."""
    if report.status != "graded":
        return f"{slug:<18} {report.status.upper()} {report.error.code if report.error else ''}".rstrip()
    checks = report.verdict.checks if report.verdict else []
    shown = "; ".join(
        f"{c.metric} {'n/a' if c.value is None else f'{c.value:.4f}'} (bar {c.bar:g})"
        for c in checks
    )
    from graders.verdicts import of_report

    return f"{slug:<18} {of_report(report).text().upper()} {shown}".rstrip()


def _register() -> None:
    # Sub-command groups that live beside the code they drive.
    from graders import cli_data, cli_image, cli_sandbox, cli_theory

    main.add_command(cli_data.data)
    main.add_command(cli_theory.theory)
    main.add_command(cli_image.image)
    main.add_command(cli_sandbox.sandbox)
    # The web app, the worker, staff accounts and the demo (server/cli.py).
    for name in ("serve", "worker", "doctor", "admin", "demo"):
        _AssayGroup.lazy[name] = f"server.cli:{name}"


_register()
