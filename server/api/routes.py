from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from flask import current_app, g, jsonify, request, url_for
from pydantic import BaseModel, ValidationError
from werkzeug.exceptions import HTTPException

from server import concept_checks, exports, invitations
from server.api import bp, openapi, tokens
from server.api import schemas as s
from server.extensions import csrf, db
from server.models import Invitation, Submission
from server.models.api import READ, WRITE
from server.reviewing import access, blind_review
from server.summary.table import candidates_table

csrf.exempt(bp)


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, details=None):
        super().__init__(message)
        self.status, self.code, self.message, self.details = status, code, message, details


def error_response(status: int, code: str, message: str, details=None):
    """The one JSON error shape of the API (``schemas.Error``)."""
    body = {"error": {"code": code, "message": message}}
    if details is not None:
        body["error"]["details"] = details
    return jsonify(body), status


@bp.errorhandler(ApiError)
def _api_error(exc: ApiError):
    return error_response(exc.status, exc.code, exc.message, exc.details)


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException):
    return error_response(
        exc.code or 500, (exc.name or "error").lower().replace(" ", "_"), exc.description or ""
    )


def _authenticate(scope: str):
    header = request.headers.get("Authorization", "")
    kind, _, token = header.partition(" ")
    if kind.lower() != "bearer" or not token:
        raise ApiError(401, "unauthenticated", "send an API token: Authorization: Bearer <token>")
    row = tokens.authenticate(db(), token.strip())
    if row is None:
        raise ApiError(401, "invalid_token", "the token is unknown, revoked or its user inactive")
    if not tokens.allows(row, scope):
        raise ApiError(
            403, "insufficient_scope", f"this token's scope is {row.scope}; {scope} is needed"
        )
    db().commit()  # last_used_at
    return row.user


def api_route(
    rule: str,
    method: str,
    summary: str,
    *,
    scope: str | None,
    body: type[BaseModel] | None = None,
    response: type[BaseModel] | None = None,
    status: int = 200,
    query: tuple = (),
) -> Callable:
    """Register a view on the blueprint and in the OpenAPI document, from one declaration."""

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapped(**kwargs):
            if scope is not None:
                g.api_user = _authenticate(scope)
            if body is not None:
                payload = request.get_json(silent=True)
                if payload is None:
                    raise ApiError(400, "invalid_json", "the body must be a JSON object")
                try:
                    kwargs["body"] = body.model_validate(payload)
                except ValidationError as exc:
                    details = [{"loc": list(e["loc"]), "msg": e["msg"]} for e in exc.errors()]
                    raise ApiError(
                        400, "invalid_body", "the body does not match the schema", details
                    ) from None
            result = view(**kwargs)
            if response is None:
                return jsonify(result), status
            return jsonify(response.model_validate(result).model_dump(mode="json")), status

        endpoint = f"api.{view.__name__}"
        bp.add_url_rule(rule, view.__name__, wrapped, methods=[method])
        openapi.operation(
            openapi.Operation(endpoint, rule, method, summary, scope, body, response, status, query)
        )
        return wrapped

    return decorator


def _user():
    return g.api_user


def _assessment(assessment_id: int, manage: bool = False):
    assessment = access.assessment_for(db(), _user(), assessment_id)
    if assessment is None:
        raise ApiError(404, "not_found", "no such assessment, or not yours")
    if manage and not access.can_manage(_user(), assessment):
        raise ApiError(403, "forbidden", "only the assessment's recruiter may do this")
    return assessment


def _submission(submission_id: int) -> Submission:
    submission = access.submission_for(db(), _user(), submission_id)
    if submission is None:
        raise ApiError(404, "not_found", "no such submission, or not yours")
    return submission


@bp.get("/openapi.json")
def openapi_json():
    return jsonify(openapi.document())


openapi.operation(
    openapi.Operation("api.openapi_json", "/openapi.json", "GET", "This document", None, None, None)
)


@api_route(
    "/assessments",
    "GET",
    "Assessments the token's user may review",
    scope=READ,
    response=s.AssessmentList,
)
def list_assessments():
    return {
        "assessments": [
            {
                "id": a.id,
                "title": a.title,
                "challenges": a.challenge_slugs,
                "blind_review": a.blind_review,
            }
            for a in access.reviewable(db(), _user())
        ]
    }


