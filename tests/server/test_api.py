"""/api/v1: tokens (hashed, scoped, revocable), one JSON error shape, the OpenAPI document
written from the same schemas that validate requests, and blind review through the API."""

from __future__ import annotations

import hashlib

import pytest

from server.models import ApiToken, AuditEvent, Invitation
from tests.server.test_review import ALICE, ALICE_EMAIL, BOB, BOB_EMAIL, build_world


@pytest.fixture
def world(db, make_user, make_assessment, make_invitation):
    return build_world(db, make_user, make_assessment, make_invitation)


@pytest.fixture
def token_for(db):
    from server.api import tokens

    def make(user, scope="read"):
        _row, token = tokens.create(db, user, "ats", scope)
        db.commit()
        return token

    return make


def _get(client, url, token=None):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return client.get(url, headers=headers)


def _post(client, url, body, token=None):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return client.post(url, json=body, headers=headers)


#: endpoint -> (method, url, body, scope needed, manage)
API_ROUTES = {
    "api.openapi_json": ("GET", "/api/v1/openapi.json", None, None, False),
    "api.list_assessments": ("GET", "/api/v1/assessments", None, "read", False),
    "api.list_candidates": (
        "GET",
        "/api/v1/assessments/{assessment}/candidates",
        None,
        "read",
        False,
    ),
    "api.create_invitation": (
        "POST",
        "/api/v1/assessments/{assessment}/invitations",
        {"name": "Nia Newcomer", "email": "nia@example.test"},
        "write",
        True,
    ),
    "api.list_submissions": (
        "GET",
        "/api/v1/assessments/{assessment}/submissions",
        None,
        "read",
        False,
    ),
    "api.get_report": ("GET", "/api/v1/submissions/{sub}/report", None, "read", False),
}
WHO = ["none", "revoked", "owner", "other_recruiter", "reviewer", "other_reviewer", "admin"]


def test_every_api_route_is_in_the_table_and_in_the_openapi_document(app, client):
    rules = [r for r in app.url_map.iter_rules() if r.endpoint.startswith("api.")]
    assert {r.endpoint for r in rules} == set(API_ROUTES)
    document = client.get("/api/v1/openapi.json").get_json()
    operations = {
        op["operationId"]: (method.upper(), path)
        for path, item in document["paths"].items()
        for method, op in item.items()
    }
    for rule in rules:
        method = next(m for m in rule.methods if m not in ("HEAD", "OPTIONS"))
        path = "/api/v1" + rule.rule.removeprefix("/api/v1").replace("<int:", "{").replace(">", "}")
        assert operations[rule.endpoint] == (method, path.replace("/api/v1/api/v1", "/api/v1"))


def test_openapi_request_schema_is_the_validating_model(client):
    from server.api.schemas import InvitationIn

    document = client.get("/api/v1/openapi.json").get_json()
    op = document["paths"]["/api/v1/assessments/{assessment_id}/invitations"]["post"]
    assert op["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "/InvitationIn"
    )
    assert document["components"]["schemas"]["InvitationIn"] == InvitationIn.model_json_schema()
    assert op["security"] == [{"token": ["write"]}]


@pytest.mark.parametrize("who", WHO)
@pytest.mark.parametrize("scope", ["read", "write"])
@pytest.mark.parametrize("endpoint", sorted(API_ROUTES))
def test_api_routes_by_token(app, db, world, token_for, who, scope, endpoint):
    client = app.test_client()
    method, url, body, needed, manage = API_ROUTES[endpoint]
    url = url.format(**world)
    token = None
    if who == "revoked":
        from server.api import tokens

        token = token_for(world["people"]["owner"], scope)
        tokens.revoke(db, world["people"]["owner"], db.query(ApiToken).one().id)
        db.commit()
    elif who != "none":
        token = token_for(world["people"][who], scope)
    response = _get(client, url, token) if method == "GET" else _post(client, url, body, token)
    data = response.get_json()
    if needed is None:
        assert response.status_code == 200
        return
    if response.status_code >= 400:
        assert set(data) == {"error"} and {"code", "message"} <= set(data["error"])
    if who in ("none", "revoked"):
        assert response.status_code == 401
    elif needed == "write" and scope == "read":
        assert response.status_code == 403 and data["error"]["code"] == "insufficient_scope"
    elif who in ("other_recruiter", "other_reviewer") and "{" in API_ROUTES[endpoint][1]:
        assert response.status_code == 404
        assert ALICE not in response.get_data(as_text=True)
    elif who == "reviewer" and manage:
        assert response.status_code == 403
    else:
        assert response.status_code in (200, 201), data


