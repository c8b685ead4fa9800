"""The fair grading order: lanes, round-robin across assessments, and when each grading starts.

Why the database decides the order, not the queue: Huey delivers messages first-in,
first-out, and a Redis list or a SQLite table cannot reorder them by assessment. So a queue
message stays what rule 7 of ``server.leases`` says it is, a wake-up call; the worker that
takes one claims *the next grading in the fair order* from the database (``claim_next``),
which may be another grading than the message named. The order is a plain ``ORDER BY`` over
columns stored on each row, so every worker on every host, on SQLite or PostgreSQL, reads the
same order, and the claim stays one conditional ``UPDATE`` with a lease: of two workers
that pick the same head, one wins and the other takes the next row.

The order (``ASSAY_QUEUE_ORDER=fair``, the default):

1. **Lanes.** First attempts (``FIRST``) before retries and re-grades (``RETRY``). A grading
   handed back by a stopping worker keeps its lane and place. Dry runs, where a deployment
   has them, are other lanes with their own slot: not served here.
2. **Round-robin across assessments, weighted.** Each grading gets a virtual start tag when
   it is queued (start-time fair queueing): ``max(V, last + 1 / share)``, where ``V`` is the
   tag at the head of its lane now, ``last`` the highest tag its assessment already has
   waiting or running in that lane (none: just ``V``), and ``share`` the assessment's
   ``queue_share`` (default 1). An assessment that uploads 200 at once gets tags V .. V+199;
   another's single upload gets V and is served second, not 201st. A share of 2 gets two
   turns for every one of a share-1 assessment while both wait.
3. **Oldest first inside an assessment** (its tags grow with arrival; ties: queued time, id).
4. **One grading in flight per candidate.** A grading whose candidate has another one
   running is skipped (it keeps its place) until that one ends; a unique partial index on
   ``(invitation_id) WHERE status = 'running'`` makes the database refuse a second one even
   when two workers claim at the same instant.

``ASSAY_QUEUE_ORDER=fifo`` serves by queued time alone (the order before issue 23; kept for
comparison, ``bench/rush.py``). The candidate's position and the estimates below read the
same order that the claim uses.

Estimates: each graded run's length (claim to report) is kept per challenge and tier in
``grading_durations`` (the last ``DURATION_WINDOW``); their median is the expected length.
``schedule`` lays the running and queued gradings onto the live workers' slots in claim
order (the per-candidate limit included) and gives each one an expected start and finish.
"""

from __future__ import annotations

import heapq
import json
import statistics
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session, aliased

from sandbox import settings as declared
from server.models.assessments import Assessment
from server.models.base import utcnow
from server.models.grading import (
    LANES,
    QUEUED,
    RETRY,
    RUNNING,
    Grading,
    GradingDuration,
    Submission,
)

FAIR, FIFO = "fair", "fifo"
ORDERS = (FAIR, FIFO)
#: Measured runs kept per challenge and tier; the median of these is the expected length.
DURATION_WINDOW = 25
#: How many heads of the order one claim looks at before it gives up (others were taken,
#: their candidates busy, or they need a GPU this worker lacks).
CLAIM_SCAN = 50


def order_policy(settings=None) -> str:
    """``fair`` or ``fifo``: ``ASSAY_QUEUE_ORDER`` of ``settings`` (default: the environment's);
    a wrong value is refused loudly (``SettingsError``, a ``ValueError``)."""
    return (settings or declared.current()).queue_order


# -- placing a grading in the order --------------------------------------------------------------


def _share(session: Session, assessment_id: int | None) -> float:
    if assessment_id is None:
        return 1.0
    share = session.scalar(sa.select(Assessment.queue_share).where(Assessment.id == assessment_id))
    return share if share and share > 0 else 1.0


def next_tag(session: Session, lane: str, assessment_id: int | None) -> float:
    """The virtual start tag of a grading of ``assessment_id`` entering ``lane`` now."""
    head = session.scalar(
        sa.select(sa.func.min(Grading.fair_tag)).where(
            Grading.status == QUEUED, Grading.lane == lane
        )
    )
    if head is None:  # nothing waits in the lane: continue from where it got to
        head = session.scalar(
            sa.select(sa.func.max(Grading.fair_tag)).where(
                Grading.status == RUNNING, Grading.lane == lane
            )
        )
    mine = (
        Grading.assessment_id.is_(None)
        if assessment_id is None
        else (Grading.assessment_id == assessment_id)
    )
    last = session.scalar(
        sa.select(sa.func.max(Grading.fair_tag)).where(
            Grading.status.in_((QUEUED, RUNNING)), Grading.lane == lane, mine
        )
    )
    start = float(head if head is not None else 0.0)
    if last is not None:
        start = max(start, float(last) + 1.0 / _share(session, assessment_id))
    return start


