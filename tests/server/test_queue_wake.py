"""An idle worker on the SQLite queue is woken by an enqueue instead of polling the file.

Real parts: the queue file, Huey's ``SqliteHuey``, AF_UNIX datagram sockets, and (in the
last test) two processes. ``check_seconds`` is set far above what a wake-up takes, so a
message taken quickly was taken because of the wake-up, not by the safety-net poll.
"""

from __future__ import annotations

import multiprocessing
import os
import socket
import threading
import time

import pytest

from server.queue import WAKE_DIR, WakingSqliteStorage, enqueue_grading, make_huey

SLOW_CHECK = "30"


@pytest.fixture
def slow_check(monkeypatch):
    monkeypatch.setenv("ASSAY_WAKE_CHECK_SECONDS", SLOW_CHECK)


def _dequeue_in_thread(huey) -> tuple[threading.Thread, dict]:
    got: dict = {}

    def take():
        while "data" not in got:  # as Huey's consumer does: dequeue() again at once
            data = huey.storage.dequeue()
            if data is not None:
                got.update(data=data, at=time.monotonic())

    thread = threading.Thread(target=take, daemon=True)
    thread.start()
    return thread, got


def _waiting(huey, seconds=5.0) -> None:
    """Until the worker's socket is bound (its first dequeue found nothing)."""
    deadline = time.monotonic() + seconds
    folder = huey.storage.wake_dir
    while time.monotonic() < deadline:
        if folder.is_dir() and any(p.suffix == ".sock" for p in folder.iterdir()):
            time.sleep(0.05)  # now inside select()
            return
        time.sleep(0.01)
    raise AssertionError("the worker never waited on its socket")


def test_the_sqlite_queue_blocks_and_an_enqueue_wakes_the_waiting_worker(tmp_path, slow_check):
    worker, web = make_huey(tmp_path), make_huey(tmp_path)  # two processes' views of one file
    assert isinstance(worker.storage, WakingSqliteStorage) and worker.storage.blocking
    thread, got = _dequeue_in_thread(worker)
    _waiting(worker)

    sent = time.monotonic()
    enqueue_grading(web, 41)
    thread.join(10)

    assert worker.deserialize_task(got["data"]).args == (41,)
    assert got["at"] - sent < 1.0  # not the 30 s safety-net poll


def test_a_socket_left_by_a_killed_worker_is_removed_by_the_next_sender(tmp_path, slow_check):
    huey = make_huey(tmp_path)
    folder = tmp_path / WAKE_DIR
    folder.mkdir()
    dead = folder / "999999-0000.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(dead))
    sock.close()  # as SIGKILL leaves it: the file, nobody reading

    enqueue_grading(huey, 5)

    assert not dead.exists()
    assert huey.storage.dequeue() is not None  # the message itself is on the queue


def test_without_a_socket_the_worker_polls(tmp_path, monkeypatch, slow_check):
    deep = tmp_path / ("x" * 120)  # longer than an AF_UNIX path may be
    deep.mkdir()
    monkeypatch.setenv("ASSAY_POLL_SECONDS", "0.05")
    worker, web = make_huey(deep), make_huey(deep)
    thread, got = _dequeue_in_thread(worker)
    time.sleep(0.3)

    sent = time.monotonic()
    enqueue_grading(web, 9)
    thread.join(10)

    assert got["at"] - sent < 1.0
    assert not (deep / WAKE_DIR).exists() or not list((deep / WAKE_DIR).iterdir())


def _enqueue_from_another_process(folder: str, grading_id: int) -> None:
    enqueue_grading(make_huey(folder), grading_id)


def test_a_web_process_wakes_a_worker_process(tmp_path, slow_check):
    worker = make_huey(tmp_path)
    thread, got = _dequeue_in_thread(worker)
    _waiting(worker)

    sent = time.monotonic()
    proc = multiprocessing.get_context("fork").Process(
        target=_enqueue_from_another_process, args=(str(tmp_path), 77)
    )
    proc.start()
    proc.join(60)
    thread.join(10)

    assert proc.exitcode == 0
    assert worker.deserialize_task(got["data"]).args == (77,)
    assert got["at"] - sent < 5.0  # the poll alone would take 30 s


def test_a_waiting_worker_uses_next_to_no_cpu(tmp_path, slow_check):
    worker = make_huey(tmp_path)
    stop = threading.Event()

    def idle():
        while not stop.is_set():
            worker.storage.dequeue()

    thread = threading.Thread(target=idle, daemon=True)
    before = os.times()
    thread.start()
    time.sleep(2.0)
    spent = (lambda t: t.user + t.system)(os.times()) - (before.user + before.system)
    stop.set()
    enqueue_grading(make_huey(tmp_path), 1)  # wakes it, so the thread ends
    thread.join(10)

    assert spent < 0.2  # a polling loop without the wait would burn the whole 2 s
