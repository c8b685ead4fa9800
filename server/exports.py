"""Exports of one assessment: CSV (one row per candidate) and JSON (the full reports).

Both go through the same identity as the pages: a blind reviewer's export names
"Candidate 7", never the name or email.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from sqlalchemy.orm import Session

from graders.challenges import get_challenge
from server import concept_checks
from server.models import Assessment, Grading, Invitation, Submission, User
from server.reviewing import blind_review, marking, theory_scores
from server.reviewing.numbers import candidate_numbers
from server.summary.rows import latest_decisions
from server.summary.table import candidates_table


def _metric_names(slug: str) -> list[str]:
    try:
        return list(get_challenge(slug).spec.metrics)
    except Exception:  # a challenge removed since: its column list is empty
        return []


def _latest_by_challenge(invitation: Invitation) -> dict[str, Submission]:
    latest: dict[str, Submission] = {}
    for submission in invitation.submissions:
        latest[submission.challenge_slug] = submission
    return latest


def candidates_csv(session: Session, user: User, assessment: Assessment) -> str:
    """One row per candidate; a column per challenge metric and per theory question."""
    slugs = assessment.challenge_slugs
    questions = list(assessment.theory_question_ids or [])
    metrics = {slug: _metric_names(slug) for slug in slugs}
    header = ["candidate", "email", "state", "decision", "attempts"]
    for slug in slugs:
        header += [f"{slug}:status", f"{slug}:passed", f"{slug}:verdict"]
        header += [f"{slug}:{metric}" for metric in metrics[slug]]
    header += [f"theory:{qid}" for qid in questions]
    header += [f"theory:{qid}:marked_by" for qid in questions] + ["theory:total", "theory:max"]
    # The concept checks' exact score, in columns of their own beside the theory answers.
    header += [f"checks:{qid}" for qid in questions] + ["checks:correct", "checks:total"]
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    table = candidates_table(session, user, assessment, per_page=10**9)
    checks = concept_checks.totals(session, questions, [row.invitation_id for row in table.rows])
    invitations = {
        i.id: i for i in session.query(Invitation).filter_by(assessment_id=assessment.id)
    }
    for row in table.rows:
        invitation = invitations[row.invitation_id]
        line = [row.who.label, row.who.email or "", row.state, row.decision or "", row.attempts]
        latest = _latest_by_challenge(invitation)
        for slug in slugs:
            grading = latest[slug].latest if slug in latest else None
            report = grading.report if grading else None
            test = report.test if report is not None else None
            values = {m.name: m.value for m in test.metrics} if test is not None else {}
            line += [
                grading.status if grading else "",
                _yes_no(grading.passed if grading else None),
                grading.outcome.text()
                if grading and grading.status in ("graded", "failed")
                else "",
            ]
            line += [_number(values.get(metric)) for metric in metrics[slug]]
        # Reviewers' scores only (the machine's reading is not a grade): "to review" until
        # the answer's marking is complete (two markings where the assessment asks for two).
        scores, _markings = theory_scores.answer_scores(session, invitation)
        for qid in questions:
            if qid not in scores:
                line.append("")
            elif scores[qid].score is None:
                line.append("to review")
            else:
                line.append(_number(scores[qid].score))
        for qid in questions:
            line.append(", ".join(scores[qid].by) if qid in scores else "")
        total = row.theory
        line += [
            _number(total[0]) if total and total[0] is not None else "",
            _number(total[1]) if total else "",
        ]
        scored = checks[row.invitation_id]
        line += [f"{item.correct}/{item.total}" for item in scored.per_question]
        line += [scored.correct, scored.total]
        writer.writerow([_cell(value) for value in line])
    return out.getvalue()


def _cell(value: Any) -> Any:
    # A spreadsheet runs a cell that starts with = + - @ as a formula: quote it.
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def _yes_no(value: bool | None) -> str:
    return "" if value is None else ("yes" if value else "no")


def _number(value: float | None) -> str:
    return "" if value is None else f"{value:.4f}"


def submission_record(submission: Submission, grading: Grading | None, who) -> dict[str, Any]:
    """One submission as JSON: the candidate as the reader may see them, and its report."""
    return {
        "candidate": {"label": who.label, "name": who.name, "email": who.email},
        "submission": {
            "id": submission.id,
            "challenge": submission.challenge_slug,
            "filename": submission.filename,
            "sha256": submission.sha256,
            "created_at": submission.created_at.isoformat(),
        },
        "grading": None
        if grading is None
        else {
            "id": grading.id,
            "status": grading.status,
            "passed": grading.passed,
            **grading.outcome.to_dict(),
            "finished_at": grading.finished_at.isoformat() if grading.finished_at else None,
        },
        "report": grading.report.to_dict() if grading and grading.report else None,
    }


def full_reports(session: Session, user: User, assessment: Assessment) -> dict[str, Any]:
    """Every candidate of ``assessment`` with every submission's latest report."""
    numbers = candidate_numbers(session, assessment.id)
    people = []
    for invitation in session.query(Invitation).filter_by(assessment_id=assessment.id):
        who = blind_review.identity(session, user, invitation, numbers[invitation.id])
        decision = latest_decisions(session, [invitation.id]).get(invitation.id)
        scores, markings = theory_scores.answer_scores(session, invitation)
        double = bool(assessment.double_review)
        people.append(
            {
                "candidate": {"label": who.label, "name": who.name, "email": who.email},
                "decision": decision.decision if decision else None,
                "concept_checks": concept_checks.score(invitation).to_dict(),
                # Reviewers' scores of the submitted answers; the machine's reading is no grade.
                "theory": [
                    {
                        "question": qid,
                        "state": result.state,
                        "score": result.score,
                        "max_score": result.max_score,
                        "marked_by": result.by,
                        # Each reviewer's marking, once the reader may see it (with two
                        # markings: after both are in; one's own always).
                        "markings": [
                            {
                                "reviewer": m.reviewer_name,
                                "complete": m.complete,
                                "score": m.score,
                                "marks": {
                                    f"{kind}:{item}": v for (kind, item), v in m.marks.items()
                                },
                            }
                            for m in markings.get(qid, [])
                            if m.reviewer_id == user.id
                            or marking.others_visible(markings.get(qid, []), double)
                        ],
                    }
                    for qid, result in scores.items()
                ],
                "submissions": [
                    submission_record(s, s.latest, who) | {"candidate": None}
                    for s in invitation.submissions
                ],
            }
        )
    return {"assessment": {"id": assessment.id, "title": assessment.title}, "candidates": people}
