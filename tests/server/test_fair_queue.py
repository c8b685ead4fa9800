"""The fair order (server/fairqueue.py) on SQLite and PostgreSQL: lanes, round-robin across
assessments, weights, oldest first, one grading in flight per candidate, and the estimates.

No worker process here (``test_fair_queue_workers.py`` has those): each test plays the
workers' claims by hand, in the order a race would put them.
"""

from __future__ import annotations

import itertools
import threading
from datetime import timedelta

import pytest
import sqlalchemy as sa

from graders.report import ErrorInfo, Report, Verdict
from server import fairqueue, leases, sweeper
from server import grading as g
from server.candidates import submit_code
from server.db import make_engine, make_session_factory
from server.models import (
    Assessment,
    Grading,
    GradingDuration,
    Invitation,
    Submission,
    User,
    utcnow,
)
from server.queue import make_huey, pending_ids
from server.summary import listeners

LEASE = 30.0
_n = itertools.count(1)

pytestmark = pytest.mark.databases


@pytest.fixture
def huey(tmp_path):
    return make_huey(tmp_path)


@pytest.fixture
def sessions(database_url, huey):
    listeners.install()  # as the web app and the worker do: no app here
    engine = make_engine(database_url)
    factory = make_session_factory(engine)
    g.use_queue(factory, huey)
    yield factory
    engine.dispose()


def _assessment(sessions, share: float = 1.0) -> int:
    with sessions() as session:
        n = next(_n)
        owner = User(email=f"r{n}@example.test", name="R", role="recruiter", password_hash="x")
        session.add(owner)
        session.flush()
        assessment = Assessment(
            owner_id=owner.id, title=f"A{n}", time_limit_minutes=60, queue_share=share
        )
        session.add(assessment)
        session.commit()
        return assessment.id


def _candidate(sessions, assessment_id: int) -> int:
    with sessions() as session:
        n = next(_n)
        invitation = Invitation(
            assessment_id=assessment_id,
            candidate_name=f"C{n}",
            candidate_email=f"c{n}@example.test",
            token_hash=f"{n:064d}",
            expires_at=utcnow() + timedelta(days=1),
        )
        session.add(invitation)
        session.commit()
        return invitation.id


def _upload(sessions, invitation_id: int | None, challenge="lenet5-mnist", tier="sample") -> int:
    with sessions() as session:
        sub = Submission(
            invitation_id=invitation_id,
            challenge_slug=challenge,
            filename="solution.py",
            source=b"print('hi')\n",
            sha256="0" * 64,
            size=12,
        )
        session.add(sub)
        grading = g.enqueue_submission(session, sub, {"tier": tier})
        session.commit()
        return grading.id


def _checked_upload(db, invitation, *, now=None):
    """An upload through the candidate's path whose dry run passed: the grading is queued as
    ``server.dryruns`` queues it then (the dry-run lane itself is tested in test_dry_runs)."""
    sub = submit_code(db, invitation, "lenet5-mnist", "solution.py", b"print('hi')\n", now=now)
    db.commit()
    g.enqueue_submission(db, sub, {"tier": "sample"})
    db.commit()
    return sub


def _graded() -> Report:
    report = Report(
        challenge="lenet5-mnist", title="LeNet-5", dataset="mnist", tier="sample", status="graded"
    )
    report.verdict = Verdict(passed=True, checks=[])
    return report


def _claim_all(sessions) -> list[int]:
    """Claim and finish one grading at a time until none is left: the order served."""
    served = []
    while True:
        with sessions() as session:
            claim = leases.claim_next(session, LEASE)
        if claim is None:
            return served
        served.append(claim.grading_id)
        with sessions() as session:
            assert leases.finish(session, claim, _graded()) == "graded"


def _positions(sessions, ids) -> list[int | None]:
    with sessions() as session:
        return [g.queue_position(session, session.get(Grading, i)) for i in ids]


