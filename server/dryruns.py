"""An upload's dry run: queued -> running (under a lease) -> passed | failed, then the grading.

The rules (the same shape as ``server/leases.py``'s, each one conditional UPDATE):

1. **Every upload** gets a ``DryRun`` row, queued on the dry runs' own queue once the upload
   commits (``queue_dry_run``); no grading is queued yet.
2. **Claim.** ``queued -> running`` only if still queued and tries remain; the lane holds a
   lease (owner token, expiry) for the dry run's wall limit plus slack.
3. **Steps.** Each sandbox step that passes is appended to ``steps_json`` while the lease
   holds: the candidate's page shows it turn green.
4. **Finish, fenced.** A dry run that passes queues the grading with the stored options. One
   that fails on the candidate's code (the catalogue's ``audience == "candidate"``) clears
   the submission's ``counts_as_attempt`` and queues nothing: the candidate sees the step and
   the fix, and uploads again. A platform failure is no verdict on the code: the grading is
   queued as if it had passed (the grading's own retries then apply).
5. **Expiry.** A running dry run whose lease expired (the lane's process died) is put back
   while tries remain; then it counts as a platform failure (rule 4).
6. **Messages** are only wake-up calls; the lane's sweep re-sends a message for a queued dry
   run that has none.
"""

from __future__ import annotations

import json
import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from graders.contract import STEPS, Outcome, is_candidate_code
from graders.options import OptionsError, dumps_options, loads_options
from graders.pipeline import GradeOptions
from server.db import after_commit
from server.grading import enqueue_submission
from server.leases import worker_id
from server.models.base import utcnow
from server.models.dryruns import DRY_FAILED, DRY_PASSED, DRY_QUEUED, DRY_RUNNING, DryRun
from server.models.grading import Submission
from server.models.invitations import Invitation
from server.split_secrets import secret_for
from server.summary.changes import touch_submission

log = logging.getLogger(__name__)

_PENDING = "assay.dry_runs"  # session.info key: dry run ids to enqueue after commit
_HUEY = "assay.dry_run_huey"  # session.info key: the dry runs' Huey (default: the environment's)


# -- web side ------------------------------------------------------------------------------------


def queue_dry_run(session: Session, submission: Submission, options: GradeOptions) -> DryRun:
    """A queued dry run of ``submission`` (rule 1); enqueued once the caller commits.

    ``options`` are the grading's, checked and kept for rule 4 (``graders.options``).
    """
    row = DryRun(
        submission=submission,
        status=DRY_QUEUED,
        options_json=dumps_options(options),
        queued_at=utcnow(),
    )
    session.add(row)
    session.flush()
    _enqueue_after_commit(session, row.id)
    return row


def _enqueue_after_commit(session: Session, dry_run_id: int) -> None:
    after_commit(session, _PENDING, [dry_run_id], _send_pending)


def _send_pending(session: Session, ids: list[int]) -> None:
    from server.queue import enqueue_dry_run, get_dry_run_huey

    huey = session.info.get(_HUEY) or get_dry_run_huey()
    for dry_run_id in ids:
        try:
            enqueue_dry_run(huey, dry_run_id)
        except Exception:  # the queue is down: the lane's sweep re-sends it (rule 6)
            log.exception("could not enqueue dry run %s; the sweep will", dry_run_id)


def use_queue(factory, huey) -> None:
    """Make the sessions of ``factory`` enqueue dry runs on ``huey``."""
    info = dict(factory.kw.get("info") or {})
    info[_HUEY] = huey
    factory.configure(info=info)


@dataclass
class DryRunView:
    """What the candidate's and the reviewer's pages show of one dry run."""

    status: str
    steps: list[tuple[str, str]] = field(default_factory=list)  # (step, ok|failed|skipped|wait)
    code: str = ""
    message: str = ""
    log_tail: str = ""
    queued_at: datetime | None = None
    wall_seconds: float | None = None
    sandbox: str = ""

    @property
    def failed_step(self) -> str:
        return next((name for name, state in self.steps if state == "failed"), "")


