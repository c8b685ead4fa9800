"""``assay serve``, ``assay worker``, ``assay admin create-user`` and ``assay demo``.

Thin click wrappers (registered on the ``assay`` group by ``graders.cli``); the work is in
keyword-only ``main``-style functions that take plain values. Every command reads the
instance folder from ``ASSAY_INSTANCE`` (default ``var/instance``) and migrates a fresh one.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import click

from sandbox import settings

DEFAULT_HOST, DEFAULT_PORT = "127.0.0.1", 8000
#: Marks a folder that ``assay demo`` made, so that it only ever wipes its own.
DEMO_MARKER = ".assay-demo"
DEMO_INSTANCE = "var/demo"


# -- serve -----------------------------------------------------------------------------------------


def gunicorn_argv(host: str, port: int, workers: int) -> list[str]:
    """The gunicorn command line that serves ``create_app()`` (sync workers; htmx polls)."""
    return [
        sys.executable,
        "-m",
        "gunicorn",
        "--bind",
        f"{host}:{port}",
        "--workers",
        str(workers),
        "--access-logfile",
        "-",
        "--graceful-timeout",
        "10",
        # Its default control socket is one path per user: a second server would take it over.
        "--no-control-socket",
        "server:create_app()",
    ]


def migrate_instance() -> None:
    """Create or upgrade the instance's database (several processes may call it at once)."""
    from server.config import Config
    from server.migrate import upgrade

    config = Config()
    upgrade(config.DATABASE_URL, Path(config.INSTANCE_PATH))


@click.command("serve")
@click.option("--host", default=DEFAULT_HOST, show_default=True)
@click.option("--port", default=DEFAULT_PORT, show_default=True, type=click.IntRange(1, 65535))
@click.option(
    "--workers", default=2, show_default=True, type=click.IntRange(1, 64), help="gunicorn workers."
)
def serve(host: str, port: int, workers: int) -> None:
    """Serve the web app with gunicorn (127.0.0.1:8000 by default)."""
    migrate_instance()
    argv = gunicorn_argv(host, port, workers)
    os.execv(argv[0], argv)


# -- worker ----------------------------------------------------------------------------------------


@click.command("worker")
@click.option("--threads", type=click.IntRange(1, 64), default=None, help="Gradings at once.")
@click.option(
    "--sandbox", type=click.Choice(["auto", "docker", "bwrap"]), default=None, help="Backend."
)
def worker(threads: int | None, sandbox: str | None) -> None:
    """Grade submissions from the queue until SIGTERM/SIGINT (running gradings are handed back)."""
    from server.worker_process import main

    main(threads=threads, sandbox=sandbox)


@click.command("doctor")
@click.option(
    "--sandbox", type=click.Choice(["auto", "docker", "bwrap"]), default="auto", help="Backend."
)
def doctor(sandbox: str) -> None:
    """Check engine, image, data, database, queue and disk; say what to fix (exit 1 if any)."""
    from server.doctor import run_checks

    checks = run_checks(sandbox=sandbox)
    for check in checks:
        click.echo(check.line())
    if not all(check.ok for check in checks):
        raise SystemExit(1)


def sessions(engine):
    """A session factory for a command that writes without the web app: the candidates'
    summaries' listeners installed first, as ``create_app`` and the worker install them."""
    from server.db import make_session_factory
    from server.summary import listeners

    listeners.install()
    return make_session_factory(engine)


# -- admin -----------------------------------------------------------------------------------------


@click.group("admin")
def admin() -> None:
    """Manage staff accounts."""


def create_user(*, email: str, name: str, role: str, password: str) -> tuple[int, str]:
    """Add a staff user to the instance's database: its id and stored email (or ``AccountError``)."""
    from server.accounts import create_user as add
    from server.config import Config
    from server.db import make_engine, session_scope

    migrate_instance()
    engine = make_engine(Config().DATABASE_URL)
    try:
        with session_scope(sessions(engine)) as session:
            user = add(session, email, name, password, role)
            return user.id, user.email
    finally:
        engine.dispose()


