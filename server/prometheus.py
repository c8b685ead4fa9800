"""Prometheus metrics, read from the database and the queue at scrape time.

Every figure is derived from shared state (the database rows, the queue) rather than kept in
process memory, so each gunicorn worker answers ``/metrics`` with the same numbers and no
``PROMETHEUS_MULTIPROC_DIR`` is needed; a restarted web or worker process loses nothing.
The price is one small query per scrape over the finished gradings (hundreds a week), and
the process metrics of prometheus-client are left out (they would describe whichever
gunicorn worker answered).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import sqlalchemy as sa
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)

from server.models.grading import FAILED, GRADED, GRADING_STATES, Grading

log = logging.getLogger(__name__)

#: Grading durations (claim to result), in seconds: a sample-tier run is tens of seconds,
#: a full-tier one minutes; the train limit bounds it.
DURATION_BUCKETS = (5, 10, 30, 60, 120, 300, 600, 1200, 1800, 3600)
#: Waits in the queue (queued to claimed), in seconds: none in a quiet hour, tens of minutes
#: in a deadline rush.
WAIT_BUCKETS = (1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200)
#: What ``server.sweeper.requeue_expired`` writes into ``platform_note`` for each expiry.
LEASE_EXPIRY_NOTE = "stopped renewing its lease"


def outcome_of(status: str, passed: bool | None, error_code: str | None) -> str:
    """A finished grading's outcome label: passed, below_bar, candidate_error, platform_error."""
    if status == GRADED:
        return "passed" if passed else "below_bar"
    return "platform_error" if error_code == "platform_error" else "candidate_error"


class AssayCollector:
    """Collects the platform's metrics from ``factory`` (sessions) and ``huey`` (the queue)."""

    def __init__(self, factory, huey):
        self.factory, self.huey = factory, huey

    def collect(self) -> Iterator[Metric]:
        depth = GaugeMetricFamily(
            "assay_queue_depth", "Grading messages waiting on the queue (no worker took them yet)"
        )
        try:
            depth.add_metric([], float(self.huey.pending_count()))
        except Exception as exc:  # the queue is down: leave the gauge out, say why in the log
            log.warning("metrics: queue unreachable: %s", exc)
        else:
            yield depth

        with self.factory() as session:
            by_status = dict(
                session.execute(
                    sa.select(Grading.status, sa.func.count()).group_by(Grading.status)
                ).all()
            )
            finished = session.execute(
                sa.select(
                    Grading.status,
                    Grading.passed,
                    Grading.error_code,
                    Grading.started_at,
                    Grading.finished_at,
                ).where(Grading.status.in_((GRADED, FAILED)))
            ).all()
            notes = session.scalars(
                sa.select(Grading.platform_note).where(
                    Grading.platform_note.contains(LEASE_EXPIRY_NOTE)
                )
            ).all()

        states = GaugeMetricFamily(
            "assay_gradings", "Gradings in each state now", labels=["status"]
        )
        for status in GRADING_STATES:
            states.add_metric([status], float(by_status.get(status, 0)))
        yield states

        outcomes: dict[str, int] = {}
        durations: list[float] = []
        for status, passed, error_code, started, ended in finished:
            key = outcome_of(status, passed, error_code)
            outcomes[key] = outcomes.get(key, 0) + 1
            # A platform failure's span (a dead worker, an expired lease) says nothing about
            # how long grading takes: only runs that reached a result are timed.
            if key != "platform_error" and started is not None and ended is not None:
                durations.append(max(0.0, (ended - started).total_seconds()))
        counter = CounterMetricFamily(
            "assay_gradings_finished", "Finished gradings by outcome", labels=["outcome"]
        )
        for key in ("passed", "below_bar", "candidate_error", "platform_error"):
            counter.add_metric([key], float(outcomes.get(key, 0)))
        yield counter

        buckets, running = [], 0
        for bound in DURATION_BUCKETS:
            running = sum(1 for d in durations if d <= bound)
            buckets.append((str(float(bound)), float(running)))
        buckets.append(("+Inf", float(len(durations))))
        histogram = HistogramMetricFamily(
            "assay_grading_duration_seconds",
            "Seconds from a worker's claim to the stored result (platform failures left out)",
        )
        histogram.add_metric([], buckets, sum_value=sum(durations))
        yield histogram

        with self.factory() as session:
            from server.placement import live_workers, waiting_for_gpu_count

            waiting = waiting_for_gpu_count(session)
            workers = live_workers(session)
        gpu_wait = GaugeMetricFamily(
            "assay_gradings_waiting_for_gpu",
            "Queued gradings that need a GPU while no GPU worker is alive",
        )
        gpu_wait.add_metric([], float(waiting))
        yield gpu_wait
        alive = GaugeMetricFamily(
            "assay_workers", "Workers with a recent heartbeat", labels=["kind"]
        )
        alive.add_metric(["gpu"], float(sum(1 for w in workers if w.gpus > 0)))
        alive.add_metric(["cpu"], float(sum(1 for w in workers if w.gpus == 0)))
        yield alive

        yield from _lanes(self.factory)

        expiries = CounterMetricFamily(
            "assay_lease_expiries",
            "Leases that expired (a worker killed, hung or cut off) and were taken back",
        )
        expiries.add_metric([], float(sum(n.count(LEASE_EXPIRY_NOTE) for n in notes)))
        yield expiries


def _lanes(factory) -> Iterator[Metric]:
    """The fair order's lanes (server.fairqueue): depth, oldest wait, and waits served."""
    from server.fairqueue import lane_stats

    with factory() as session:
        stats = lane_stats(session)
    depth = GaugeMetricFamily(
        "assay_queue_lane_depth", "Gradings waiting in each lane of the fair order", labels=["lane"]
    )
    oldest = GaugeMetricFamily(
        "assay_queue_lane_oldest_wait_seconds",
        "How long the oldest grading waiting in each lane has waited",
        labels=["lane"],
    )
    waits = HistogramMetricFamily(
        "assay_queue_lane_wait_seconds",
        "Seconds from queued to claimed, of the gradings each lane started",
        labels=["lane"],
    )
    for lane, lane_stat in stats.items():
        depth.add_metric([lane], float(lane_stat.depth))
        oldest.add_metric([lane], lane_stat.oldest_wait)
        buckets = [
            (str(float(bound)), float(sum(1 for w in lane_stat.waits if w <= bound)))
            for bound in WAIT_BUCKETS
        ]
        buckets.append(("+Inf", float(len(lane_stat.waits))))
        waits.add_metric([lane], buckets, sum_value=sum(lane_stat.waits))
    yield depth
    yield oldest
    yield waits


def render(factory, huey) -> bytes:
    """The metrics in Prometheus' text format."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(AssayCollector(factory, huey))
    return generate_latest(registry)
