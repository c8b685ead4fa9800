"""The pages the hiring team and candidates hit most, served by gunicorn, under bounded load.

A fresh migrated SQLite instance holds one assessment (two challenges, two theory questions)
with N candidates: most have a graded submission (real reports, scored by graders.scoring;
passed, below the bar, or a failed run; report sizes vary with the training log), some also
a second attempt, some nothing yet; sources vary (the challenges' reference solutions and
starter, edited per candidate); some have a decision. It then serves the instance like
``assay serve`` (gunicorn, 2 sync workers, a free port on 127.0.0.1) and requests each page a
bounded number of times from a few threads, each request a new connection:

- **recruiter table**: the recruiter's candidates page of the assessment (the owner);
- **status**: a candidate's submission status page (through their link);
- **reviewer table**: the reviewer's candidates table, first page, sorted by the metric, and
  every sort (both ways) and filter in turn;
- **report**: a report page (several submissions in turn), blind review on.

Similarity flags and the report's rendered parts (code, plots, explanation) are stored once
per submission after its grading (the worker's steps, ``server.similarity.check`` and
``server.reviewing.stored``); the bench runs those steps for the submissions whose reports it
requests and prints what they cost. Prints requests/s and p50/p99 in milliseconds per page;
a request that gets no page (an error, or gunicorn's 30 s worker timeout) is counted as
failed. Stops by itself and removes the instance.

    .venv/bin/python bench/web.py [--n 10000] [--requests 200] [--concurrency 4]
        [--pages report status ...]
"""

# ruff: noqa: E402 (sys.path is fixed before the standard library is imported)
from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, this file's folder comes first on sys.path, and bench/queue.py would
# shadow the standard library's ``queue``.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse
import hashlib
import http.client
import os
import random
import re
import signal
import socket
import statistics
import subprocess
import tempfile
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TARGET_MS = 50.0
HOST = "127.0.0.1"
PASSWORD = "bench password 1"
SLUGS = ("lenet5-mnist", "sentiment-bilstm")
#: The candidates table's sorts and filters (server.summary.page.SORTS and OUTCOMES).
SORTS = ("candidate", "state", "outcome", "metric", "attempts", "time", "decision")
OUTCOMES = ("passed", "below_bar", "failed", "not_started", "pending")


# -- seeding -------------------------------------------------------------------------------------


def _reports() -> dict[str, list[tuple[str, bool | None, str | None]]]:
    """Per challenge: a few (report_json, passed, error_code) variants of different sizes."""
    import numpy as np

    from graders import scoring
    from graders.challenges import get_challenge
    from graders.predictions import Predictions
    from graders.report import ErrorInfo, Report

    out = {}
    for slug in SLUGS:
        spec = get_challenge(slug).spec
        k = len(spec.dataset.class_names)
        variants = []
        for wrong, epochs in ((90, 4), (150, 15), (900, 8), (60, 40)):
            rng = np.random.default_rng(wrong)
            y = rng.integers(0, k, 2000)
            pred = y.copy()
            pred[:wrong] = (pred[:wrong] + 1) % k
            test = scoring.score_set(spec, "test", y, Predictions(ids=pred))
            values = {m.name: m.value for m in test.metrics}
            verdict = scoring.verdict(spec, "sample", values)
            report = Report(
                challenge=slug,
                title=spec.title,
                dataset=spec.dataset.name,
                tier="sample",
                status="graded",
                class_names=list(spec.dataset.class_names),
                primary_metric=spec.primary_metric,
                verdict=verdict,
                test=test,
                history={
                    "loss": [1.0 / (e + 1) for e in range(epochs)],
                    "accuracy": [1 - 0.5 / (e + 1) for e in range(epochs)],
                },
                logs={"train stdout": f"epoch x/{epochs} - loss 0.1234\n" * (epochs * 40)},
                reproducibility={"backend": "bwrap", "train_wall_seconds": 41.2, "seed": 1},
            )
            variants.append((report.to_json(), verdict.passed, None))
        crashed = Report(
            challenge=slug,
            title=spec.title,
            dataset=spec.dataset.name,
            tier="sample",
            status="failed",
            error=ErrorInfo(
                code="crashed",
                message="The training code raised an exception.",
                phase="train",
                detail='Traceback (most recent call last):\n  File "solution.py"\nValueError\n',
            ),
            logs={"train stderr": "ValueError: shapes do not match\n" * 30},
        )
        variants.append((crashed.to_json(), False, "crashed"))
        out[slug] = variants
    return out