@admin.command("create-user")
@click.option("--email", required=True)
@click.option("--name", default="", help="Shown in the app (default: the email).")
@click.option(
    "--role",
    type=click.Choice(["admin", "recruiter", "reviewer"]),
    default="admin",
    show_default=True,
)
@click.option(
    "--password",
    default=None,
    help="Default: ask for it (or generate one when stdin is not a terminal, and print it).",
)
def admin_create_user(email: str, name: str, role: str, password: str | None) -> None:
    """Create a staff user (admin, recruiter or reviewer)."""
    from server.accounts import AccountError

    generated = False
    if password is None:
        if sys.stdin.isatty():
            password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
        else:
            password, generated = secrets.token_urlsafe(12), True
    try:
        user_id, stored = create_user(email=email, name=name, role=role, password=password)
    except AccountError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"created {role} {stored} (id {user_id})")
    if generated:
        click.echo(f"password: {password}")


@admin.command("queue-share")
@click.argument("assessment_id", type=int)
@click.argument("share", type=float)
def admin_queue_share(assessment_id: int, share: float) -> None:
    """Weight ASSESSMENT_ID in the grading queue's round-robin (default 1; 2: twice the
    turns of a 1 while both wait). Applies to gradings queued from now on."""
    from server.config import Config
    from server.db import make_engine, session_scope
    from server.fairqueue import set_share

    migrate_instance()
    engine = make_engine(Config().DATABASE_URL)
    try:
        with session_scope(sessions(engine)) as session:
            found = set_share(session, assessment_id, share)
            click.echo(f"assessment {found.id} ({found.title}): queue share {found.queue_share:g}")
    except (ValueError, LookupError) as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        engine.dispose()


# -- demo ------------------------------------------------------------------------------------------


@dataclass
class DemoSetup:
    """What ``prepare_demo`` made: logins (email -> password) and the candidate's link path."""

    logins: dict[str, tuple[str, str]]
    assessment_id: int
    candidate_path: str
    submitted: list[int]


def fresh_instance(folder: Path) -> Path:
    """An empty instance folder at ``folder``; an old one is wiped only if a demo made it."""
    if folder.exists() and any(folder.iterdir()):
        if not (folder / DEMO_MARKER).exists():
            raise click.ClickException(
                f"{folder} exists and was not made by `assay demo`; choose another --instance"
            )
        shutil.rmtree(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / DEMO_MARKER).write_text("made by assay demo; wiped by the next one\n")
    return folder


def prepare_demo(*, grade: bool) -> DemoSetup:
    """Migrate the instance, add demo staff and an assessment, and a candidate's invitation.

    With ``grade``, the demo candidate starts and submits every challenge's reference
    solution, so the worker has gradings to run and reviewers reports to read.
    """
    from graders.challenges import all_challenges
    from graders.theory import load_bank
    from server import candidates, invitations
    from server.accounts import create_user as add_user
    from server.assessments import AssessmentDraft, create_assessment
    from server.config import Config
    from server.db import make_engine, session_scope
    from server.grading import use_queue
    from server.queue import get_huey

    migrate_instance()
    config = Config()
    engine = make_engine(config.DATABASE_URL)
    factory = sessions(engine)
    use_queue(factory, get_huey(config.INSTANCE_PATH, config.QUEUE_URL))
    from server import dryruns
    from server.queue import get_dry_run_huey

    dryruns.use_queue(factory, get_dry_run_huey(config.INSTANCE_PATH, config.QUEUE_URL))
    logins = {}
    try:
        with session_scope(factory) as session:
            users = {}
            for role in ("admin", "recruiter", "reviewer"):
                email, password = f"{role}@demo.example", secrets.token_urlsafe(9)
                users[role] = add_user(session, email, f"Demo {role}", password, role)
                logins[role] = (email, password)
            challenges = all_challenges()
            assessment = create_assessment(
                session,
                users["recruiter"],
                AssessmentDraft(
                    title="Demo: ML engineer assessment",
                    challenges=list(challenges),
                    theory_question_ids=list(load_bank().ids),
                    time_limit_minutes=180,
                    attempt_limit=3,
                    dataset_tier="sample",
                    show_scores_to_candidate=True,
                ),
            )
            invitation, token = invitations.invite(
                session, assessment, "Demo Candidate", "candidate@demo.example"
            )
            submitted = []
            if grade:
                candidates.start_clock(invitation)
                for slug, challenge in challenges.items():
                    data = challenge.path(challenge.spec.reference).read_bytes()
                    sub = candidates.submit_code(session, invitation, slug, "solution.py", data)
                    submitted.append(sub.id)
            return DemoSetup(logins, assessment.id, f"/c/{token}", submitted)
    finally:
        engine.dispose()


