"""Webhooks: "submission.graded" and "decision.made" POSTed to a recruiter's URL.

Each delivery is signed: ``X-Assay-Timestamp`` (Unix seconds) and ``X-Assay-Signature:
sha256=<hex>``, the HMAC-SHA256 under the webhook's secret of ``"<timestamp>.<body>"``.
A receiver recomputes it (``verify``) and refuses an old timestamp, so a captured request
cannot be replayed later.

Deliveries go through the task queue (Huey, the same one gradings use): ``emit`` stores one
``WebhookDelivery`` row per subscribed webhook and enqueues its id after the commit. A try
that fails (connection refused, timeout, a status other than 2xx) is logged on the row and
tried again after :data:`BACKOFF_SECONDS` ``* 2**(tries - 1)``, up to :data:`MAX_TRIES`
tries; then the row ends ``failed``. The row's ``log`` keeps one line per try.

A webhook must not turn the server into a proxy into its own network (SSRF). So:

1. The target's host is resolved when the webhook is saved and again at every delivery;
   every address it resolves to must be public (``ipaddress``: not loopback, private,
   link-local, multicast, unspecified, reserved, shared or otherwise non-global; an
   IPv4-mapped IPv6 address is judged as its IPv4 address). Host names listed in the
   operator setting ``ASSAY_WEBHOOK_ALLOW_HOSTS`` are exempt (tests, internal deployments).
2. The delivery connects to the very address that was checked (``_PinnedHTTPConnection``):
   no second lookup that a DNS-rebinding name could answer differently. TLS still checks
   the certificate against the host name.
3. No redirect is followed (``http.client`` follows none; a 3xx is a failed try).
4. Nothing of the target's answer is kept or shown beyond its status class (``2xx``,
   ``3xx``, ``4xx``, ``5xx``) or ``unreachable``: a recruiter cannot read another
   service's answers through the delivery log.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import ipaddress
import json
import logging
import secrets
import socket
import ssl
import time
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.orm import Session

from sandbox import settings as declared
from server.db import after_commit
from server.models import Webhook, WebhookDelivery, utcnow
from server.models.api import EVENTS

log = logging.getLogger(__name__)

TASK = "webhook"
MAX_TRIES = 6
BACKOFF_SECONDS = 10.0
TIMEOUT_SECONDS = 5.0
#: A receiver should refuse a timestamp older than this (what ``verify`` does).
TOLERANCE_SECONDS = 300
_PENDING = "assay.webhooks"


class WebhookError(ValueError):
    """A refused webhook registration; the message says why."""


class TargetRefused(WebhookError):
    """The target resolves to an address a webhook must not reach."""


# -- the target's address ----------------------------------------------------------------------


def allowed_hosts(setting: str | Iterable[str] | None = None) -> frozenset[str]:
    """Host names exempt from the address check: ``setting`` (comma-separated, or a list),
    else the environment's ``ASSAY_WEBHOOK_ALLOW_HOSTS`` (the operator's list)."""
    if setting is None:
        setting = declared.current().webhook_allow_hosts
    if isinstance(setting, str):
        setting = setting.split(",")
    return frozenset(h.strip().lower().strip("[]") for h in setting if h.strip())


def internal_kind(address: str) -> str | None:
    """Why ``address`` is not a public address (``"loopback"``, ``"private"``, ...), or None."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    for kind in ("loopback", "link_local", "multicast", "unspecified", "reserved", "private"):
        if getattr(ip, f"is_{kind}"):
            return kind.replace("_", "-")
    return None if ip.is_global else "not public"


def _kind_label(kind: str) -> str:
    labels = {
        "loopback": _("loopback"),
        "link-local": _("link-local"),
        "multicast": _("multicast"),
        "unspecified": _("unspecified"),
        "reserved": _("reserved"),
        "private": _("private network"),
    }
    return labels.get(kind, _("not public"))


