"""Webhooks: signed deliveries through the queue to a receiver on 127.0.0.1, retries with
backoff when it is down, every try logged."""

from __future__ import annotations

import json
import socket
import threading
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from server import webhooks
from server.models import Webhook, WebhookDelivery
from tests.server.test_review import ALICE, ALICE_EMAIL, build_world


@pytest.fixture
def world(db, make_user, make_assessment, make_invitation):
    return build_world(db, make_user, make_assessment, make_invitation)


class Receiver:
    """An HTTP server on 127.0.0.1 that checks each request's signature with the secret."""

    def __init__(self):
        self.secret = ""
        self.received: list[dict] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                ok = webhooks.verify(
                    receiver.secret,
                    self.headers["X-Assay-Timestamp"],
                    body,
                    self.headers["X-Assay-Signature"],
                )
                receiver.received.append(
                    {"ok": ok, "event": self.headers["X-Assay-Event"], "body": json.loads(body)}
                )
                self.send_response(204 if ok else 401)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def queue(app):
    from server.queue import get_huey

    webhooks.use_sessions(app.extensions["assay.sessions"])
    huey = get_huey()
    webhooks.register_task(huey)
    yield huey
    webhooks.use_sessions(None)


def _run_ready(huey) -> int:
    """What huey's consumer does: run what is due, put a task with a later eta on the schedule."""
    ran = 0
    while (task := huey.dequeue()) is not None:
        if huey.ready_to_run(task):
            huey.execute(task)
            ran += 1
        else:
            huey.add_schedule(task)
    return ran


def _run_scheduled(huey) -> int:
    """Run the retries as if their delay had passed (then whatever they enqueue)."""
    _run_ready(huey)
    later = datetime.now() + timedelta(days=1)
    tasks = huey.read_schedule(later)
    for task in tasks:
        huey.execute(task, timestamp=later)
    return len(tasks)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _add_hook(client, login, owner, url):
    login(client, owner)
    page = client.post(
        "/review/webhooks", data={"url": url, "events": ["submission.graded", "decision.made"]}
    )
    assert page.status_code == 200
    client.post("/logout")


def test_signature_checks_body_secret_and_age():
    body = b'{"a": 1}'
    signature = webhooks.sign("s3cret", 1_000_000, body)
    assert webhooks.verify("s3cret", "1000000", body, signature, now=1_000_100)
    assert not webhooks.verify("other", "1000000", body, signature, now=1_000_100)
    assert not webhooks.verify("s3cret", "1000000", body + b" ", signature, now=1_000_100)
    assert not webhooks.verify("s3cret", "1000000", body, signature, now=1_000_000 + 301)


def test_a_decision_is_delivered_signed_through_the_queue(
    client,
    db,
    world,
    login,
    receiver,
    queue,
):
    _add_hook(client, login, world["people"]["owner"], receiver.url)
    receiver.secret = db.query(Webhook).one().secret
    login(client, world["people"]["reviewer"])
    client.post(f"/review/candidates/{world['alice']}/decision", data={"decision": "advance"})
    assert _run_ready(queue) == 1
    assert len(receiver.received) == 1 and receiver.received[0]["ok"]
    sent = receiver.received[0]["body"]
    assert sent["event"] == "decision.made" and sent["data"]["decision"] == "advance"
    assert ALICE not in json.dumps(sent) and ALICE_EMAIL not in json.dumps(sent)
    db.expire_all()
    delivery = db.query(WebhookDelivery).one()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("delivered", 1, 204)
    assert "try 1: HTTP 204" in delivery.log


def test_a_graded_submission_is_delivered(app, db, world, receiver, queue):
    hook = webhooks.register(db, world["people"]["owner"].id, receiver.url, ["submission.graded"])
    db.commit()
    receiver.secret = hook.secret
    from server.models import Submission

    grading_id = db.get(Submission, world["sub"]).latest.id
    webhooks.graded_hook(app.extensions["assay.sessions"])(grading_id)
    assert _run_ready(queue) == 1
    assert receiver.received[0]["ok"] and receiver.received[0]["body"]["data"]["passed"] is True


def test_a_receiver_that_is_down_gets_retries_with_backoff_all_logged(
    db,
    world,
    queue,
    monkeypatch,
):
    monkeypatch.setattr(webhooks, "MAX_TRIES", 3)
    webhooks.register(
        db, world["people"]["owner"].id, f"http://127.0.0.1:{_closed_port()}/", ["decision.made"]
    )
    db.commit()
    ids = webhooks.emit(db, "decision.made", world["people"]["owner"].id, {"x": 1})
    db.commit()
    assert _run_ready(queue) == 1
    assert _run_scheduled(queue) == 1  # second try, scheduled 10 s later
    assert _run_scheduled(queue) == 1  # third and last, 20 s later
    assert _run_scheduled(queue) == 0
    db.expire_all()
    delivery = db.get(WebhookDelivery, ids[0])
    assert (delivery.status, delivery.attempts) == ("failed", 3)
    lines = delivery.log.splitlines()
    assert len(lines) == 3 and all("error:" in line for line in lines)
    assert "next try in 10s" in lines[0] and "next try in 20s" in lines[1]
    assert "gave up after 3 tries" in lines[2]


def test_a_webhook_needs_an_http_url_and_an_event(db, world):
    owner = world["people"]["owner"].id
    with pytest.raises(webhooks.WebhookError):
        webhooks.register(db, owner, "file:///etc/passwd", ["decision.made"])
    with pytest.raises(webhooks.WebhookError):
        webhooks.register(db, owner, "http://127.0.0.1/", ["nothing"])