def test_round_robin_across_assessments_oldest_first_inside_each(sessions):
    a, b, c = _assessment(sessions), _assessment(sessions), _assessment(sessions)
    big = [_upload(sessions, _candidate(sessions, a)) for _ in range(6)]
    small_b = [_upload(sessions, _candidate(sessions, b)) for _ in range(2)]
    small_c = [_upload(sessions, _candidate(sessions, c))]
    # The position shown is the order served: the lone uploads of B and C are 2nd and 3rd,
    # not behind A's six.
    everyone = [*big, *small_b, *small_c]
    shown = dict(zip(everyone, _positions(sessions, everyone), strict=True))
    served = _claim_all(sessions)
    assert served == [big[0], small_b[0], small_c[0], big[1], small_b[1], *big[2:]]
    assert sorted(shown, key=shown.get) == served


def test_a_late_comer_waits_for_one_turn_not_for_the_whole_backlog(sessions):
    a, b = _assessment(sessions), _assessment(sessions)
    big = [_upload(sessions, _candidate(sessions, a)) for _ in range(20)]
    with sessions() as session:  # a few of A's are served before B shows up
        for _ in range(3):
            leases.finish(session, leases.claim_next(session, LEASE), _graded())
    late = _upload(sessions, _candidate(sessions, b))
    assert _positions(sessions, [late]) == [2]  # behind A's head, which has the same turn
    assert _claim_all(sessions)[:2] == [big[3], late]


def test_a_larger_share_gets_more_turns_while_both_wait(sessions):
    heavy, light = _assessment(sessions, share=2.0), _assessment(sessions, share=1.0)
    heavy_ids = [_upload(sessions, _candidate(sessions, heavy)) for _ in range(8)]
    light_ids = [_upload(sessions, _candidate(sessions, light)) for _ in range(8)]
    served = _claim_all(sessions)
    first_nine = served[:9]
    assert sum(i in heavy_ids for i in first_nine) == 6
    assert sum(i in light_ids for i in first_nine) == 3
    # Inside each assessment, oldest first.
    assert [i for i in served if i in heavy_ids] == heavy_ids
    assert [i for i in served if i in light_ids] == light_ids


def test_first_attempts_go_before_retries_and_regrades(sessions):
    a, b = _assessment(sessions), _assessment(sessions)
    done = _upload(sessions, _candidate(sessions, a))
    assert _claim_all(sessions) == [done]
    with sessions() as session:  # re-grade the first, pressed by a reviewer
        regraded = g.regrade(session, session.get(Grading, done).submission).id
        session.commit()
    # The second one's worker dies: its lease expires and it is put back as a retry.
    retried = _upload(sessions, _candidate(sessions, b))
    with sessions() as session:
        claim = leases.claim(session, retried, 1.0, now=utcnow() - timedelta(seconds=10))
    assert claim is not None
    with sessions() as session:
        assert sweeper.requeue_expired(session)["requeued"] == [retried]
    fresh = [_upload(sessions, _candidate(sessions, x)) for x in (a, b, a)]
    with sessions() as session:
        lanes = {i: session.get(Grading, i).lane for i in (regraded, retried, *fresh)}
    assert lanes == {regraded: "retry", retried: "retry", **dict.fromkeys(fresh, "first")}
    assert _positions(sessions, [*fresh, regraded, retried])[3:] == [4, 5]
    served = _claim_all(sessions)
    assert set(served[:3]) == set(fresh)
    assert served[3:] == [regraded, retried]  # retries in turn too, oldest first here


def test_one_grading_in_flight_per_candidate(sessions, huey):
    a = _assessment(sessions)
    busy, other = _candidate(sessions, a), _candidate(sessions, a)
    first, second, third = (_upload(sessions, busy) for _ in range(3))
    others = _upload(sessions, other)
    with sessions() as session:
        one = leases.claim_next(session, LEASE)
        two = leases.claim_next(session, LEASE)
        assert (one.grading_id, two.grading_id) == (first, others)
        assert leases.claim_next(session, LEASE) is None  # the candidate's next ones wait
        assert leases.claim(session, second, LEASE) is None  # even asked for by id
    # The sweeper sends no message for a grading held back by its candidate.
    huey.flush()
    with sessions() as session:
        assert sweeper.lost_messages(session, set(), 0, now=utcnow() + timedelta(seconds=1)) == []
        assert sweeper.next_of_candidate(session, first) == second
        leases.finish(session, one, _graded())
    with sessions() as session:
        found = sweeper.lost_messages(session, set(), 0, now=utcnow() + timedelta(seconds=1))
        assert found == [second]  # now claimable, and no message waits: one is sent
        assert leases.claim_next(session, LEASE).grading_id == second
        assert leases.claim_next(session, LEASE) is None
    assert _positions(sessions, [third]) == [1]