def _wait_healthy(url: str, proc: subprocess.Popen, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise click.ClickException(f"the web server exited (code {proc.returncode})")
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=2) as reply:
                if reply.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise click.ClickException(f"the web server did not answer {url}/healthz in {seconds:g} s")


def _stop(procs: list[subprocess.Popen], seconds: float = 30) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + seconds
    for proc in procs:
        try:
            proc.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@click.command("demo")
@click.option("--host", default=DEFAULT_HOST, show_default=True)
@click.option("--port", default=DEFAULT_PORT, show_default=True, type=click.IntRange(1, 65535))
@click.option(
    "--instance",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help=f"Instance folder, made fresh (default: $ASSAY_INSTANCE, else {DEMO_INSTANCE}).",
)
@click.option(
    "--grade/--no-grade",
    default=None,
    help="Also submit the reference solutions as a demo candidate (or ASSAY_DEMO_GRADE=1).",
)
@click.option(
    "--sandbox", type=click.Choice(["auto", "docker", "bwrap"]), default="auto", show_default=True
)
def demo(host: str, port: int, instance: Path | None, grade: bool | None, sandbox: str) -> None:
    """Prepare data, set up a fresh demo instance, serve web and worker on 127.0.0.1."""
    from graders.dataset_build import prepare

    found = settings.current()
    grade = found.demo_grade if grade is None else grade
    folder = fresh_instance(Path(instance or found.instance or DEMO_INSTANCE))
    os.environ["ASSAY_INSTANCE"] = str(folder.resolve())
    base = f"http://{host}:{port}"
    os.environ.setdefault("ASSAY_BASE_URL", base)
    click.echo("preparing datasets ...")
    prepare()
    setup = prepare_demo(grade=grade)
    env = {**os.environ, "ASSAY_SANDBOX": sandbox}
    # Own sessions: Ctrl-C reaches the demo alone, which then stops each child once, in order.
    web = subprocess.Popen(gunicorn_argv(host, port, 2), env=env, start_new_session=True)
    work = subprocess.Popen(
        [sys.executable, "-m", "server.cli", "worker"], env=env, start_new_session=True
    )
    procs = [web, work]
    # SIGTERM (an operator's kill, a container's stop) stops the demo as Ctrl-C does, and
    # Ctrl-C works even when the shell started the demo with SIGINT ignored (a background job).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        _wait_healthy(base, web)
        click.secho(f"\nAssay demo at {base}/  (instance {folder})", bold=True)
        for role, (email, password) in setup.logins.items():
            click.echo(f"  {role:<10} {email:<24} password {password}")
        click.echo(f"  candidate  {base}{setup.candidate_path}")
        if setup.submitted:
            click.echo(
                f"  grading the reference solutions as the demo candidate: {setup.submitted}"
            )
        click.echo("Ctrl-C stops the web server and the worker.")
        while all(proc.poll() is None for proc in procs):
            time.sleep(0.5)
        click.echo("a demo process exited; stopping the other", err=True)
    except KeyboardInterrupt:
        click.echo("\nstopping ...")
    finally:
        _stop(procs)


COMMANDS = [serve, worker, doctor, admin, demo]


class _Group(click.Group):
    """A bad ``ASSAY_*`` value stops a command with its sentence, not a traceback."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except settings.SettingsError as exc:
            raise click.ClickException(str(exc)) from exc


@click.group(cls=_Group)
def main() -> None:
    """The server commands alone (``python -m server.cli``); ``assay`` has them too."""


for _command in COMMANDS:
    main.add_command(_command)

if __name__ == "__main__":
    main()