def _sources() -> dict[str, list[bytes]]:
    """Per challenge: base programs a candidate's code is drawn from (edited per candidate)."""
    lenet = ROOT / "challenges/lenet5-mnist"
    bilstm = ROOT / "challenges/sentiment-bilstm"
    return {
        "lenet5-mnist": [
            (lenet / "reference/solution.py").read_bytes(),
            (lenet / "reference/solution_script.py").read_bytes(),
            (lenet / "starter.py").read_bytes(),
        ],
        "sentiment-bilstm": [(bilstm / "reference/solution.py").read_bytes()]
        + [p.read_bytes() for p in sorted(bilstm.glob("starter*.py"))],
    }


def _edited(source: bytes, i: int, rng: random.Random) -> bytes:
    """A candidate's own version: renamed names, their own comments, a helper of their own."""
    text = source.decode()
    if rng.random() < 0.7:
        text = text.replace("model", f"net{i % 97}").replace("history", f"hist_{i % 13}")
    extra = "".join(
        f"\ndef helper_{i}_{j}(x):\n    # candidate {i}'s note {j}\n    return x * {j + i % 7}\n"
        for j in range(rng.randint(0, 12))
    )
    return (text + extra).encode()


def seed(factory, n: int, seed_value: int = 7) -> dict:
    """N candidates (see the module); returns the ids and tokens the bench requests."""
    import sqlalchemy as sa

    from server.models import (
        Assessment,
        AssessmentChallenge,
        Decision,
        Grading,
        Invitation,
        ReviewAssignment,
        Submission,
        TheoryAnswer,
        User,
        utcnow,
    )
    from server.security import hash_password

    rng = random.Random(seed_value)
    reports, sources = _reports(), _sources()
    now = utcnow()
    with factory() as session:
        owner = User(
            email="owner@example.test",
            name="Owner",
            role="recruiter",
            password_hash=hash_password(PASSWORD),
        )
        reviewer = User(
            email="rev@example.test",
            name="Rev",
            role="reviewer",
            password_hash=hash_password(PASSWORD),
        )
        session.add_all([owner, reviewer])
        session.flush()
        assessment = Assessment(
            owner_id=owner.id,
            title="Bench",
            time_limit_minutes=120,
            theory_question_ids=["class-imbalance", "evaluation-metrics"],
            challenges=[
                AssessmentChallenge(challenge_slug=slug, position=i) for i, slug in enumerate(SLUGS)
            ],
        )
        session.add(assessment)
        session.flush()
        session.add(ReviewAssignment(assessment_id=assessment.id, user_id=reviewer.id))
        session.commit()
        conn = session.connection()
        conn.execute(
            sa.insert(Invitation),
            [
                {
                    "assessment_id": assessment.id,
                    "candidate_name": f"Person {i:05d}",
                    "candidate_email": f"p{i}@example.test",
                    "token_hash": hashlib.sha256(f"bench-token-{i}".encode()).hexdigest(),
                    "created_at": now,
                    "expires_at": now + timedelta(days=14),
                    "opened_at": None if i % 20 == 19 else now,
                    "extra_time_factor": 1.0,
                }
                for i in range(n)
            ],
        )
        ids = list(session.scalars(sa.select(Invitation.id).order_by(Invitation.id)))
        subs, plans = [], []
        for i, iid in enumerate(ids):
            if i % 20 == 19:  # not started
                continue
            for slug in SLUGS:
                for attempt in range(1 + (rng.random() < 0.15)):
                    source = _edited(rng.choice(sources[slug]), i, rng)
                    subs.append(
                        {
                            "invitation_id": iid,
                            "challenge_slug": slug,
                            "filename": "solution.py",
                            "source": source,
                            "sha256": hashlib.sha256(source).hexdigest(),
                            "size": len(source),
                            "created_at": now + timedelta(minutes=(i % 90) + attempt),
                            "counts_as_attempt": True,
                        }
                    )
                    plans.append(rng.choice(reports[slug]))
        conn.execute(sa.insert(Submission), subs)
        sub_ids = list(session.scalars(sa.select(Submission.id).order_by(Submission.id)))
        conn.execute(
            sa.insert(Grading),
            [
                {
                    "submission_id": sid,
                    "status": "failed" if code else "graded",
                    "passed": passed,
                    "error_code": code,
                    "report_json": report,
                    "queued_at": now,
                    "started_at": now,
                    "finished_at": now,
                    "options_json": "{}",
                    "platform_note": "",
                    "tries": 1,
                    "max_tries": 3,
                }
                for sid, (report, passed, code) in zip(sub_ids, plans, strict=True)
            ],
        )
        answers = [
            "Split with stratification and report per-class recall and F1; use class weights.",
            "Accuracy hides the minority class; use precision, recall and a confusion matrix.",
            "I would oversample.",
        ]
        conn.execute(
            sa.insert(TheoryAnswer),
            [
                {
                    "invitation_id": iid,
                    "question_id": q,
                    "text": rng.choice(answers),
                    "submitted_at": now,
                    "updated_at": now,
                }
                for i, iid in enumerate(ids)
                if i % 20 != 19
                for q in ("class-imbalance", "evaluation-metrics")
            ],
        )
        conn.execute(
            sa.insert(Decision),
            [
                {
                    "invitation_id": iid,
                    "decision": rng.choice(("advance", "hold", "reject")),
                    "note": "",
                    "decided_by": owner.id,
                    "decided_at": now,
                }
                for iid in ids[::7]
            ],
        )
        session.commit()
        first_subs = dict(
            session.execute(
                sa.select(Submission.invitation_id, sa.func.max(Submission.id))
                .where(Submission.challenge_slug == SLUGS[0])
                .group_by(Submission.invitation_id)
            ).all()
        )
    people = [i for i in range(n) if i % 20 != 19]
    picked = [people[(k * len(people)) // 10] for k in range(10)]
    return {
        "assessment": assessment.id,
        # Each report needs the worker's similarity check first (seconds at 10,000): four.
        "reports": [first_subs[ids[i]] for i in picked[::3]],
        "statuses": [(f"bench-token-{i}", first_subs[ids[i]]) for i in picked],
    }


def check_similarity(factory, submission_ids: list[int]) -> list[float]:
    """The worker's similarity step for these submissions; seconds each."""
    from server import similarity
    from server.models import Submission

    if not hasattr(similarity, "check"):  # before flags were stored: the page compares
        return []
    took = []
    with factory() as session:
        for sid in submission_ids:
            started = time.perf_counter()
            similarity.check(session, session.get(Submission, sid))
            session.commit()
            took.append(time.perf_counter() - started)
    return took


def render_reports(factory, submission_ids: list[int]) -> list[float]:
    """The worker's other after-grading step: the report's code, plots and explanation
    rendered once and stored (``server.reviewing.stored``); seconds each."""
    try:
        from server.reviewing import stored
    except ImportError:  # before the parts were stored: the page renders them
        return []
    from server.models import Submission

    step = stored.after_grading(factory)
    took = []
    with factory() as session:
        gradings = [session.get(Submission, sid).latest.id for sid in submission_ids]
    for grading_id in gradings:
        started = time.perf_counter()
        step(grading_id)
        took.append(time.perf_counter() - started)
    return took


# -- serving and load ----------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def _request(port: int, path: str, cookie: str = "", method="GET", body=None, headers=None):
    conn = http.client.HTTPConnection(HOST, port, timeout=60)
    try:
        sent = {"Cookie": cookie} if cookie else {}
        sent.update(headers or {})
        conn.request(method, path, body=body, headers=sent)
        response = conn.getresponse()
        return response.status, response.getheaders(), response.read()
    finally:
        conn.close()


def _cookie(headers) -> str:
    return "; ".join(v.split(";", 1)[0] for k, v in headers if k.lower() == "set-cookie")


def login(port: int, email: str) -> str:
    """A session cookie of ``email`` (through the login form and its CSRF token)."""
    status, headers, body = _request(port, "/login")
    token = re.search(rb'name="csrf_token"[^>]*value="([^"]+)"', body).group(1).decode()
    cookie = _cookie(headers)
    form = urllib.parse.urlencode({"email": email, "password": PASSWORD, "csrf_token": token})
    status, headers, _ = _request(
        port,
        "/login",
        cookie,
        "POST",
        form,
        {"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert status in (302, 303), f"login of {email} answered {status}"
    return _cookie(headers) or cookie


def _wait_up(port: int, web: subprocess.Popen, limit: float = 60.0) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if web.poll() is not None:
            raise SystemExit(f"gunicorn exited with {web.returncode}")
        try:
            _request(port, "/login")
            return
        except OSError:
            time.sleep(0.2)
    raise SystemExit("gunicorn did not answer in time")


def drive(port: int, urls: list[str], cookie: str, requests: int, concurrency: int) -> dict:
    """``requests`` GETs over ``urls`` in turn from ``concurrency`` threads; timings in ms."""

    def one(k: int) -> float | None:
        """Milliseconds, or None: no page (an error, or gunicorn killed a worker past 30 s)."""
        started = time.perf_counter()
        try:
            status, _h, _b = _request(port, urls[k % len(urls)], cookie)
        except OSError:
            return None
        took = (time.perf_counter() - started) * 1000
        return took if status == 200 else None

    # Warm every worker's first-use caches (templates, translations): rounds of parallel
    # requests, so that each worker takes some, not one worker all of them.
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(one, range(2 * max(concurrency, len(urls)))))
    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        got = list(pool.map(one, range(requests)))
    wall = time.perf_counter() - started
    times = sorted(t for t in got if t is not None)
    if len(times) < 2:
        return {"rps": 0.0, "p50": float("nan"), "p99": float("nan"), "failed": len(got)}
    p = statistics.quantiles(times, n=100, method="inclusive")
    return {
        "rps": len(times) / wall,
        "p50": statistics.median(times),
        "p99": p[98],
        "failed": len(got) - len(times),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000, help="candidates")
    parser.add_argument("--requests", type=int, default=200, help="requests per page")
    parser.add_argument("--concurrency", type=int, default=4, help="client threads")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument(
        "--pages", nargs="*", default=[], help="only the pages whose names start so"
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as folder:
        os.environ["ASSAY_INSTANCE"] = folder
        os.environ.setdefault("ASSAY_SECRET_KEY", "bench secret key, not for production use")
        from server.cli import gunicorn_argv, migrate_instance, sessions
        from server.config import Config
        from server.db import make_engine

        migrate_instance()
        engine = make_engine(Config().DATABASE_URL)
        factory = sessions(engine)  # the summaries follow the seeding, as in the app
        started = time.perf_counter()
        world = seed(factory, args.n)
        print(f"seeded {args.n} candidates in {time.perf_counter() - started:.1f} s")
        wanted = not args.pages or any("report".startswith(p) for p in args.pages)
        took = check_similarity(factory, world["reports"]) if wanted else []
        if took:
            print(
                f"similarity check (worker, once per submission): median "
                f"{statistics.median(took):.2f} s, max {max(took):.2f} s"
            )
        drawn = render_reports(factory, world["reports"]) if wanted else []
        if drawn:
            print(
                f"report parts rendered (worker, once per grading): median "
                f"{statistics.median(drawn) * 1000:.0f} ms, max {max(drawn) * 1000:.0f} ms"
            )
        engine.dispose()

        port = _free_port()
        argv = gunicorn_argv(HOST, port, args.workers)
        argv[argv.index("--access-logfile") + 1] = "/dev/null"
        web = subprocess.Popen(argv, cwd=ROOT, start_new_session=True)
        try:
            _wait_up(port, web)
            owner, reviewer = login(port, "owner@example.test"), login(port, "rev@example.test")
            a = world["assessment"]
            pages = {
                "recruiter table": (owner, [f"/recruiter/assessments/{a}"]),
                "status": ("", [f"/c/{t}/submissions/{s}" for t, s in world["statuses"]]),
                "reviewer table": (reviewer, [f"/review/assessments/{a}"]),
                "reviewer table, by metric": (
                    reviewer,
                    [f"/review/assessments/{a}?sort=metric&dir=desc"],
                ),
                "reviewer table, all orders": (
                    reviewer,
                    [
                        f"/review/assessments/{a}?sort={sort}&dir={way}"
                        for sort in SORTS
                        for way in ("asc", "desc")
                    ]
                    + [f"/review/assessments/{a}?outcome={o}&page=2" for o in OUTCOMES],
                ),
                "report": (reviewer, [f"/review/submissions/{s}" for s in world["reports"]]),
            }
            print(
                f"gunicorn {args.workers} workers on {HOST}:{port}; {args.requests} requests per"
                f" page, {args.concurrency} at a time"
            )
            print(
                f"{'page':<28} {'req/s':>7} {'p50 ms':>8} {'p99 ms':>8} {'p99/target':>11}"
                f" {'failed':>7}"
            )
            for name, (cookie, urls) in pages.items():
                if args.pages and not any(name.startswith(p) for p in args.pages):
                    continue
                got = drive(port, urls, cookie, args.requests, args.concurrency)
                print(
                    f"{name:<28} {got['rps']:7.1f} {got['p50']:8.1f} {got['p99']:8.1f}"
                    f" {got['p99'] / TARGET_MS:11.2f} {got['failed']:7d}",
                    flush=True,
                )
        finally:
            os.killpg(web.pid, signal.SIGTERM)
            web.wait(timeout=30)


if __name__ == "__main__":
    main()
