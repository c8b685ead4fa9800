"""Submissions to the same challenge compared with each other (copydetect's winnowing).

Each candidate's latest submission to a challenge is fingerprinted with copydetect, the
challenge's starter file given as boilerplate: code every candidate was handed is never
evidence of copying. A pair whose overlap is at least :data:`THRESHOLD` of either file is
flagged on both reports, with a side-by-side view of the shared passages. A flag is for a
reviewer to read, never a verdict: nothing is rejected automatically.

Only submissions of the same assessment are compared: a reviewer must never see the code of
another team's candidate.
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass
from functools import lru_cache

import nbformat
from copydetect import CodeFingerprint, compare_files

from graders.challenges import get_challenge

log = logging.getLogger(__name__)

#: copydetect's defaults: noise threshold 25 tokens, guarantee threshold 30.
K, WINDOW = 25, 6
#: Share of a file found in the other that flags the pair.
THRESHOLD = 0.5


@dataclass(frozen=True)
class Match:
    """Two submissions that share code; ``share_a`` of a's tokens are found in b, and so on."""

    a: int
    b: int
    share_a: float
    share_b: float
    slices_a: tuple[tuple[int, int], ...]
    slices_b: tuple[tuple[int, int], ...]

    @property
    def share(self) -> float:
        return max(self.share_a, self.share_b)


def code_of(filename: str, source: bytes) -> str:
    """The Python a submission runs: a notebook's code cells, or the file itself."""
    text = source.decode("utf-8-sig", errors="replace")
    if filename.endswith(".ipynb"):
        try:
            notebook = nbformat.reads(text, as_version=4)
        except Exception:  # unreadable notebooks failed grading; compare the raw text
            return text
        return "\n\n".join(c.source for c in notebook.cells if c.cell_type == "code")
    return text


@lru_cache(maxsize=16)
def _boilerplate(slug: str) -> tuple:
    try:
        challenge = get_challenge(slug)
        starter = challenge.path(challenge.spec.starter).read_text(encoding="utf-8")
    except Exception:  # no starter: nothing is boilerplate
        return ()
    return tuple(_fingerprint(starter, ()).hashes)


# Large enough for every latest submission of a 10,000-candidate assessment: a smaller
# cache is emptied by each check (it walks them all in order) and fingerprints every time.
@lru_cache(maxsize=16384)
def _cached(code: str, slug: str) -> CodeFingerprint:
    return _fingerprint(code, _boilerplate(slug))


def _fingerprint(code: str, boilerplate) -> CodeFingerprint:
    return CodeFingerprint(
        "solution.py", K, WINDOW, boilerplate=list(boilerplate), language="py", fp=io.StringIO(code)
    )


def compare(slug: str, codes: dict[int, str], threshold: float = THRESHOLD) -> list[Match]:
    """Every pair of ``codes`` (submission id -> code) over ``threshold``, biggest first."""
    prints = {sid: _cached(code, slug) for sid, code in codes.items()}
    ids = sorted(prints)
    matches = []
    for i, a in enumerate(ids):
        for b in ids[i + 1 :]:
            _tokens, (share_a, share_b), (slices_a, slices_b) = compare_files(prints[a], prints[b])
            if max(share_a, share_b) >= threshold:
                matches.append(
                    Match(a, b, float(share_a), float(share_b), _pairs(slices_a), _pairs(slices_b))
                )
    return sorted(matches, key=lambda m: -m.share)


def matches_for(
    slug: str, target: int, codes: dict[int, str], threshold: float = THRESHOLD
) -> list[Match]:
    """The pairs of ``target`` with each other submission in ``codes`` over ``threshold``."""
    mine = _cached(codes[target], slug)
    mine_set = _hash_set(mine)
    matches = []
    for other, code in codes.items():
        if other == target:
            continue
        theirs = _cached(code, slug)
        # The share of fingerprints in common tracks the share of code in common: a pair
        # with under half the threshold's worth is skipped before copydetect's comparison.
        common = len(mine_set & _hash_set(theirs))
        smaller = min(len(mine_set), len(_hash_set(theirs)))
        if threshold > 0 and common < threshold * smaller / 2:
            continue
        _tokens, (share_a, share_b), (slices_a, slices_b) = compare_files(mine, theirs)
        if max(share_a, share_b) >= threshold:
            matches.append(
                Match(
                    target,
                    other,
                    float(share_a),
                    float(share_b),
                    _pairs(slices_a),
                    _pairs(slices_b),
                )
            )
    return sorted(matches, key=lambda m: -m.share)


def _hash_set(fingerprint: CodeFingerprint) -> frozenset:
    cached = getattr(fingerprint, "_assay_set", None)
    if cached is None:
        cached = frozenset(int(h) for h in fingerprint.hashes)
        fingerprint._assay_set = cached
    return cached


def _pairs(slices) -> tuple[tuple[int, int], ...]:
    if len(slices) != 2 or len(slices[0]) == 0:
        return ()
    return tuple((int(s), int(e)) for s, e in zip(slices[0], slices[1], strict=True))


def segments(code: str, slices: tuple[tuple[int, int], ...]) -> list[tuple[str, bool]]:
    """``code`` cut into (text, shared) pieces for the side-by-side view."""
    pieces, at = [], 0
    for start, end in sorted(slices):
        start, end = max(start, at), min(end, len(code))
        if start >= end:
            continue
        if start > at:
            pieces.append((code[at:start], False))
        pieces.append((code[start:end], True))
        at = end
    if at < len(code):
        pieces.append((code[at:], False))
    return pieces


# -- stored flags --------------------------------------------------------------------------------
# Comparing one submission with every other one costs seconds at 10,000 candidates, so it is
# done once per submission, after its grading (the worker), and stored in both directions:
# a report reads its flags with one indexed query.