def view(row: DryRun | None) -> DryRunView | None:
    """The dry run as pages show it: final steps once finished, else those passed so far."""
    if row is None:
        return None
    result = _loads(row.result_json)
    if result:
        outcome = Outcome.from_dict(result.get("outcome") or {})
        return DryRunView(
            status=row.status,
            steps=[(s.name, s.status) for s in outcome.steps],
            code=outcome.code,
            message=outcome.message,
            log_tail=str(result.get("log_tail") or "")[-4000:],
            queued_at=row.queued_at,
            wall_seconds=result.get("wall_seconds"),
            sandbox=str(result.get("sandbox") or ""),
        )
    done = _loads_list(row.steps_json)
    return DryRunView(
        status=row.status,
        steps=[(name, "ok" if name in done else "wait") for name in STEPS],
        queued_at=row.queued_at,
    )


def _loads(text: str | None) -> dict:
    try:
        value = json.loads(text or "")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _loads_list(text: str | None) -> list[str]:
    try:
        value = json.loads(text or "[]")
    except ValueError:
        return []
    return [str(v) for v in value] if isinstance(value, list) else []


# -- the lane's side -----------------------------------------------------------------------------


@dataclass(frozen=True)
class DryClaim:
    """A dry run the lane holds: its lease token and what to check."""

    dry_run_id: int
    owner: str
    tries: int
    submission_id: int
    challenge: str
    filename: str
    source: bytes = field(repr=False)
    tier: str | None = None
    #: The assessment's split secret: the slice comes from its train rows only.
    split_seed: str | None = field(default=None, repr=False)


def _fenced(claim: DryClaim):
    return sa.and_(
        DryRun.id == claim.dry_run_id,
        DryRun.status == DRY_RUNNING,
        DryRun.lease_owner == claim.owner,
    )