def owner_ids(session: Session, submission: Submission) -> tuple[int | None, int | None]:
    """``(invitation_id, assessment_id)`` of ``submission`` (None, None for a staff upload)."""
    if submission.invitation_id is None:
        return None, None
    from server.models.invitations import Invitation

    assessment_id = session.scalar(
        sa.select(Invitation.assessment_id).where(Invitation.id == submission.invitation_id)
    )
    return submission.invitation_id, assessment_id


def place(session: Session, submission: Submission, lane: str) -> dict:
    """The fair-order columns of a new grading of ``submission`` in ``lane``."""
    invitation_id, assessment_id = owner_ids(session, submission)
    return {
        "lane": lane,
        "fair_tag": next_tag(session, lane, assessment_id),
        "invitation_id": invitation_id,
        "assessment_id": assessment_id,
    }


def retry_values(session: Session, grading_id: int) -> dict:
    """The columns that move a grading put back after a failed try into the retry lane."""
    assessment_id = session.scalar(sa.select(Grading.assessment_id).where(Grading.id == grading_id))
    return {"lane": RETRY, "fair_tag": next_tag(session, RETRY, assessment_id)}


# -- the order -----------------------------------------------------------------------------------


def _lane_rank(column=Grading.lane):
    return sa.case({lane: rank for rank, lane in enumerate(LANES)}, value=column, else_=len(LANES))


def order_by(policy: str | None = None) -> list:
    """The claim order, as ``ORDER BY`` clauses over ``Grading``."""
    if (policy or order_policy()) == FIFO:
        return [Grading.queued_at, Grading.id]
    return [_lane_rank(), Grading.fair_tag, Grading.queued_at, Grading.id]


def candidate_free():
    """SQL: the grading's candidate has no other grading running in the fair lanes."""
    other = aliased(Grading)
    busy = sa.exists().where(
        other.invitation_id == Grading.invitation_id,
        other.status == RUNNING,
        other.lane.in_(LANES),
        other.id != Grading.id,
    )
    return sa.or_(Grading.invitation_id.is_(None), Grading.lane.not_in(LANES), ~busy)


def next_ids(session: Session, *, gpu: bool = True, limit: int = CLAIM_SCAN) -> list[int]:
    """The heads of the order that a worker (with a GPU or not) may claim now, best first."""
    rows = session.execute(
        sa.select(Grading.id, Submission.challenge_slug)
        .join(Submission, Submission.id == Grading.submission_id)
        .where(
            Grading.status == QUEUED,
            Grading.lane.in_(LANES),
            Grading.tries < Grading.max_tries,
            candidate_free(),
        )
        .order_by(*order_by())
        .limit(limit)
    ).all()
    if gpu:
        return [grading_id for grading_id, _slug in rows]
    from server.placement import needs_gpu

    return [grading_id for grading_id, slug in rows if not needs_gpu(slug)]


def position(session: Session, grading: Grading, policy: str | None = None) -> int | None:
    """1 for the next grading to start, 2 behind it, ...; None when it is not queued.

    Counted in the claim's own order, so the number is the one the workers follow (a
    grading that a busy candidate's limit holds back is still counted where it stands).
    """
    if grading.status != QUEUED:
        return None
    policy = policy or order_policy()
    older = sa.or_(
        Grading.queued_at < grading.queued_at,
        sa.and_(Grading.queued_at == grading.queued_at, Grading.id < grading.id),
    )
    if policy == FIFO or grading.lane not in LANES:
        ahead = older
    else:
        rank = LANES.index(grading.lane)
        same_lane_ahead = sa.and_(
            Grading.lane == grading.lane,
            sa.or_(
                Grading.fair_tag < grading.fair_tag,
                sa.and_(Grading.fair_tag == grading.fair_tag, older),
            ),
        )
        ahead = sa.or_(Grading.lane.in_(LANES[:rank]), same_lane_ahead)
    count = session.scalar(
        sa.select(sa.func.count())
        .select_from(Grading)
        .where(Grading.status == QUEUED, Grading.lane.in_(LANES), ahead)
    )
    return count + 1