def test_tokens_are_stored_hashed_and_revocable_from_the_page(client, db, world, login):
    login(client, world["people"]["owner"])
    page = client.post("/review/tokens", data={"name": "greenhouse", "scope": "read"})
    body = page.get_data(as_text=True)
    import re

    token = re.search(r'<code class="token">([^<]+)</code>', body).group(1)
    row = db.query(ApiToken).one()
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in (row.prefix + row.name)
    api = client.application.test_client()
    assert _get(api, "/api/v1/assessments", token).status_code == 200
    client.post(f"/review/tokens/{row.id}/revoke")
    assert _get(api, "/api/v1/assessments", token).status_code == 401


def test_a_session_cookie_is_not_an_api_login(client, world, login):
    login(client, world["people"]["owner"])
    response = client.get("/api/v1/assessments")
    assert response.status_code == 401 and response.get_json()["error"]["code"] == "unauthenticated"


def test_invalid_body_gets_the_one_error_shape_with_details(client, world, token_for):
    token = token_for(world["people"]["owner"], "write")
    url = f"/api/v1/assessments/{world['assessment']}/invitations"
    response = _post(client, url, {"name": "", "email": "not-an-email", "extra": 1}, token)
    error = response.get_json()["error"]
    assert response.status_code == 400 and error["code"] == "invalid_body"
    assert {tuple(d["loc"]) for d in error["details"]} >= {("name",), ("email",), ("extra",)}
    assert (
        _get(client, "/api/v1/submissions/99999/report", token).get_json()["error"]["code"]
        == "not_found"
    )


def test_create_invitation_returns_a_working_link_and_is_audited(client, db, world, token_for):
    token = token_for(world["people"]["owner"], "write")
    url = f"/api/v1/assessments/{world['assessment']}/invitations"
    response = _post(client, url, {"name": "Nia Newcomer", "email": "nia@example.test"}, token)
    assert response.status_code == 201
    data = response.get_json()
    invitation = db.get(Invitation, data["id"])
    assert invitation.candidate_email == "nia@example.test"
    path = data["link"].split("://", 1)[1].split("/", 1)[1]
    assert client.get("/" + path).status_code == 200
    event = db.query(AuditEvent).filter_by(action="invitation", invitation_id=invitation.id).one()
    assert event.actor_id == world["people"]["owner"].id and "nia" not in str(event.detail)


def test_candidates_and_report_through_the_api(client, world, token_for):
    token = token_for(world["people"]["owner"])
    data = _get(client, f"/api/v1/assessments/{world['assessment']}/candidates", token).get_json()
    assert [c["name"] for c in data["candidates"]] == [ALICE, BOB, "Carol Notstarted"]
    assert data["candidates"][0]["results"][0]["value"] == pytest.approx(0.95)
    report = _get(client, f"/api/v1/submissions/{world['sub']}/report", token).get_json()
    assert report["report"]["verdict"]["passed"] is True
    subs = _get(client, f"/api/v1/assessments/{world['assessment']}/submissions", token).get_json()
    assert [s["status"] for s in subs["submissions"]] == ["graded", "failed"]


def test_a_blind_reviewers_token_never_answers_a_name_or_email(client, world, token_for):
    token = token_for(world["people"]["reviewer"])
    bodies = [
        _get(client, url, token).get_data(as_text=True)
        for url in (
            "/api/v1/assessments",
            f"/api/v1/assessments/{world['assessment']}/candidates",
            f"/api/v1/assessments/{world['assessment']}/submissions",
            f"/api/v1/submissions/{world['sub']}/report",
            f"/api/v1/submissions/{world['bob_sub']}/report",
        )
    ]
    for body in bodies:
        for secret in (ALICE, BOB, ALICE_EMAIL, BOB_EMAIL, "Carol"):
            assert secret not in body
    assert (
        '"label": "Candidate 1"' in bodies[1].replace('":"', '": "') or "Candidate 1" in bodies[1]
    )
