"""Webhooks: signed deliveries through the queue to a receiver on 127.0.0.1 (allowed by the
operator setting ``ASSAY_WEBHOOK_ALLOW_HOSTS``), retries with backoff when it is down, every
try logged; internal targets refused at save and at delivery without a connection, no
redirects followed, nothing of the answer kept but its status class."""

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

    def __init__(self, status: int = 204, headers: dict | None = None, body: bytes = b""):
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
                self.send_response(status if ok else 401)
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

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
def allow_loopback(app, monkeypatch):
    """The operator setting that lets webhooks reach 127.0.0.1 (web app and worker)."""
    app.config["WEBHOOK_ALLOW_HOSTS"] = "127.0.0.1"
    monkeypatch.setenv("ASSAY_WEBHOOK_ALLOW_HOSTS", "127.0.0.1")


@pytest.fixture
def receiver(allow_loopback):
    r = Receiver()
    yield r
    r.close()


class Probe:
    """A listening socket on 127.0.0.1 that records whether anything connected to it."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(0.3)
        self.port = self.sock.getsockname()[1]

    def connected(self) -> bool:
        try:
            conn, _ = self.sock.accept()
        except TimeoutError:
            return False
        conn.close()
        return True


@pytest.fixture
def probe():
    p = Probe()
    yield p
    p.sock.close()


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
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("delivered", 1, 200)
    assert "try 1: 2xx" in delivery.log and "204" not in delivery.log


def test_a_graded_submission_is_delivered(app, db, world, receiver, queue):
    hook = webhooks.register(
        db,
        world["people"]["owner"].id,
        receiver.url,
        ["submission.graded"],
        allow_hosts="127.0.0.1",
    )
    db.commit()
    receiver.secret = hook.secret
    from server.models import Submission

    grading_id = db.get(Submission, world["sub"]).latest.id
    webhooks.graded_hook(app.extensions["assay.sessions"])(grading_id)
    assert _run_ready(queue) == 1
    assert receiver.received[0]["ok"] and receiver.received[0]["body"]["data"]["passed"] is True


def test_a_receiver_that_is_down_gets_retries_with_backoff_all_logged(
    db, world, queue, monkeypatch, allow_loopback
):
    monkeypatch.setattr(webhooks, "MAX_TRIES", 3)
    webhooks.register(
        db, world["people"]["owner"].id, f"http://127.0.0.1:{_closed_port()}/", ["decision.made"]
    )  # allowed: ASSAY_WEBHOOK_ALLOW_HOSTS=127.0.0.1
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
    assert len(lines) == 3 and all(": unreachable" in line for line in lines)
    assert "refused" not in delivery.log  # no detail of the failure is shown
    assert "next try in 10s" in lines[0] and "next try in 20s" in lines[1]
    assert "gave up after 3 tries" in lines[2]


def test_a_webhook_needs_an_http_url_and_an_event(db, world):
    owner = world["people"]["owner"].id
    with pytest.raises(webhooks.WebhookError):
        webhooks.register(db, owner, "file:///etc/passwd", ["decision.made"])
    with pytest.raises(webhooks.WebhookError):
        webhooks.register(db, owner, "http://127.0.0.1/", ["nothing"])


# -- internal targets (SSRF) -------------------------------------------------------------------


def _internal_urls(port: int) -> list[str]:
    return [
        f"http://127.0.0.1:{port}/hook",
        "http://169.254.169.254/latest/meta-data/",
        f"http://localhost:{port}/",
        "http://localhost:22/",
        f"http://[::1]:{port}/",
        f"http://[::ffff:127.0.0.1]:{port}/",
        "http://10.1.2.3/",
        "http://192.168.0.10:8080/",
        "http://172.16.0.1/",
        "http://100.64.0.1/",
        "http://0.0.0.0/",
        "http://224.0.0.1/",
        "https://240.0.0.1/",
        f"http://2130706433:{port}/",  # 127.0.0.1 written as one number
    ]


def test_internal_targets_are_refused_at_save_without_a_connection(client, db, world, login, probe):
    login(client, world["people"]["owner"])
    for url in _internal_urls(probe.port):
        page = client.post("/review/webhooks", data={"url": url, "events": ["decision.made"]})
        text = page.get_data(as_text=True)
        assert "Webhooks cannot reach internal addresses" in text, url
        assert "Webhook added" not in text, url
    assert db.query(Webhook).count() == 0
    assert not probe.connected()


def test_the_refusal_is_in_chinese_too(client, world, login, probe):
    login(client, world["people"]["owner"])
    client.post("/lang/zh", data={"next": "/"})
    page = client.post(
        "/review/webhooks",
        data={"url": f"http://127.0.0.1:{probe.port}/", "events": ["decision.made"]},
    )
    assert "Webhooks cannot reach" not in page.get_data(as_text=True)
    assert "内部地址" in page.get_data(as_text=True)


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("169.254.169.254", "link-local"),
        ("fe80::1", "link-local"),
        ("10.0.0.1", "private"),
        ("fd00::1", "private"),
        ("224.0.0.1", "multicast"),
        ("ff02::1", "multicast"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("240.0.0.1", "reserved"),
        ("::ffff:10.0.0.1", "private"),
        ("100.64.0.1", "not public"),
        ("93.184.215.14", None),
        ("2606:4700::1111", None),
    ],
)
def test_address_classes(address, kind):
    assert webhooks.internal_kind(address) == kind


def test_a_target_that_turned_internal_is_refused_at_delivery_without_a_connection(
    app, db, world, probe
):
    """Saved while it was public (here: written straight to the table), resolved to 127.0.0.1
    at delivery time, as a DNS-rebinding name would: the delivery does not connect."""
    owner = world["people"]["owner"].id
    db.add(
        Webhook(
            owner_id=owner,
            url=f"http://127.0.0.1:{probe.port}/",
            secret="s",
            events=["decision.made"],
        )
    )
    db.commit()
    (delivery_id,) = webhooks.emit(db, "decision.made", owner, {"x": 1})
    db.commit()
    webhooks.attempt(app.extensions["assay.sessions"], delivery_id, allow_hosts="")
    assert not probe.connected()
    db.expire_all()
    delivery = db.get(WebhookDelivery, delivery_id)
    assert "refused: internal address" in delivery.log
    assert delivery.last_status_code is None


def test_redirects_are_not_followed_and_the_answer_is_reduced_to_its_class(
    app, db, world, probe, allow_loopback
):
    body = b"internal admin panel: secret-token-123"
    target = f"http://127.0.0.1:{probe.port}/"
    moved = Receiver(status=302, headers={"Location": target}, body=body)
    forbidden = Receiver(status=403, body=body)
    try:
        owner = world["people"]["owner"].id
        for r in (moved, forbidden):
            r.secret = webhooks.register(db, owner, r.url, ["decision.made"]).secret
        db.commit()
        ids = webhooks.emit(db, "decision.made", owner, {"x": 1})
        db.commit()
        for delivery_id in ids:
            webhooks.attempt(app.extensions["assay.sessions"], delivery_id)
    finally:
        moved.close()
        forbidden.close()
    assert not probe.connected()  # the redirect's target was never contacted
    db.expire_all()
    logs = [db.get(WebhookDelivery, i) for i in ids]
    assert "try 1: 3xx" in logs[0].log and "try 1: 4xx" in logs[1].log
    for delivery in logs:
        assert delivery.status == "pending"
        assert "secret-token" not in delivery.log and "302" not in delivery.log
        assert "403" not in delivery.log


def test_an_allowed_host_name_is_checked_by_name_not_by_address(db, world):
    owner = world["people"]["owner"].id
    with pytest.raises(webhooks.TargetRefused):
        webhooks.register(db, owner, "http://localhost:9/", ["decision.made"], allow_hosts="")
    hook = webhooks.register(
        db, owner, "http://localhost:9/", ["decision.made"], allow_hosts="LocalHost, other"
    )
    assert hook.id
    with pytest.raises(webhooks.TargetRefused):  # the name, not whatever it resolves to
        webhooks.register(
            db, owner, "http://127.0.0.1:9/", ["decision.made"], allow_hosts="localhost"
        )
