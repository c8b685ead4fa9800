"""Every route against every kind of visitor.

Staff routes: anonymous, recruiter (owner and not), reviewer, admin. Candidate routes: the
candidate's own link, another candidate's link (asking for the first one's submissions),
an expired link, a revoked link, a made-up link. A new route fails ``test_every_route_is_
in_the_table`` until it is added here.
"""

from __future__ import annotations

from datetime import timedelta
from io import BytesIO

import pytest

from server.models import Grading, ProgressEvent, Submission, TheoryAnswer, utcnow

ADMIN_ROUTES = {
    "admin.users": ("GET", "/admin/users", None),
    "admin.create_user": (
        "POST",
        "/admin/users",
        {"email": "n@example.test", "name": "N", "role": "reviewer", "password": "p" * 12},
    ),
    "admin.edit_user": ("GET", "/admin/users/{user}", None),
    "admin.outbox": ("GET", "/admin/outbox", None),
}
RECRUITER_ROUTES = {
    "recruiter.assessments": ("GET", "/recruiter/", None),
    "recruiter.new_assessment": ("GET", "/recruiter/assessments/new", None),
    "recruiter.assessment": ("GET", "/recruiter/assessments/{assessment}", None),
    "recruiter.backlog": ("GET", "/recruiter/assessments/{assessment}/backlog", None),
    "recruiter.invite": (
        "POST",
        "/recruiter/assessments/{assessment}/invite",
        {"name": "Nia", "email": "nia@example.test"},
    ),
    "recruiter.invite_csv": ("POST", "/recruiter/assessments/{assessment}/invite-csv", "csv"),
    "recruiter.invitation_action": (
        "POST",
        "/recruiter/invitations/{invitation}/extend",
        {"days": "2"},
    ),
    "recruiter.edit_assessment": ("GET", "/recruiter/assessments/{assessment}/edit", None),
    "recruiter.duplicate_assessment": (
        "POST",
        "/recruiter/assessments/{assessment}/duplicate",
        {},
    ),
    "recruiter.preview": ("GET", "/recruiter/assessments/{assessment}/preview", None),
    "recruiter.outbox": ("GET", "/recruiter/outbox", None),
}
CANDIDATE_ROUTES = {
    "candidate.landing": ("GET", "/c/{token}", None),
    "candidate.start": ("POST", "/c/{token}/start", {}),
    "candidate.work": ("GET", "/c/{token}/work", None),
    "candidate.statement": ("GET", "/c/{token}/challenges/lenet5-mnist", None),
    "candidate.starter": ("GET", "/c/{token}/challenges/lenet5-mnist/starter", None),
    "candidate.upload": ("POST", "/c/{token}/challenges/lenet5-mnist/upload", "upload"),
    "candidate.submission": ("GET", "/c/{token}/submissions/{submission}", None),
    "candidate.progress": ("GET", "/c/{token}/submissions/{submission}/progress", None),
    "candidate.save_answer": ("POST", "/c/{token}/theory/class-imbalance", {"text": "draft"}),
    # A question whose written answer each candidate has submitted (its checks are open).
    "candidate.save_checks": (
        "POST",
        "/c/{token}/theory/evaluation-metrics/checks",
        {"check-f1": "0"},
    ),
    "candidate.finish": ("GET", "/c/{token}/finish", None),
}
OPEN_ROUTES = {
    "static",
    "healthz",
    "index",
    "set_language",
    "auth.login",
    "auth.logout",
    "auth.home",
    "auth.password",  # any logged-in staff user, their own password: tests/server/test_sessions.py
}
#: Operations endpoints: a load balancer and a Prometheus scraper call them without a login,
#: so every visitor gets the same answer, and it names no one. /metrics wants the scraper's
#: bearer token (``METRICS_TOKEN``), whoever is logged in.
OPS_ROUTES = {"ops.readyz": "/readyz", "ops.metrics": "/metrics"}
METRICS_TOKEN = "scrape-me"


