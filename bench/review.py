"""Review pages under load: the candidates table and a report page, with N graded submissions.

A fresh migrated SQLite instance holds one assessment with N candidates, each with one graded
submission (a real report: scored by graders.scoring from hand-made predictions, so it has the
confusion matrix, per-class table and training history a real one has) and two submitted
theory answers. A reviewer (blind review on) requests, in process through Flask's test client:

- **table**: the candidates table's first page, and a page sorted by the headline metric;
- **report**: one candidate's report page (verdict, metrics, explanation, plots, code).

Each figure is the server's whole answer (routing, database, templates), without a network.
Prints p50/p95/p99 in milliseconds and the ratio of p99 to the 50 ms target.

    .venv/bin/python bench/review.py [--n 10000] [--requests 50]
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
import statistics
import tempfile
import time
from datetime import timedelta

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

TARGET_MS = 50.0


def _report_json() -> str:
    import numpy as np

    from graders import scoring
    from graders.challenges import get_challenge
    from graders.predictions import Predictions
    from graders.report import Report

    challenge = get_challenge("lenet5-mnist")
    rng = np.random.default_rng(1)
    y = rng.integers(0, 10, 2000)
    pred = y.copy()
    pred[:90] = (pred[:90] + 1) % 10
    test = scoring.score_set(challenge.spec, "test", y, Predictions(ids=pred))
    values = {m.name: m.value for m in test.metrics}
    return Report(
        challenge="lenet5-mnist",
        title=challenge.spec.title,
        dataset="mnist",
        tier="sample",
        status="graded",
        class_names=list(challenge.spec.dataset.class_names),
        primary_metric="accuracy",
        verdict=scoring.verdict(challenge.spec, "sample", values),
        test=test,
        history={"loss": [1.0, 0.5, 0.3, 0.2], "accuracy": [0.7, 0.9, 0.95, 0.96]},
        logs={"train stdout": "epoch 1/4\n" * 50, "train stderr": ""},
        reproducibility={"backend": "bwrap", "train_wall_seconds": 41.2, "seed": 1},
    ).to_json()


def seed(app, n: int) -> tuple[int, int, str]:
    """N candidates with one graded submission each; (assessment id, a submission id, email)."""
    import sqlalchemy as sa

    from server.models import (
        Assessment,
        AssessmentChallenge,
        Grading,
        Invitation,
        ReviewAssignment,
        Submission,
        TheoryAnswer,
        User,
        utcnow,
    )
    from server.security import hash_password

    factory = app.extensions["assay.sessions"]
    source = Path("challenges/lenet5-mnist/reference/solution.py").read_bytes()
    report = _report_json()
    now = utcnow()
    with factory() as session:
        owner = User(email="owner@example.test", name="Owner", role="recruiter", password_hash="x")
        reviewer = User(
            email="rev@example.test",
            name="Rev",
            role="reviewer",
            password_hash=hash_password("bench password 1"),
        )
        session.add_all([owner, reviewer])
        session.flush()
        assessment = Assessment(
            owner_id=owner.id,
            title="Bench",
            time_limit_minutes=120,
            theory_question_ids=["class-imbalance", "evaluation-metrics"],
            challenges=[AssessmentChallenge(challenge_slug="lenet5-mnist", position=0)],
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
                    "candidate_name": f"Person {i}",
                    "candidate_email": f"p{i}@example.test",
                    "token_hash": hashlib.sha256(str(i).encode()).hexdigest(),
                    "created_at": now,
                    "expires_at": now + timedelta(days=14),
                    "opened_at": now,
                    "extra_time_factor": 1.0,
                }
                for i in range(n)
            ],
        )
        ids = list(session.scalars(sa.select(Invitation.id).order_by(Invitation.id)))
        conn.execute(
            sa.insert(Submission),
            [
                {
                    "invitation_id": iid,
                    "challenge_slug": "lenet5-mnist",
                    "filename": "solution.py",
                    "source": source,
                    "sha256": "0" * 64,
                    "size": len(source),
                    "created_at": now + timedelta(minutes=i % 90),
                    "counts_as_attempt": True,
                }
                for i, iid in enumerate(ids)
            ],
        )
        subs = list(session.scalars(sa.select(Submission.id).order_by(Submission.id)))
        conn.execute(
            sa.insert(Grading),
            [
                {
                    "submission_id": sid,
                    "status": "graded",
                    "passed": True,
                    "report_json": report,
                    "queued_at": now,
                    "finished_at": now,
                    "options_json": "{}",
                    "platform_note": "",
                    "tries": 1,
                    "max_tries": 3,
                }
                for sid in subs
            ],
        )
        answer = "Split with stratification and report per-class recall and F1; use class weights."
        conn.execute(
            sa.insert(TheoryAnswer),
            [
                {
                    "invitation_id": iid,
                    "question_id": q,
                    "text": answer,
                    "submitted_at": now,
                    "updated_at": now,
                }
                for iid in ids
                for q in ("class-imbalance", "evaluation-metrics")
            ],
        )
        session.commit()
        return assessment.id, subs[len(subs) // 2], reviewer.email


def _time(client, url: str, requests: int) -> list[float]:
    assert client.get(url).status_code == 200, url  # warm: first-use caches, templates
    times = []
    for _ in range(requests):
        start = time.perf_counter()
        response = client.get(url)
        times.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=50)
    args = parser.parse_args()

    from server import create_app
    from server.config import TestConfig
    from server.migrate import upgrade

    with tempfile.TemporaryDirectory() as folder:
        instance = Path(folder)
        upgrade(f"sqlite:///{instance / 'assay.db'}", instance)
        app = create_app(TestConfig(instance, AUTO_MIGRATE=False, WTF_CSRF_ENABLED=False))
        started = time.perf_counter()
        assessment_id, submission_id, email = seed(app, args.n)
        print(f"seeded {args.n} graded submissions in {time.perf_counter() - started:.1f} s")
        client = app.test_client()
        client.post("/login", data={"email": email, "password": "bench password 1"})
        pages = {
            "table": f"/review/assessments/{assessment_id}",
            "table sorted by metric": f"/review/assessments/{assessment_id}?sort=metric&dir=desc",
            "report": f"/review/submissions/{submission_id}",
        }
        print(f"{'page':<24} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'p99/target':>11}")
        for name, url in pages.items():
            times = sorted(_time(client, url, args.requests))
            p = statistics.quantiles(times, n=100, method="inclusive")
            print(
                f"{name:<24} {statistics.median(times):8.1f} {p[94]:8.1f} {p[98]:8.1f}"
                f" {p[98] / TARGET_MS:11.2f}"
            )
        app.extensions["assay.engine"].dispose()


if __name__ == "__main__":
    main()