def comparable(session, submission) -> dict:
    """The latest submission of each candidate of the same assessment to the same challenge
    (this one for its own candidate), by id."""
    import sqlalchemy as sa

    from server.models import Invitation, Submission

    invitation = session.get(Invitation, submission.invitation_id)
    rows = session.scalars(
        sa.select(Submission)
        .join(Invitation, Invitation.id == Submission.invitation_id)
        .where(
            Invitation.assessment_id == invitation.assessment_id,
            Submission.challenge_slug == submission.challenge_slug,
        )
        .order_by(Submission.id)
    )
    latest: dict[int, Submission] = {}
    for row in rows:
        latest[row.invitation_id] = row
    latest[submission.invitation_id] = submission
    return {row.id: row for row in latest.values()}


def check(session, submission) -> list[Match]:
    """Compare ``submission`` with the latest submission of each other candidate of its
    assessment to the same challenge, and store the flagged pairs (both directions) and that
    it was checked. Safe to call again: its pairs are replaced. The caller commits."""
    import sqlalchemy as sa

    from server.models import SimilarityCheck, SimilarityPair

    pool = comparable(session, submission)
    codes = {sid: code_of(s.filename, s.source) for sid, s in pool.items()}
    found = matches_for(submission.challenge_slug, submission.id, codes)
    session.execute(
        sa.delete(SimilarityPair).where(
            sa.or_(
                SimilarityPair.submission_id == submission.id,
                SimilarityPair.other_id == submission.id,
            )
        )
    )
    session.add_all(
        SimilarityPair(
            submission_id=a, other_id=b, share_mine=mine, share_theirs=theirs, share=m.share
        )
        for m in found
        for a, b, mine, theirs in (
            (m.a, m.b, m.share_a, m.share_b),
            (m.b, m.a, m.share_b, m.share_a),
        )
    )
    if session.get(SimilarityCheck, submission.id) is None:
        session.add(SimilarityCheck(submission_id=submission.id))
    session.flush()
    return found


def flags(session, submission, limit: int | None = None) -> list[tuple[Match, int]]:
    """Stored flags of ``submission``, biggest first, as (match, other's invitation id); only
    pairs whose other submission is still its candidate's latest to this challenge.

    Reads only: a submission never checked (graded before flags were stored, or its worker
    died before the step) is checked by a worker's ``backfill``, never by a page view, since
    the first check of a process fingerprints the whole assessment (tens of seconds at
    10,000 candidates, past gunicorn's worker timeout). See ``checked``."""
    import sqlalchemy as sa
    from sqlalchemy.orm import aliased

    from server.models import SimilarityPair, Submission

    other = aliased(Submission)
    newer = aliased(Submission)
    rows = session.execute(
        sa.select(SimilarityPair, other.invitation_id)
        .join(other, other.id == SimilarityPair.other_id)
        .where(
            SimilarityPair.submission_id == submission.id,
            other.invitation_id != submission.invitation_id,
            ~sa.exists().where(
                newer.invitation_id == other.invitation_id,
                newer.challenge_slug == other.challenge_slug,
                newer.id > other.id,
            ),
        )
        # Walks the (submission, share, other) index backwards and stops at ``limit``: ties
        # come newest first, and thousands of alike pairs are never sorted.
        .order_by(SimilarityPair.share.desc(), SimilarityPair.other_id.desc())
        .limit(limit)
    ).all()
    return [
        (Match(p.submission_id, p.other_id, p.share_mine, p.share_theirs, (), ()), invitation_id)
        for p, invitation_id in rows
    ]


def checked(session, submission) -> bool:
    """Whether ``submission`` was compared with the others (its flags, if any, are stored)."""
    from server.models import SimilarityCheck

    return session.get(SimilarityCheck, submission.id) is not None


#: How often a worker looks for submissions never checked, and how many it checks a round.
BACKFILL_EVERY_SECONDS = 60.0
BACKFILL_BATCH = 20


def backfill(session, limit: int = BACKFILL_BATCH) -> list[int]:
    """Check up to ``limit`` finished submissions of candidates that were never checked,
    newest first (the ones a reviewer is likeliest to open); returns their ids."""
    import sqlalchemy as sa

    from server.models import Grading, SimilarityCheck, Submission

    finished = sa.exists().where(
        Grading.submission_id == Submission.id, Grading.status.in_(("graded", "failed"))
    )
    never = ~sa.exists().where(SimilarityCheck.submission_id == Submission.id)
    ids = session.scalars(
        sa.select(Submission.id)
        .where(Submission.invitation_id.is_not(None), finished, never)
        .order_by(Submission.id.desc())
        .limit(limit)
    ).all()
    for submission_id in ids:
        check(session, session.get(Submission, submission_id))
        session.commit()
    return list(ids)


def start_thread(factory, every: float = BACKFILL_EVERY_SECONDS, stop=None):
    """Run ``backfill`` every ``every`` seconds on a daemon thread (a worker's)."""
    from server import periodic

    def round_() -> None:
        with factory() as session:
            done = backfill(session)
        if done:
            log.info("similarity: checked %d submission(s) never checked before", len(done))

    return periodic.every(every, "similarity backfill", round_, stop)


def after_grading(factory):
    """A worker's after-grading step: check the graded submission's similarity once (a
    re-grade of the same code keeps its flags)."""

    def step(grading_id: int) -> None:
        from server.models import Grading, SimilarityCheck

        with factory() as session:
            submission = session.get(Grading, grading_id).submission
            if submission.invitation_id is None:
                return
            if session.get(SimilarityCheck, submission.id) is None:
                check(session, submission)
                session.commit()

    return step