def test_every_route_is_in_the_table(app):
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    known = set(ADMIN_ROUTES) | set(RECRUITER_ROUTES) | set(CANDIDATE_ROUTES) | OPEN_ROUTES
    known |= set(OPS_ROUTES)
    # The review pages and the API have their own route x role tables, each checked complete
    # in test_review.py and test_api.py.
    known |= {endpoint for endpoint in endpoints if endpoint.startswith(("review.", "api."))}
    # Opens only after the candidate submitted: its own link x role table in
    # test_candidate_explanations.py (open, not yet, switched off, another assessment's link).
    known |= {"candidate.explanations"}
    assert endpoints - known == set()


@pytest.fixture
def world(db, make_user, make_assessment, make_invitation):
    """Two candidates of one recruiter's assessment, each with a submission and progress."""
    owner = make_user(role="recruiter", name="Owner")
    people = {
        "admin": make_user(role="admin"),
        "owner": owner,
        "other_recruiter": make_user(role="recruiter"),
        "reviewer": make_user(role="reviewer"),
    }
    assessment = make_assessment(owner=owner)
    now = utcnow()
    alice, alice_token = make_invitation(
        assessment=assessment, opened_at=now, candidate_name="Alice Secret"
    )
    bob, bob_token = make_invitation(assessment=assessment, opened_at=now, candidate_name="Bob")
    expired, expired_token = make_invitation(
        assessment=assessment, expires_at=now - timedelta(hours=1)
    )
    revoked, revoked_token = make_invitation(assessment=assessment, revoked_at=now)
    subs = {}
    for who, invitation in (("alice", alice), ("bob", bob)):
        submission = Submission(
            invitation_id=invitation.id,
            challenge_slug="lenet5-mnist",
            filename="solution.py",
            source=f"# {who}'s code\n".encode(),
            sha256="0" * 64,
            size=10,
        )
        grading = Grading(status="running")
        submission.gradings.append(grading)
        db.add(submission)
        db.flush()
        db.add(
            ProgressEvent(
                grading_id=grading.id,
                seq=0,
                kind="epoch",
                data_json=f'{{"event": "epoch", "epoch": {7 if who == "alice" else 2}, "epochs": 9}}',
            )
        )
        subs[who] = submission.id
        db.add(
            TheoryAnswer(
                invitation_id=invitation.id,
                question_id="evaluation-metrics",
                text=f"{who}'s answer",
                submitted_at=now,
            )
        )
    db.commit()
    return {
        "people": people,
        "assessment": assessment.id,
        "alice": alice,
        "subs": subs,
        "tokens": {
            "alice": alice_token,
            "bob": bob_token,
            "expired": expired_token,
            "revoked": revoked_token,
            "madeup": "x" * 43,
        },
    }


def _call(client, method, url, data):
    if data == "csv":
        data = {"file": (BytesIO(b"Zoe,zoe@example.test\n"), "c.csv")}
    elif data == "upload":
        data = {"file": (BytesIO(b"def build_model():\n    return None\n"), "s.py")}
    if method == "GET":
        return client.get(url)
    return client.post(url, data=data or {}, content_type="multipart/form-data")


def _fill(url, world, **extra):
    values = {
        "user": world["people"]["owner"].id,
        "assessment": world["assessment"],
        "invitation": world["alice"].id,
        **extra,
    }
    return url.format(**values)


STAFF = ["anonymous", "owner", "other_recruiter", "reviewer", "admin"]


@pytest.mark.parametrize("who", STAFF)
@pytest.mark.parametrize("endpoint", sorted(ADMIN_ROUTES))
def test_admin_routes(app, world, login, who, endpoint):
    client = app.test_client()
    if who != "anonymous":
        login(client, world["people"][who])
    method, url, data = ADMIN_ROUTES[endpoint]
    response = _call(client, method, _fill(url, world), data)
    if who == "anonymous":
        assert response.status_code == 302 and "/login" in response.headers["Location"]
    elif who == "admin":
        assert response.status_code in (200, 302) and "/login" not in response.headers.get(
            "Location", ""
        )
    else:
        assert response.status_code == 403


@pytest.mark.parametrize("who", STAFF)
@pytest.mark.parametrize("endpoint", sorted(RECRUITER_ROUTES))
def test_recruiter_routes(app, world, login, who, endpoint):
    client = app.test_client()
    if who != "anonymous":
        login(client, world["people"][who])
    method, url, data = RECRUITER_ROUTES[endpoint]
    response = _call(client, method, _fill(url, world), data)
    specific = "{" in url
    if who == "anonymous":
        assert response.status_code == 302 and "/login" in response.headers["Location"]
    elif who == "reviewer":
        assert response.status_code == 403
    elif who == "other_recruiter" and specific:
        assert response.status_code == 404
    else:
        assert response.status_code in (200, 302)
        assert "/login" not in response.headers.get("Location", "")