def resolve_target(url: str, allow: frozenset[str]) -> tuple[str, int, str]:
    """``(host, port, address)``: the address a delivery to ``url`` connects to, checked.

    Raises ``WebhookError`` when the URL is not http(s) or its host does not resolve, and
    ``TargetRefused`` when any address it resolves to is internal (unless the host is in
    ``allow``). Every address is checked, not only the first: a name that resolves to a
    public and a private address is refused.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise WebhookError(_("The URL must start with http:// or https:// and name a host."))
    host = parts.hostname.lower()
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise WebhookError(_("The URL's port is not a number from 1 to 65535.")) from exc
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise WebhookError(_("The host %(host)s does not resolve.", host=host)) from exc
    addresses = list(dict.fromkeys(info[4][0] for info in infos))
    if host not in allow:
        for address in addresses:
            if (kind := internal_kind(address)) is not None:
                raise TargetRefused(
                    _(
                        "Webhooks cannot reach internal addresses: %(host)s is %(address)s"
                        " (%(kind)s).",
                        host=host,
                        address=address,
                        kind=_kind_label(kind),
                    )
                )
    return host, port, addresses[0]


# -- signing -----------------------------------------------------------------------------------


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """``sha256=<hex>``: HMAC-SHA256 of ``b"<timestamp>." + body`` under ``secret``."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify(
    secret: str, timestamp: str, body: bytes, signature: str, now: float | None = None
) -> bool:
    """What a receiver checks: the signature matches and the timestamp is recent."""
    try:
        stamp = int(timestamp)
    except (TypeError, ValueError):
        return False
    if abs((now or time.time()) - stamp) > TOLERANCE_SECONDS:
        return False
    return hmac.compare_digest(sign(secret, stamp, body), signature or "")


# -- registering -------------------------------------------------------------------------------


def register(
    session: Session,
    owner_id: int,
    url: str,
    events: list[str],
    *,
    allow_hosts: str | Iterable[str] | None = None,
) -> Webhook:
    """A new webhook of ``owner_id`` (flushed); its secret is made here and shown once.

    The URL's host is resolved and checked now (``resolve_target``); nothing connects to it.
    """
    url = url.strip()
    if len(url) > 500:
        raise WebhookError(_("The URL is longer than 500 characters."))
    events = [e for e in events if e in EVENTS]
    if not events:
        raise WebhookError(_("Choose at least one event: %(events)s", events=", ".join(EVENTS)))
    resolve_target(url, allowed_hosts(allow_hosts))
    hook = Webhook(owner_id=owner_id, url=url, secret=secrets.token_urlsafe(32), events=events)
    session.add(hook)
    session.flush()
    return hook


# -- emitting ----------------------------------------------------------------------------------


def emit(session: Session, event: str, owner_id: int, data: dict[str, Any]) -> list[int]:
    """Store a delivery for each active webhook of ``owner_id`` that takes ``event``; each
    is enqueued when ``session`` commits."""
    hooks = session.scalars(
        sa.select(Webhook).where(Webhook.owner_id == owner_id, Webhook.active.is_(True))
    )
    ids = []
    for hook in hooks:
        if event not in (hook.events or []):
            continue
        payload = json.dumps(
            {"event": event, "created_at": utcnow().isoformat() + "Z", "data": data},
            ensure_ascii=False,
            sort_keys=True,
        )
        delivery = WebhookDelivery(webhook_id=hook.id, event=event, payload=payload)
        session.add(delivery)
        session.flush()
        ids.append(delivery.id)
    if ids:
        after_commit(session, _PENDING, ids, _send_pending)
    return ids


def _send_pending(session: Session, ids: list[int]) -> None:
    from server.queue import get_huey

    huey = session.info.get("assay.huey") or get_huey()
    for delivery_id in ids:
        try:
            enqueue(huey, delivery_id)
        except Exception:  # the queue is down: the delivery row stays pending, visible
            log.exception("could not enqueue webhook delivery %s", delivery_id)


# -- the queue task ----------------------------------------------------------------------------

_factory = None


def use_sessions(factory) -> None:
    """The session factory the queue task opens (default: the environment's database)."""
    global _factory
    _factory = factory


def _sessions():
    global _factory
    if _factory is None:
        from server.config import Config
        from server.db import make_engine, make_session_factory

        _factory = make_session_factory(make_engine(Config().DATABASE_URL))
    return _factory


def register_task(huey) -> None:
    """Make ``huey`` know the delivery task (the web app enqueues it, a worker runs it)."""
    if not hasattr(huey, "assay_webhook"):
        huey.assay_webhook = huey.task(name=TASK)(_task)


def enqueue(huey, delivery_id: int, delay: float = 0) -> None:
    register_task(huey)
    if delay > 0:
        huey.assay_webhook.schedule(args=(delivery_id,), delay=delay)
    else:
        huey.enqueue(huey.assay_webhook.s(delivery_id))


def _task(delivery_id: int) -> None:
    from server.queue import get_huey

    retry_in = attempt(_sessions(), delivery_id)
    if retry_in is not None:
        enqueue(get_huey(), delivery_id, delay=retry_in)


