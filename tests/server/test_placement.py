"""Worker placement (server/placement.py) with the real worker, queue and database.

A GPU challenge is a copy of lenet5-mnist with ``[limits] gpus = 1`` in a temporary
challenges folder. Its submissions are refused before any sandbox starts (a syntax error),
so the tests show who takes a grading without needing a GPU on this machine.
"""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path

import pytest

from server import grading as g
from server import placement
from server.models import Grading, Submission, WorkerRecord, utcnow
from server.queue import QueueSettings, get_huey
from server.submission_status import progress
from server.worker import Worker

ROOT = Path(__file__).resolve().parents[2]
GPU_SLUG = "lenet5-mnist-gpu"
BROKEN = b"def broken(:\n"

pytestmark = pytest.mark.databases


@pytest.fixture
def challenges(tmp_path, monkeypatch) -> Path:
    """The packaged challenges plus a GPU one, as ASSAY_CHALLENGES_DIR."""
    root = tmp_path / "challenges"
    shutil.copytree(ROOT / "challenges", root)
    gpu = root / GPU_SLUG
    shutil.copytree(root / "lenet5-mnist", gpu)
    toml = (gpu / "challenge.toml").read_text()
    toml = toml.replace('slug = "lenet5-mnist"', f'slug = "{GPU_SLUG}"', 1)
    assert "\ngpus = 0\n" in toml
    (gpu / "challenge.toml").write_text(toml.replace("\ngpus = 0\n", "\ngpus = 1\n", 1))
    monkeypatch.setenv("ASSAY_CHALLENGES_DIR", str(root))
    placement.needs_gpu.cache_clear()
    yield root
    placement.needs_gpu.cache_clear()


@pytest.fixture
def factory(app):
    factory = app.extensions["assay.sessions"]
    g.use_queue(factory, get_huey())
    return factory


def _submit(factory, slug: str, invitation_id: int) -> int:
    with factory() as session:
        sub = Submission(
            invitation_id=invitation_id,
            challenge_slug=slug,
            filename="solution.py",
            source=BROKEN,
            sha256="0" * 64,
            size=len(BROKEN),
        )
        session.add(sub)
        grading = g.enqueue_submission(session, sub, {"tier": "sample"})
        session.commit()
        return grading.id


def _status(factory, gid) -> tuple[str, int]:
    with factory() as session:
        row = session.get(Grading, gid)
        return row.status, row.tries


def _worker(factory, gpus: int) -> Worker:
    return Worker(
        factory, get_huey(), QueueSettings(), capacity=placement.Capacity(gpus=gpus, slots=1)
    )


def test_a_challenge_declares_its_gpu_need(challenges):
    assert placement.needs_gpu(GPU_SLUG)
    assert not placement.needs_gpu("lenet5-mnist")
    assert not placement.needs_gpu("no-such-challenge")


def test_without_a_gpu_worker_the_grading_waits_and_says_so(
    challenges, factory, make_invitation, prepared_data
):
    invitation, _ = make_invitation()
    gid = _submit(factory, GPU_SLUG, invitation.id)
    assert _worker(factory, gpus=0).run_grading(gid) == "waits for a GPU worker"
    assert _status(factory, gid) == ("queued", 0)  # not claimed: no try used
    with factory() as session:
        sub = session.get(Grading, gid).submission
        state = progress(session, sub)
        assert (state.status, state.waiting_for) == ("queued", "gpu")
        assert placement.waiting_for_gpu_count(session) == 1


def test_the_status_page_says_a_gpu_worker_is_missing(
    challenges, factory, client, make_invitation, prepared_data, db
):
    invitation, token = make_invitation(opened_at=utcnow())
    gid = _submit(factory, GPU_SLUG, invitation.id)
    with factory() as session:
        sid = session.get(Grading, gid).submission_id
    page = client.get(f"/c/{token}/submissions/{sid}/progress")
    assert page.status_code == 200
    assert "needs a GPU and no GPU worker is running" in page.get_data(as_text=True)


def test_a_cpu_worker_passes_a_gpu_grading_on_while_a_gpu_worker_lives(
    challenges, factory, make_invitation, prepared_data
):
    invitation, _ = make_invitation()
    gid = _submit(factory, GPU_SLUG, invitation.id)
    with factory() as session:
        placement.register(session, "gpu-host/1", placement.Capacity(gpus=1, slots=2))
        session.commit()
    huey = get_huey()
    huey.flush()
    assert _worker(factory, gpus=0).run_grading(gid) == "passed on to a GPU worker"
    # Back on the queue with an eta: the consumer holds it for BOUNCE_SECONDS first.
    assert [(t.args, t.eta is not None) for t in huey.pending()] == [((gid,), True)]
    assert _status(factory, gid) == ("queued", 0)
    with factory() as session:
        state = progress(session, session.get(Grading, gid).submission)
        assert state.waiting_for == ""  # a GPU worker lives: nothing to warn about
    # The GPU worker takes it (and refuses the broken upload before any sandbox).
    assert _worker(factory, gpus=1).run_grading(gid) == "failed"
    assert _status(factory, gid) == ("failed", 1)


def test_cpu_and_gpu_workers_both_take_cpu_gradings(
    challenges, factory, make_invitation, prepared_data
):
    invitation, _ = make_invitation()
    first = _submit(factory, "lenet5-mnist", invitation.id)
    second = _submit(factory, "lenet5-mnist", invitation.id)
    assert _worker(factory, gpus=0).run_grading(first) == "failed"
    assert _worker(factory, gpus=1).run_grading(second) == "failed"


def test_the_registry_keeps_live_workers_and_forgets_silent_ones(db):
    now = utcnow()
    placement.register(db, "a/1", placement.Capacity(gpus=0, slots=2), now=now)
    placement.register(db, "b/2", placement.Capacity(gpus=2, slots=1), now=now)
    db.commit()
    assert {w.name for w in placement.live_workers(db, now)} == {"a/1", "b/2"}
    assert placement.gpu_worker_alive(db, now)
    later = now + timedelta(seconds=placement.ALIVE_SECONDS + 1)
    placement.heartbeat(db, "a/1", placement.Capacity(gpus=0, slots=2), now=later)
    assert [w.name for w in placement.live_workers(db, later)] == ["a/1"]
    assert not placement.gpu_worker_alive(db, later)
    placement.heartbeat(db, "a/1", placement.Capacity(), now=later + placement.FORGET_AFTER)
    assert [w.name for w in db.query(WorkerRecord)] == ["a/1"]  # b/2 forgotten
    placement.unregister(db, "a/1")
    assert db.query(WorkerRecord).count() == 0


def test_capacity_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("ASSAY_WORKER_GPUS", "2")
    assert placement.Capacity.from_env(3) == placement.Capacity(gpus=2, slots=3)
    monkeypatch.setenv("ASSAY_WORKER_GPUS", "0")
    assert placement.Capacity.from_env(1).gpus == 0
