"""Writing the summaries: a candidate's row built (``rows.build_rows``) and stored, and the
rows an assessment's invitations lack made on its first table view."""

from __future__ import annotations

import dataclasses
import json
from collections import defaultdict

import sqlalchemy as sa
from sqlalchemy.orm import Session

from server.models import Assessment, CandidateSummary, Invitation
from server.reviewing.numbers import label_key
from server.summary.rows import build_rows

_BATCH = 500


def refresh(session: Session, invitation_ids) -> None:
    """Recompute the summaries of ``invitation_ids`` (those still there)."""
    ids = sorted(set(invitation_ids))
    by_assessment: dict[int, list[int]] = defaultdict(list)
    for start in range(0, len(ids), _BATCH):
        part = ids[start : start + _BATCH]
        for iid, aid in session.execute(
            sa.select(Invitation.id, Invitation.assessment_id).where(Invitation.id.in_(part))
        ):
            by_assessment[aid].append(iid)
    for assessment_id, mine in by_assessment.items():
        assessment = session.get(Assessment, assessment_id)
        for start in range(0, len(mine), _BATCH):
            part = mine[start : start + _BATCH]
            rows = build_rows(session, assessment, part, user=None)
            session.execute(
                sa.delete(CandidateSummary).where(CandidateSummary.invitation_id.in_(part))
            )
            session.execute(
                sa.insert(CandidateSummary),
                [
                    {
                        "invitation_id": r.invitation_id,
                        "assessment_id": assessment_id,
                        "number": r.who.number,
                        "name_key": r.who.label.lower(),
                        "label_key": label_key(r.who.number),
                        "outcome": r.outcome,
                        "headline": r.headline,
                        "attempts": r.attempts,
                        "minutes_used": r.minutes_used,
                        "decision": r.decision,
                        "theory_total": r.theory[0] if r.theory else None,
                        "theory_max": r.theory[1] if r.theory else None,
                        "theory_confirmed": r.theory_confirmed,
                        "stage": r.stage,
                        "ends_at": r.ends_at,
                        "cells_json": json.dumps([dataclasses.asdict(c) for c in r.cells]),
                    }
                    for r in rows
                ],
            )


def ensure(session: Session, assessment: Assessment, summarised: int | None = None) -> bool:
    """Make the summaries the assessment's invitations lack; whether it made any. Two counts
    when none lack one (a summary outlives no invitation: its foreign key cascades), one when
    the caller counted the summaries (``summarised``)."""
    invited = session.scalar(
        sa.select(sa.func.count()).where(Invitation.assessment_id == assessment.id)
    )
    if summarised is None:
        summarised = session.scalar(
            sa.select(sa.func.count()).where(CandidateSummary.assessment_id == assessment.id)
        )
    if invited == summarised:
        return False
    missing = list(
        session.scalars(
            sa.select(Invitation.id)
            .outerjoin(CandidateSummary, CandidateSummary.invitation_id == Invitation.id)
            .where(
                Invitation.assessment_id == assessment.id,
                CandidateSummary.invitation_id.is_(None),
            )
        )
    )
    if missing:
        refresh(session, missing)
        session.commit()
    return bool(missing)