def test_the_database_refuses_a_second_running_grading_of_a_candidate(sessions):
    # The claim's WHERE already checks it; the unique index holds even when two workers'
    # updates pass that check at the same instant (PostgreSQL's READ COMMITTED).
    a = _assessment(sessions)
    who = _candidate(sessions, a)
    first, second = _upload(sessions, who), _upload(sessions, who)
    with sessions() as session:
        session.execute(sa.update(Grading).where(Grading.id == first).values(status="running"))
        session.commit()
        with pytest.raises(sa.exc.IntegrityError):
            session.execute(sa.update(Grading).where(Grading.id == second).values(status="running"))
            session.commit()


def test_many_workers_claiming_at_once_never_run_two_of_a_candidate(sessions):
    a, b = _assessment(sessions), _assessment(sessions)
    people = [_candidate(sessions, x) for x in (a, a, b)]
    ids = [_upload(sessions, who) for who in people for _ in range(3)]
    claims, errors = [], []
    barrier = threading.Barrier(6)

    def worker():
        try:
            barrier.wait()
            for _ in range(3):
                with sessions() as session:
                    claim = leases.claim_next(session, LEASE)
                if claim is not None:
                    claims.append(claim)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    assert len(claims) == 3  # one per candidate, whatever the race
    with sessions() as session:
        running = session.execute(
            sa.select(Grading.invitation_id).where(Grading.status == "running")
        ).all()
    assert sorted(r[0] for r in running) == sorted(people)
    assert {c.grading_id for c in claims} <= set(ids)


def test_a_gpu_grading_is_skipped_by_a_cpu_worker_not_blocking_the_rest(sessions, monkeypatch):
    from server import placement

    monkeypatch.setattr(placement, "needs_gpu", lambda slug: slug == "big-gpu")
    a = _assessment(sessions)
    gpu = _upload(sessions, _candidate(sessions, a), challenge="big-gpu")
    cpu = _upload(sessions, _candidate(sessions, a))
    with sessions() as session:
        assert leases.claim_next(session, LEASE, gpu=False).grading_id == cpu
        assert leases.claim_next(session, LEASE, gpu=False) is None
        assert leases.claim_next(session, LEASE, gpu=True).grading_id == gpu


def test_fifo_order_serves_by_arrival(sessions, monkeypatch):
    monkeypatch.setenv("ASSAY_QUEUE_ORDER", "fifo")
    a, b = _assessment(sessions), _assessment(sessions)
    ids = [_upload(sessions, _candidate(sessions, x)) for x in (a, a, a, b)]
    assert _positions(sessions, ids) == [1, 2, 3, 4]
    monkeypatch.setenv("ASSAY_QUEUE_ORDER", "lottery")
    with pytest.raises(ValueError, match="ASSAY_QUEUE_ORDER"):
        fairqueue.order_policy()


def test_lost_messages_top_up_to_the_claimable_gradings(sessions, huey):
    a = _assessment(sessions)
    ids = [_upload(sessions, _candidate(sessions, a)) for _ in range(3)]
    later = utcnow() + timedelta(seconds=1)
    with sessions() as session:
        # Three messages wait (any ids: each wakes a worker that claims in order): none lost.
        assert sweeper.lost_messages(session, pending_ids(huey), 0, now=later) == []
        # A worker took one message and claimed another grading than it named.
        assert leases.claim_next(session, LEASE).grading_id == ids[0]
        assert sweeper.lost_messages(session, {ids[1], ids[2]}, 0, now=later, waiting=2) == []
        assert sweeper.lost_messages(session, {ids[0]}, 0, now=later, waiting=1) == [ids[1]]


# -- measured durations and estimates ----------------------------------------------------------