def attempt(
    factory,
    delivery_id: int,
    now: float | None = None,
    allow_hosts: str | Iterable[str] | None = None,
) -> float | None:
    """Try one delivery once and log the outcome; seconds until the next try, or None."""
    with factory() as session:
        delivery = session.get(WebhookDelivery, delivery_id)
        if delivery is None or delivery.status != "pending":
            return None
        hook = session.get(Webhook, delivery.webhook_id)
        stamp = int(now or time.time())
        body = delivery.payload.encode()
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "Assay-Webhook/1",
            "X-Assay-Event": delivery.event,
            "X-Assay-Delivery": str(delivery.id),
            "X-Assay-Timestamp": str(stamp),
            "X-Assay-Signature": sign(hook.secret, stamp, body),
        }
        outcome = post(hook.url, body, headers, allowed_hosts(allow_hosts))
        delivery.attempts += 1
        # Only the class is kept (rule 4): 2xx -> 200, 4xx -> 400, ...; None if unreachable.
        delivery.last_status_code = int(outcome[0]) * 100 if outcome[0].isdigit() else None
        ok = outcome == "2xx"
        retry_in = None
        if ok:
            delivery.status, delivery.delivered_at = "delivered", utcnow()
        elif delivery.attempts >= MAX_TRIES:
            delivery.status = "failed"
            outcome += f"; gave up after {delivery.attempts} tries"
        else:
            retry_in = BACKOFF_SECONDS * 2 ** (delivery.attempts - 1)
            outcome += f"; next try in {retry_in:g}s"
        line = f"{utcnow().isoformat(timespec='seconds')} try {delivery.attempts}: {outcome}"
        delivery.log = (delivery.log + "\n" + line).strip()
        session.commit()
        return retry_in


def post(url: str, body: bytes, headers: dict[str, str], allow: frozenset[str]) -> str:
    """POST ``body`` to ``url`` at its checked address; the answer's status class only:
    ``"2xx"`` to ``"5xx"``, ``"unreachable"``, or ``"refused: internal address"``."""
    try:
        host, port, address = resolve_target(url, allow)
    except TargetRefused:
        return "refused: internal address"
    except WebhookError:
        return "unreachable"
    parts = urlsplit(url)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    if parts.scheme == "https":
        conn = _PinnedHTTPSConnection(host, port, address, timeout=TIMEOUT_SECONDS)
    else:
        conn = _PinnedHTTPConnection(host, port, address, timeout=TIMEOUT_SECONDS)
    try:
        conn.request("POST", path, body=body, headers=headers)
        status = conn.getresponse().status  # the body is never read
    except (OSError, http.client.HTTPException):
        return "unreachable"
    finally:
        conn.close()
    return f"{status // 100}xx" if 100 <= status < 600 else "unreachable"


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """Connects to ``address`` (the one ``resolve_target`` checked) while the Host header
    names ``host``: no second DNS lookup between the check and the connection."""

    def __init__(self, host: str, port: int, address: str, **kwargs):
        super().__init__(host, port, **kwargs)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """The TLS twin: the socket goes to the checked address, the certificate is verified
    against the host name (SNI too)."""

    def __init__(self, host: str, port: int, address: str, **kwargs):
        super().__init__(host, port, context=ssl.create_default_context(), **kwargs)
        self._address = address

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


def deliveries(session: Session, owner_id: int, limit: int = 50) -> list[WebhookDelivery]:
    return list(
        session.scalars(
            sa.select(WebhookDelivery)
            .join(Webhook, Webhook.id == WebhookDelivery.webhook_id)
            .where(Webhook.owner_id == owner_id)
            .order_by(WebhookDelivery.id.desc())
            .limit(limit)
        )
    )


# -- events ------------------------------------------------------------------------------------


def graded_hook(factory):
    """A worker's ``on_finished``: emit "submission.graded" to the assessment's recruiter."""

    def on_finished(grading_id: int) -> None:
        from server.models import Grading, Invitation

        with factory() as session:
            grading = session.get(Grading, grading_id)
            submission = grading.submission
            if submission.invitation_id is None:
                return
            invitation = session.get(Invitation, submission.invitation_id)
            emit(
                session,
                "submission.graded",
                invitation.assessment.owner_id,
                graded_payload(grading, invitation),
            )
            session.commit()

    return on_finished


def graded_payload(grading, invitation) -> dict[str, Any]:
    """Ids and outcome only: the receiver fetches the report through the API (no names)."""
    return {
        "assessment_id": invitation.assessment_id,
        "invitation_id": invitation.id,
        "submission_id": grading.submission_id,
        "grading_id": grading.id,
        "challenge": grading.submission.challenge_slug,
        "status": grading.status,
        "passed": grading.passed,
        # A flagged pass is not a clean pass (graders.verdicts): the receiver sees which.
        "verdict": grading.outcome.key,
        "verdict_text": grading.outcome.text(),
        "review_reasons": list(grading.outcome.reasons),
    }
