"""The app's frame: config, migrations, health, headers, error pages, CSRF, login limit."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import command

from server import create_app
from server.config import Config, TestConfig, load_or_create_secret
from server.migrate import alembic_config


def test_healthz_answers_200(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json == {"status": "ok"}


def test_fresh_instance_is_migrated_on_first_start(tmp_path, monkeypatch):
    monkeypatch.setenv("ASSAY_INSTANCE", str(tmp_path / "fresh"))
    monkeypatch.delenv("ASSAY_DATABASE_URL", raising=False)
    monkeypatch.delenv("ASSAY_SECRET_KEY", raising=False)
    app = create_app(Config())
    engine = app.extensions["assay.engine"]
    tables = set(sa.inspect(engine).get_table_names())
    assert {"users", "assessments", "invitations", "submissions", "gradings"} <= tables
    assert "alembic_version" in tables
    engine.dispose()


def test_migrations_match_the_models(migrated_template):
    # alembic check fails when autogenerate would find a difference: a model changed
    # without a migration.
    command.check(alembic_config(f"sqlite:///{migrated_template}"))


def test_secret_key_is_created_once_and_shared(tmp_path, monkeypatch):
    monkeypatch.delenv("ASSAY_SECRET_KEY", raising=False)
    first = load_or_create_secret(tmp_path)
    assert len(first) == 64
    assert load_or_create_secret(tmp_path) == first
    assert first == Config(tmp_path).SECRET_KEY
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def test_secret_key_from_the_environment_wins(tmp_path, monkeypatch):
    monkeypatch.setenv("ASSAY_SECRET_KEY", "x" * 64)
    assert Config(tmp_path).SECRET_KEY == "x" * 64
    assert not (tmp_path / "secret_key").exists()


def test_security_headers_on_every_page(client):
    for path in ("/login", "/healthz", "/no-such-page"):
        response = client.get(path)
        csp = response.headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp
        assert response.headers["X-Frame-Options"] == "DENY"
        assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_no_inline_script_or_style_in_pages(client):
    html = client.get("/login").get_data(as_text=True)
    assert "<script>" not in html and "<style" not in html and " style=" not in html
    assert "/static/vendor/htmx-2.0.11/htmx.min.js" in html


def test_vendored_htmx_is_served_with_its_license(client):
    assert client.get("/static/vendor/htmx-2.0.11/htmx.min.js").status_code == 200
    assert client.get("/static/vendor/htmx-2.0.11/LICENSE").status_code == 200


def test_404_page_is_html_with_a_message(client):
    response = client.get("/nothing-here")
    assert response.status_code == 404
    assert "There is nothing at this address." in response.get_data(as_text=True)


def test_500_page_shows_no_stack_trace(app, client):
    app.config["PROPAGATE_EXCEPTIONS"] = False

    @app.get("/boom")
    def boom():
        raise RuntimeError("secret internal detail")

    response = client.get("/boom")
    body = response.get_data(as_text=True)
    assert response.status_code == 500
    assert "Something went wrong" in body
    assert "Traceback" not in body and "secret internal detail" not in body


def test_413_page_for_a_huge_upload(app, client, make_invitation):
    _, token = make_invitation()
    big = b"x" * (app.config["MAX_CONTENT_LENGTH"] + 1)
    response = client.post(f"/c/{token}/start", data=big, content_type="application/octet-stream")
    assert response.status_code == 413
    assert "larger than the limit" in response.get_data(as_text=True)


def test_session_cookie_flags(app):
    assert app.config["SESSION_COOKIE_HTTPONLY"] is True
    assert app.config["SESSION_COOKIE_SAMESITE"] == "Lax"


def test_secure_cookies_behind_https(tmp_path, monkeypatch):
    monkeypatch.setenv("ASSAY_HTTPS", "1")
    assert TestConfig(tmp_path).SESSION_COOKIE_SECURE is True


def test_login_is_rate_limited(app_config, make_user):
    app_config.LOGIN_RATE_LIMIT = "3 per minute"
    app = create_app(app_config)
    client = app.test_client()
    user_email = "nobody@example.test"
    codes = [
        client.post("/login", data={"email": user_email, "password": "wrong password"}).status_code
        for _ in range(4)
    ]
    assert codes[:3] == [200, 200, 200]
    assert codes[3] == 429
    assert "Too many attempts" in client.post(
        "/login", data={"email": "a@b.c", "password": "x"}
    ).get_data(as_text=True)
    app.extensions["assay.engine"].dispose()


def test_csrf_is_required_on_forms(app_config, make_user):
    app_config.WTF_CSRF_ENABLED = True
    app = create_app(app_config)
    client = app.test_client()
    user = make_user()
    response = client.post(
        "/login", data={"email": user.email, "password": "correct horse battery staple"}
    )
    assert response.status_code == 400
    assert "form expired" in response.get_data(as_text=True)
    app.extensions["assay.engine"].dispose()