def test_other_recruiter_does_not_see_the_assessment_in_lists(app, world, login):
    client = app.test_client()
    login(client, world["people"]["other_recruiter"])
    assert "Alice Secret" not in client.get("/recruiter/").get_data(as_text=True)


LINK_OUTCOME = {"expired": 410, "revoked": 403, "madeup": 404}
#: A submission's status still opens through an expired link (what came in before the end is
#: graded after it), but only the link's own submissions: Alice's is not found through it.
STATUS_AFTER_EXPIRY = {"candidate.submission", "candidate.progress"}


@pytest.mark.parametrize("link", ["alice", "bob", "expired", "revoked", "madeup"])
@pytest.mark.parametrize("endpoint", sorted(CANDIDATE_ROUTES))
@pytest.mark.parametrize("staff", [None, "admin"])
def test_candidate_routes(app, world, login, link, endpoint, staff):
    """Alice's submission asked for through each link (a staff login changes nothing)."""
    client = app.test_client()
    if staff:
        login(client, world["people"][staff])
    method, url, data = CANDIDATE_ROUTES[endpoint]
    target = _fill(url, world, token=world["tokens"][link], submission=world["subs"]["alice"])
    response = _call(client, method, target, data)
    body = response.get_data().decode("utf-8", "replace")  # the starter is a zip
    if link == "expired" and endpoint in STATUS_AFTER_EXPIRY:
        assert response.status_code in (302, 404)  # not started: to its landing page
        assert "Alice Secret" not in body and "epoch 7" not in body
    elif link in LINK_OUTCOME:
        assert response.status_code == LINK_OUTCOME[link]
        assert "Alice Secret" not in body and "alice's code" not in body
    elif link == "bob":
        assert "Alice Secret" not in body and "epoch 7" not in body
        if "{submission}" in url:
            assert response.status_code == 404
        else:
            assert response.status_code in (200, 302)
    else:
        assert response.status_code in (200, 302)
        if endpoint == "candidate.progress":
            assert "epoch 7 of 9" in body


def test_link_pages_say_what_to_do(client, world):
    expired = client.get(f"/c/{world['tokens']['expired']}").get_data(as_text=True)
    assert "expired" in expired and "extend" in expired
    revoked = client.get(f"/c/{world['tokens']['revoked']}").get_data(as_text=True)
    assert "withdrew" in revoked


@pytest.mark.parametrize(
    ("role", "landing"),
    [("admin", "/admin/users"), ("recruiter", "/recruiter/"), ("reviewer", "/home")],
)
def test_each_role_lands_on_a_page_it_may_see(client, make_user, login, role, landing):
    login(client, make_user(role=role))
    response = client.get("/")
    assert response.headers["Location"].endswith(landing)
    assert client.get(landing).status_code == 200


def test_anonymous_index_goes_to_login(client):
    assert client.get("/").headers["Location"].endswith("/login")


def test_logout_needs_a_post(client, make_user, login):
    login(client, make_user(role="recruiter"))
    assert client.get("/logout").status_code == 405
    assert client.post("/logout").status_code == 302
    assert client.get("/recruiter/").status_code == 302


@pytest.mark.parametrize("who", ["anonymous", "admin", "owner", "reviewer"])
@pytest.mark.parametrize("endpoint", sorted(OPS_ROUTES))
def test_ops_routes_answer_everyone_alike_and_name_no_one(app, world, login, who, endpoint):
    app.config["METRICS_TOKEN"] = METRICS_TOKEN
    client = app.test_client()
    if who != "anonymous":
        login(client, world["people"][who])
    if endpoint == "ops.metrics":  # a staff login is not the scraper's token
        assert client.get(OPS_ROUTES[endpoint]).status_code == 401
    response = client.get(
        OPS_ROUTES[endpoint], headers={"Authorization": f"Bearer {METRICS_TOKEN}"}
    )
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert "Alice Secret" not in body and "@example.test" not in body