@api_route(
    "/assessments/<int:assessment_id>/candidates",
    "GET",
    "Candidates of an assessment, one row each, as on the candidates table",
    scope=READ,
    response=s.CandidateList,
    query=(
        ("page", "integer", "1-based page"),
        ("per_page", "integer", "rows per page, at most 500"),
        ("outcome", "string", "passed, passed_flagged, below_bar, failed, not_started or pending"),
        ("theory", "string", "to_review or scored (reviewers' theory scores only)"),
        (
            "sort",
            "string",
            "candidate, state, outcome, metric, theory, attempts, time or decision",
        ),
    ),
)
def list_candidates(assessment_id: int):
    assessment = _assessment(assessment_id)
    per_page = min(max(request.args.get("per_page", 100, type=int), 1), 500)
    table = candidates_table(
        db(),
        _user(),
        assessment,
        sort=request.args.get("sort", "candidate"),
        outcome=request.args.get("outcome") or None,
        theory=request.args.get("theory") or None,
        page=request.args.get("page", 1, type=int),
        per_page=per_page,
    )
    checks = concept_checks.totals(
        db(), list(assessment.theory_question_ids or []), [row.invitation_id for row in table.rows]
    )
    return {
        "candidates": [
            {
                "invitation_id": row.invitation_id,
                "label": row.who.label,
                "name": row.who.name,
                "email": row.who.email,
                "state": row.state,
                "outcome": row.outcome,
                "attempts": row.attempts,
                "decision": row.decision,
                "results": [
                    {
                        "challenge": c.slug,
                        "submission_id": c.submission_id,
                        "status": c.status,
                        "passed": c.passed,
                        **_verdict(c.status, c.outcome),
                        "metric": c.metric,
                        "value": c.value,
                        "bar": c.bar,
                    }
                    for c in row.cells
                ],
                "concept_checks": {
                    "correct": checks[row.invitation_id].correct,
                    "answered": checks[row.invitation_id].answered,
                    "total": checks[row.invitation_id].total,
                },
                "theory": None
                if row.theory is None
                else {
                    "total": row.theory[0],
                    "max": row.theory[1],
                    "all_scored": row.theory_confirmed,
                },
            }
            for row in table.rows
        ],
        "total": table.total,
        "page": table.page,
        "pages": table.pages,
    }


@api_route(
    "/assessments/<int:assessment_id>/invitations",
    "POST",
    "Invite a candidate; the answer holds the link to send them",
    scope=WRITE,
    body=s.InvitationIn,
    response=s.InvitationOut,
    status=201,
)
def create_invitation(assessment_id: int, body: s.InvitationIn):
    assessment = _assessment(assessment_id, manage=True)
    try:
        invitation, token = invitations.invite(
            db(), assessment, body.name, body.email, days=body.days
        )
    except invitations.DuplicateInvitation as exc:
        # Never silently doubled: the caller sees which invitation already exists.
        raise ApiError(
            409, "duplicate_invitation", str(exc), [{"invitation_id": exc.existing.id}]
        ) from None
    except ValueError as exc:
        raise ApiError(400, "invalid_invitation", str(exc)) from None
    db().commit()  # audited by server.audit's session hook, as the recruiter's pages are
    link = current_app.config["BASE_URL"] + url_for("candidate.landing", token=token)
    return {
        "id": invitation.id,
        "assessment_id": assessment.id,
        "link": link,
        "expires_at": invitation.expires_at.isoformat(),
    }


@api_route(
    "/assessments/<int:assessment_id>/submissions",
    "GET",
    "Every submission to an assessment, with its latest grading's status",
    scope=READ,
    response=s.SubmissionList,
)
def list_submissions(assessment_id: int):
    assessment = _assessment(assessment_id)
    rows = (
        db()
        .query(Submission)
        .join(Invitation, Invitation.id == Submission.invitation_id)
        .filter(Invitation.assessment_id == assessment.id)
        .order_by(Submission.id)
    )
    return {
        "submissions": [
            {
                "id": sub.id,
                "invitation_id": sub.invitation_id,
                "challenge": sub.challenge_slug,
                "filename": sub.filename,
                "created_at": sub.created_at.isoformat(),
                "status": sub.latest.status if sub.latest else None,
                "passed": sub.latest.passed if sub.latest else None,
                **_verdict(
                    sub.latest.status if sub.latest else None,
                    sub.latest.outcome if sub.latest else None,
                ),
            }
            for sub in rows
        ]
    }


@api_route(
    "/submissions/<int:submission_id>/report",
    "GET",
    "A submission's latest report (the grading core's Report as JSON)",
    scope=READ,
    response=s.ReportOut,
)
def get_report(submission_id: int):
    submission = _submission(submission_id)
    invitation = db().get(Invitation, submission.invitation_id)
    who = blind_review.identity(db(), _user(), invitation)
    return exports.submission_record(submission, submission.latest, who)


def _verdict(status: str | None, outcome) -> dict:
    """The verdict words of graders.verdicts for a finished grading; None while it runs."""
    if outcome is None or status not in ("graded", "failed"):
        return {"verdict": None, "review_reasons": []}
    return {"verdict": outcome.key, "review_reasons": list(outcome.reasons)}