def test_durations_keep_a_rolling_window_and_its_median(sessions):
    with sessions() as session:
        for seconds in range(1, fairqueue.DURATION_WINDOW + 11):
            fairqueue.record_duration(session, "lenet5-mnist", "sample", float(seconds))
        fairqueue.record_duration(session, "other", "full", 100.0)
        session.commit()
    with sessions() as session:
        kept = session.scalar(
            sa.select(sa.func.count())
            .select_from(GradingDuration)
            .where(GradingDuration.challenge_slug == "lenet5-mnist")
        )
        medians = fairqueue.expected_seconds(session)
    assert kept == fairqueue.DURATION_WINDOW
    assert medians[("lenet5-mnist", "sample")] == 23.0  # the median of 11..35
    assert medians[("other", "full")] == 100.0


def test_a_graded_run_is_timed_for_its_challenge_and_tier(sessions):
    gid = _upload(sessions, None, tier="full")
    start = utcnow() - timedelta(seconds=42)
    with sessions() as session:
        claim = leases.claim(session, gid, LEASE, now=start)
    with sessions() as session:
        leases.finish(session, claim, _graded(), now=start + timedelta(seconds=42))
    with sessions() as session:
        assert fairqueue.expected_seconds(session)[("lenet5-mnist", "full")] == 42.0


def _register_workers(sessions, slots: int) -> None:
    from server import placement

    with sessions() as session:
        placement.register(session, "test-host/1", placement.Capacity(gpus=0, slots=slots))
        session.commit()


def test_the_estimate_lays_the_order_onto_the_workers_slots(sessions):
    a, b = _assessment(sessions), _assessment(sessions)
    now = utcnow()
    with sessions() as session:
        fairqueue.record_duration(session, "lenet5-mnist", "sample", 60.0)
        session.commit()
    ids = [_upload(sessions, _candidate(sessions, a)) for _ in range(4)]
    late = _upload(sessions, _candidate(sessions, b))
    with sessions() as session:
        estimate = fairqueue.estimate(session, session.get(Grading, ids[0]), now)
    assert estimate.missing == "no_worker" and estimate.start is None
    _register_workers(sessions, slots=2)
    with sessions() as session:
        running = leases.claim_next(session, LEASE, now=now - timedelta(seconds=20))  # 40 s left
        plan = fairqueue.schedule(session, now)
        shown = fairqueue.estimate(session, session.get(Grading, late), now)
    assert running.grading_id == ids[0]
    starts = {i: (plan.slots[i].start - now).total_seconds() for i in (*ids[1:], late)}
    # B's one upload had the same turn as A's first: it is next. Two slots: one free now,
    # one in 40 s; then a grading every 60 s on each.
    assert starts == {late: 0.0, ids[1]: 40.0, ids[2]: 60.0, ids[3]: 100.0}
    assert (shown.position, shown.start, shown.finish) == (1, now, now + timedelta(seconds=60))
    assert plan.backlog[a] == (3, 1) and plan.backlog[b] == (1, 0)
    assert plan.drains_at[a] == now + timedelta(seconds=160)


def test_a_candidates_second_upload_is_estimated_after_their_first(sessions):
    a = _assessment(sessions)
    who = _candidate(sessions, a)
    now = utcnow()
    _register_workers(sessions, slots=4)
    with sessions() as session:
        fairqueue.record_duration(session, "lenet5-mnist", "sample", 30.0)
        session.commit()
    first, second = _upload(sessions, who), _upload(sessions, who)
    with sessions() as session:
        plan = fairqueue.schedule(session, now)
    assert plan.slots[first].start == now
    assert plan.slots[second].start == now + timedelta(seconds=30)