# -- measured durations --------------------------------------------------------------------------


def tier_of(options_json: str | dict | None) -> str:
    options = options_json if isinstance(options_json, dict) else _loads(options_json)
    return str(options.get("tier") or "")[:16]


def _loads(text: str | None) -> dict:
    try:
        value = json.loads(text or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def record_duration(
    session: Session, challenge: str, tier: str, seconds: float, now: datetime | None = None
) -> None:
    """Keep one measured run; rows beyond the newest ``DURATION_WINDOW`` are removed."""
    session.add(
        GradingDuration(
            challenge_slug=challenge[:64],
            tier=tier[:16],
            seconds=max(0.0, float(seconds)),
            recorded_at=now or utcnow(),
        )
    )
    session.flush()
    keep = (
        sa.select(GradingDuration.id)
        .where(GradingDuration.challenge_slug == challenge[:64], GradingDuration.tier == tier[:16])
        .order_by(GradingDuration.id.desc())
        .limit(DURATION_WINDOW)
        .scalar_subquery()
    )
    session.execute(
        sa.delete(GradingDuration)
        .where(
            GradingDuration.challenge_slug == challenge[:64],
            GradingDuration.tier == tier[:16],
            GradingDuration.id.not_in(keep),
        )
        .execution_options(synchronize_session=False)
    )


def expected_seconds(session: Session) -> dict[tuple[str, str], float]:
    """The rolling median per ``(challenge, tier)``; key ``("", "")``: over every run kept."""
    rows = session.execute(
        sa.select(GradingDuration.challenge_slug, GradingDuration.tier, GradingDuration.seconds)
    ).all()
    by_key: dict[tuple[str, str], list[float]] = {}
    for slug, tier, seconds in rows:
        by_key.setdefault((slug, tier), []).append(seconds)
    medians = {key: statistics.median(values) for key, values in by_key.items()}
    if medians:
        medians[("", "")] = statistics.median(medians.values())
    return medians


# -- when: the schedule --------------------------------------------------------------------------


@dataclass(frozen=True)
class Slot:
    """When a grading is expected to start and finish (both now-or-later)."""

    start: datetime
    finish: datetime


@dataclass(frozen=True)
class Schedule:
    """Expected start and finish of every running and queued grading in the fair lanes."""

    slots: dict[int, Slot]
    #: Gradings the live workers run at once (0: no worker is running now).
    capacity: int
    #: Whether any run was measured yet (without one there are no times, only positions).
    measured: bool
    #: ``assessment_id -> (queued, running)``.
    backlog: dict[int | None, tuple[int, int]]
    #: ``assessment_id -> when its last queued or running grading is expected to end``.
    drains_at: dict[int | None, datetime]


def schedule(session: Session, now: datetime | None = None) -> Schedule:
    """Lay the running and queued gradings onto the live workers' slots, in claim order."""
    from server.placement import live_workers

    now = now or utcnow()
    capacity = sum(max(1, w.slots) for w in live_workers(session, now))
    medians = expected_seconds(session)
    columns = (
        Grading.id,
        Grading.invitation_id,
        Grading.assessment_id,
        Grading.started_at,
        Grading.options_json,
        Submission.challenge_slug,
    )
    base = (
        sa.select(*columns)
        .join(Submission, Submission.id == Grading.submission_id)
        .where(Grading.lane.in_(LANES))
    )
    running = session.execute(base.where(Grading.status == RUNNING)).all()
    queued = session.execute(base.where(Grading.status == QUEUED).order_by(*order_by())).all()

    backlog: dict[int | None, list[int]] = {}
    for row in queued:
        backlog.setdefault(row.assessment_id, [0, 0])[0] += 1
    for row in running:
        backlog.setdefault(row.assessment_id, [0, 0])[1] += 1
    counts = {key: (q, r) for key, (q, r) in backlog.items()}
    if not medians or capacity == 0:
        return Schedule({}, capacity, bool(medians), counts, {})

    def length(row) -> timedelta:
        seconds = medians.get((row.challenge_slug, tier_of(row.options_json)))
        return timedelta(seconds=seconds if seconds is not None else medians[("", "")])

    slots: dict[int, Slot] = {}
    busy_until: dict[int, datetime] = {}  # candidate -> end of their grading in flight
    ends = []
    for row in running:
        started = row.started_at or now
        end = max(now, started + length(row))
        slots[row.id] = Slot(start=started, finish=end)
        ends.append(end)
        if row.invitation_id is not None:
            busy_until[row.invitation_id] = end
    # More gradings running than live slots (a dead worker's, until its lease expires):
    # the slots free up as the latest of them end.
    free = sorted(ends)[-capacity:] if len(ends) > capacity else ends
    free += [now] * (capacity - len(free))
    heapq.heapify(free)
    for row in queued:
        opens = heapq.heappop(free)
        start = max(opens, busy_until.get(row.invitation_id, now))
        finish = start + length(row)
        slots[row.id] = Slot(start=start, finish=finish)
        heapq.heappush(free, finish)
        if row.invitation_id is not None:
            busy_until[row.invitation_id] = finish
    drains: dict[int | None, datetime] = {}
    for row in (*running, *queued):
        end = slots[row.id].finish
        if row.assessment_id not in drains or end > drains[row.assessment_id]:
            drains[row.assessment_id] = end
    return Schedule(slots, capacity, True, counts, drains)


@dataclass(frozen=True)
class Estimate:
    """What the candidate's page says about a queued grading."""

    position: int
    start: datetime | None = None
    finish: datetime | None = None
    #: ``"no_worker"`` (none is running) or ``"unmeasured"`` (no run timed yet) when no times.
    missing: str = ""


def estimate(session: Session, grading: Grading, now: datetime | None = None) -> Estimate | None:
    """Position and expected start and finish of a queued ``grading``; None otherwise."""
    found = position(session, grading)
    if found is None:
        return None
    plan = schedule(session, now)
    slot = plan.slots.get(grading.id)
    if slot is not None:
        return Estimate(position=found, start=slot.start, finish=slot.finish)
    return Estimate(position=found, missing="no_worker" if plan.capacity == 0 else "unmeasured")


# -- for /metrics ----------------------------------------------------------------------------


@dataclass(frozen=True)
class LaneStats:
    depth: int
    #: Seconds the oldest queued grading of the lane has waited (0 when none waits).
    oldest_wait: float
    #: Waits (queued to claimed) of the gradings of the lane that started.
    waits: list[float]


def lane_stats(session: Session, now: datetime | None = None) -> dict[str, LaneStats]:
    now = now or utcnow()
    stats = {}
    for lane in LANES:
        depth, oldest = session.execute(
            sa.select(sa.func.count(), sa.func.min(Grading.queued_at)).where(
                Grading.status == QUEUED, Grading.lane == lane
            )
        ).one()
        started = session.execute(
            sa.select(Grading.queued_at, Grading.started_at).where(
                Grading.lane == lane, Grading.started_at.is_not(None)
            )
        ).all()
        waits = [max(0.0, (s - q).total_seconds()) for q, s in started if q is not None]
        stats[lane] = LaneStats(
            depth=depth,
            oldest_wait=max(0.0, (now - oldest).total_seconds()) if oldest else 0.0,
            waits=waits,
        )
    return stats


@dataclass(frozen=True)
class Backlog:
    """An assessment's gradings in the queue, for its recruiter."""

    queued: int
    running: int
    #: When the last of them is expected to end; None without an estimate (``missing``).
    drains_at: datetime | None = None
    missing: str = ""


def assessment_backlog(
    session: Session, assessment_id: int, now: datetime | None = None
) -> Backlog:
    plan = schedule(session, now)
    queued, running = plan.backlog.get(assessment_id, (0, 0))
    if not queued and not running:
        return Backlog(0, 0)
    drains = plan.drains_at.get(assessment_id)
    if drains is not None:
        return Backlog(queued, running, drains)
    return Backlog(queued, running, missing="no_worker" if plan.capacity == 0 else "unmeasured")


#: The largest share one assessment may have (a share is a weight, not a priority).
MAX_SHARE = 100.0


def set_share(session: Session, assessment_id: int, share: float) -> Assessment:
    """Set an assessment's weight in the round-robin (staff only: it slows the others).

    It applies to gradings queued from now on; the caller commits.
    """
    if not 0 < share <= MAX_SHARE:
        raise ValueError(f"a queue share is a number above 0 and at most {MAX_SHARE:g}")
    assessment = session.get(Assessment, assessment_id)
    if assessment is None:
        raise LookupError(f"no assessment has the id {assessment_id}")
    assessment.queue_share = float(share)
    return assessment