def _update(session: Session, where, **values) -> bool:
    result = session.execute(
        sa.update(DryRun).where(where).values(**values).execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def claim(session: Session, dry_run_id: int, lease_seconds: float, now=None) -> DryClaim | None:
    """Take ``dry_run_id`` if still queued (rule 2); None when another lane has it."""
    now = now or utcnow()
    owner = f"{worker_id()}/dry/{uuid.uuid4().hex[:12]}"
    won = _update(
        session,
        sa.and_(
            DryRun.id == dry_run_id, DryRun.status == DRY_QUEUED, DryRun.tries < DryRun.max_tries
        ),
        status=DRY_RUNNING,
        tries=DryRun.tries + 1,
        lease_owner=owner,
        lease_expires_at=now + timedelta(seconds=lease_seconds),
        started_at=now,
        steps_json="[]",
    )
    if not won:
        session.rollback()
        return None
    row = session.get(DryRun, dry_run_id, populate_existing=True)
    sub = row.submission
    invitation = session.get(Invitation, sub.invitation_id) if sub.invitation_id else None
    split_seed = secret_for(session, invitation.assessment_id) if invitation else None
    session.commit()
    return DryClaim(
        dry_run_id=dry_run_id,
        owner=owner,
        tries=row.tries,
        submission_id=sub.id,
        challenge=sub.challenge_slug,
        filename=sub.filename,
        source=sub.source,
        tier=_loads(row.options_json).get("tier"),
        split_seed=split_seed,
    )


def record_step(session: Session, claim: DryClaim, step: str) -> bool:
    """Append a passed step (rule 3), only while ``claim`` holds the lease."""
    row = session.scalar(sa.select(DryRun).where(_fenced(claim)))
    if row is None:
        session.rollback()
        return False
    done = _loads_list(row.steps_json)
    if step not in done:
        done.append(step)
    written = _update(session, _fenced(claim), steps_json=json.dumps(done))
    session.commit()
    return written


def finish(session: Session, claim: DryClaim, result, now=None) -> str:
    """Store ``result`` (a ``graders.dryrun.DryRun``), fenced; then rule 4. Returns
    ``"passed"``, ``"failed"`` (no grading, no attempt used), ``"platform"`` (no verdict: a
    failure on our side or a timeout; graded anyway)
    or ``"dropped"`` (the lease was lost)."""
    now = now or utcnow()
    outcome = result.outcome
    status = DRY_PASSED if outcome.passed else DRY_FAILED
    won = _update(
        session,
        _fenced(claim),
        status=status,
        result_json=json.dumps(result.to_dict(), ensure_ascii=False),
        error_code=outcome.code or None,
        finished_at=now,
        lease_owner=None,
        lease_expires_at=None,
    )
    if not won:
        session.rollback()
        log.warning("dry run %s: lease lost, result dropped", claim.dry_run_id)
        return "dropped"
    return _after(session, claim.dry_run_id, claim.submission_id, outcome.code)


def is_verdict(code: str) -> bool:
    """Whether a dry run's failure ``code`` stops the upload (rule 4).

    A timeout is not: on 48 examples and one step it means a loaded machine as often as slow
    code (measured: a cold start under a load of 18 on two cores took the whole 90 s), and the
    grading has its own, longer limit that decides.
    """
    return bool(code) and is_candidate_code(code) and code not in INCONCLUSIVE


#: Candidate-side codes of a dry run that do not stop the upload (``is_verdict``).
INCONCLUSIVE = frozenset({"timeout"})


def _after(session: Session, dry_run_id: int, submission_id: int, code: str) -> str:
    submission = session.get(Submission, submission_id)
    if is_verdict(code):
        submission.counts_as_attempt = False
        touch_submission(session, submission_id)
        session.commit()
        return "failed"
    row = session.get(DryRun, dry_run_id)
    try:
        options = loads_options(row.options_json)
    except OptionsError as exc:
        # Kept before options were checked (an unknown key): the grading is queued with the
        # options as they were stored, so its claim refuses it with this note, spending no
        # attempt, as it does a grading of that time; raising here would undo the result and
        # fail every later sweep on the same row.
        log.error("dry run %s: %s; its grading will be refused", dry_run_id, exc)
        grading = enqueue_submission(session, submission, GradeOptions())
        grading.options_json = row.options_json
    else:
        enqueue_submission(session, submission, options)
    session.commit()
    return "platform" if code else "passed"


def requeue_expired(session: Session, now=None) -> dict[str, list[int]]:
    """Put back dry runs whose lease expired (rule 5); out of tries, grade them anyway."""
    now = now or utcnow()
    done: dict[str, list[int]] = {"requeued": [], "graded anyway": []}
    expired = session.execute(
        sa.select(DryRun.id, DryRun.lease_owner, DryRun.tries, DryRun.max_tries).where(
            DryRun.status == DRY_RUNNING, DryRun.lease_expires_at < now
        )
    ).all()
    session.rollback()
    for dry_run_id, owner, tries, max_tries in expired:
        still = sa.and_(
            DryRun.id == dry_run_id,
            DryRun.status == DRY_RUNNING,
            DryRun.lease_owner == owner,
            DryRun.lease_expires_at < now,
        )
        if tries < max_tries:
            if _update(session, still, status=DRY_QUEUED, lease_owner=None, queued_at=now):
                session.commit()
                _enqueue_after_commit(session, dry_run_id)
                session.commit()
                done["requeued"].append(dry_run_id)
            else:
                session.rollback()
            continue
        note = json.dumps(_expired_result(tries))
        if _update(
            session,
            still,
            status=DRY_FAILED,
            result_json=note,
            error_code="platform_error",
            finished_at=now,
            lease_owner=None,
            lease_expires_at=None,
        ):
            submission_id = session.get(DryRun, dry_run_id).submission_id
            _after(session, dry_run_id, submission_id, "platform_error")
            done["graded anyway"].append(dry_run_id)
        else:
            session.rollback()
    return done


def _expired_result(tries: int) -> dict:
    message = f"the dry run's worker stopped {tries} time(s); the submission is graded anyway"
    return {"outcome": {"steps": [], "code": "platform_error", "message": message}}


def lost_messages(session: Session, pending: set[int], older_than: float, now=None) -> list[int]:
    """Queued dry runs with no message on the queue, queued over ``older_than`` s ago (rule 6)."""
    now = now or utcnow()
    queued = session.scalars(
        sa.select(DryRun.id).where(
            DryRun.status == DRY_QUEUED, DryRun.queued_at < now - timedelta(seconds=older_than)
        )
    ).all()
    session.rollback()
    return [i for i in queued if i not in pending]