def test_the_status_page_estimate_is_shown_in_english_and_chinese(app, client, db, make_invitation):
    from server import placement

    invitation, token = make_invitation()
    invitation.opened_at = utcnow()
    db.add(GradingDuration(challenge_slug="lenet5-mnist", tier="sample", seconds=90.0))
    placement.register(db, "test-host/2", placement.Capacity(gpus=0, slots=1))
    db.commit()
    sub = _checked_upload(db, invitation)
    url = f"/c/{token}/submissions/{sub.id}/progress"
    english = client.get(url, headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "position 1 in the queue" in english
    assert "Expected to start" in english and "finish" in english
    chinese = client.get(url, headers={"Accept-Language": "zh"}).get_data(as_text=True)
    assert "预计" in chinese


def test_retries_lane_failure_report_is_in_retry_lane(sessions):
    gid = _upload(sessions, None)
    with sessions() as session:
        claim = leases.claim(session, gid, LEASE)
    report = Report(challenge="lenet5-mnist", title="", dataset="", tier="sample", status="failed")
    report.error = ErrorInfo(code="sandbox_unavailable", message="no sandbox started")
    with sessions() as session:
        outcome = leases.finish(session, claim, report)
    with sessions() as session:
        row = session.get(Grading, gid)
        assert (outcome, row.status, row.lane) == ("requeued", "queued", "retry")


def test_a_submission_received_before_the_end_is_graded_after_it_and_the_page_says_so(
    app, client, db, make_invitation, make_assessment
):
    assessment = make_assessment(deadline=utcnow() + timedelta(minutes=1))
    invitation, token = make_invitation(assessment=assessment)
    invitation.opened_at = utcnow() - timedelta(minutes=20)
    db.commit()
    received = utcnow() - timedelta(minutes=10)
    sub = _checked_upload(db, invitation, now=received)
    url = f"/c/{token}/submissions/{sub.id}/progress"
    before = client.get(url).get_data(as_text=True)
    assert "Received before the end" not in before  # no estimate puts it past the end yet
    # The deadline passes and the link expires while it waits: still queued, still shown.
    assessment.deadline = utcnow() - timedelta(minutes=5)
    invitation.expires_at = utcnow() - timedelta(minutes=1)
    db.commit()
    after = client.get(url).get_data(as_text=True)
    assert "Received before the end of your time" in after and "Queued" in after
    chinese = client.get(url, headers={"Accept-Language": "zh"}).get_data(as_text=True)
    assert "截止" in chinese
    assert client.get(f"/c/{token}/work").status_code != 200  # the rest stays closed


def test_the_recruiter_sees_the_backlog_and_when_it_drains(
    app, client, db, make_user, make_assessment, make_invitation, login
):
    from server import placement

    owner = make_user(role="recruiter")
    assessment = make_assessment(owner=owner)
    db.add(GradingDuration(challenge_slug="lenet5-mnist", tier="sample", seconds=120.0))
    placement.register(db, "test-host/3", placement.Capacity(gpus=0, slots=1))
    db.commit()
    for _ in range(3):
        invitation, _token = make_invitation(assessment=assessment, opened_at=utcnow())
        _checked_upload(db, invitation)
    login(client, owner)
    page = client.get(f"/recruiter/assessments/{assessment.id}").get_data(as_text=True)
    assert "Grading queue" in page and "3 waiting, 0 grading now." in page
    assert "(in about 6 min)" in page  # three runs of two minutes on one slot
    part = client.get(
        f"/recruiter/assessments/{assessment.id}/backlog", headers={"Accept-Language": "zh"}
    ).get_data(as_text=True)
    assert "3 个等待中" in part and "约 6 分钟后" in part and 'hx-trigger="every 5s"' in part


@pytest.fixture
def metrics_token(app_config) -> str:
    """/metrics answers only a scraper that sends the configured token (test_ops.py)."""
    app_config.METRICS_TOKEN = "scraper-token-for-lanes"
    return app_config.METRICS_TOKEN


def test_metrics_export_each_lanes_depth_and_wait(metrics_token, app, client, db, make_invitation):
    from prometheus_client.parser import text_string_to_metric_families

    for _ in range(2):
        invitation, _token = make_invitation(opened_at=utcnow())
        _checked_upload(db, invitation)
    grading = db.scalars(sa.select(Grading).order_by(Grading.id)).first()
    grading.queued_at = utcnow() - timedelta(seconds=90)
    db.commit()
    response = client.get("/metrics", headers={"Authorization": f"Bearer {metrics_token}"})
    assert response.status_code == 200
    text = response.get_data(as_text=True)
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, sample.labels.get("lane"))] = sample.value
    assert found[("assay_queue_lane_depth", "first")] == 2
    assert found[("assay_queue_lane_depth", "retry")] == 0
    assert found[("assay_queue_lane_oldest_wait_seconds", "first")] >= 90
    assert ("assay_queue_lane_wait_seconds_count", "retry") in found
