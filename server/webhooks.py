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
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
import time
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa
from sqlalchemy.orm import Session

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


def register(session: Session, owner_id: int, url: str, events: list[str]) -> Webhook:
    """A new webhook of ``owner_id`` (flushed); its secret is made here and shown once."""
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise WebhookError("the URL must start with http:// or https:// and name a host")
    events = [e for e in events if e in EVENTS]
    if not events:
        raise WebhookError(f"choose at least one event: {', '.join(EVENTS)}")
    hook = Webhook(
        owner_id=owner_id, url=url[:500], secret=secrets.token_urlsafe(32), events=events
    )
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
        pending = session.info.setdefault(_PENDING, [])
        if not session.info.get(_PENDING + ".hooked"):
            sa.event.listen(session, "after_commit", _send_pending)
            sa.event.listen(session, "after_soft_rollback", _drop_pending)
            session.info[_PENDING + ".hooked"] = True
        pending.extend(ids)
    return ids


def _send_pending(session: Session) -> None:
    ids, session.info[_PENDING] = session.info.get(_PENDING, []), []
    if not ids:
        return
    from server.queue import get_huey

    huey = session.info.get("assay.huey") or get_huey()
    for delivery_id in ids:
        try:
            enqueue(huey, delivery_id)
        except Exception:  # the queue is down: the delivery row stays pending, visible
            log.exception("could not enqueue webhook delivery %s", delivery_id)


def _drop_pending(session: Session, _previous) -> None:
    session.info[_PENDING] = []


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


def attempt(factory, delivery_id: int, now: float | None = None) -> float | None:
    """Try one delivery once and log the outcome; seconds until the next try, or None."""
    with factory() as session:
        delivery = session.get(WebhookDelivery, delivery_id)
        if delivery is None or delivery.status != "pending":
            return None
        hook = session.get(Webhook, delivery.webhook_id)
        stamp = int(now or time.time())
        body = delivery.payload.encode()
        request = urllib.request.Request(
            hook.url,
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/json",
                "User-Agent": "Assay-Webhook/1",
                "X-Assay-Event": delivery.event,
                "X-Assay-Delivery": str(delivery.id),
                "X-Assay-Timestamp": str(stamp),
                "X-Assay-Signature": sign(hook.secret, stamp, body),
            },
        )
        code, error = None, ""
        try:
            with _opener().open(request, timeout=TIMEOUT_SECONDS) as answer:
                code = answer.status
        except urllib.error.HTTPError as exc:
            code = exc.code
        except (urllib.error.URLError, OSError) as exc:
            error = str(getattr(exc, "reason", exc))[:200]
        delivery.attempts += 1
        delivery.last_status_code = code
        ok = code is not None and 200 <= code < 300
        outcome = f"HTTP {code}" if code is not None else f"error: {error}"
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


def _opener():
    # No redirects: a receiver could bounce the signed body to another host.
    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    return urllib.request.build_opener(NoRedirect)


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
