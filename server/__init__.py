"""The Assay web application: ``create_app(config)`` builds it."""

from __future__ import annotations

import logging
from pathlib import Path

from flask import Flask, redirect, session, url_for
from flask_login import current_user

from sandbox import settings as declared
from server.config import Config
from server.db import make_engine, make_session_factory
from server.extensions import babel, close_db, csrf, limiter, login_manager, select_locale
from server.summary.listeners import install as install_summary_listeners


def create_app(config: Config | None = None) -> Flask:
    """A configured app: database (migrated when ``AUTO_MIGRATE``), extensions, blueprints.

    Without ``config``, the settings are read from the environment now, once (a bad value
    raises ``SettingsError`` naming it; an unknown ``ASSAY_*`` name is logged)."""
    config = config or Config(settings=declared.load_at_start(logging.getLogger(__name__)))
    app = Flask(__name__, instance_path=config.INSTANCE_PATH, instance_relative_config=False)
    app.config.from_object(config)
    app.extensions["assay.settings"] = getattr(config, "settings", None) or declared.current()
    if not app.config.get("SECRET_KEY"):
        raise RuntimeError("SECRET_KEY is not set")

    if app.config["AUTO_MIGRATE"]:
        from server.migrate import upgrade

        upgrade(app.config["DATABASE_URL"], Path(app.config["INSTANCE_PATH"]))
    engine = make_engine(app.config["DATABASE_URL"])
    install_summary_listeners()  # the candidates' summaries follow every session's writes
    app.extensions["assay.engine"] = engine
    app.extensions["assay.sessions"] = make_session_factory(engine)
    app.teardown_appcontext(close_db)
    _bind_queue(app)

    _init_extensions(app)
    _register_blueprints(app)
    _register_basics(app)
    return app


def _bind_queue(app: Flask) -> None:
    """Uploads enqueue on this app's queue (its instance folder and ASSAY_QUEUE_URL), not on
    whatever the process environment names."""
    from server import dryruns
    from server.grading import use_queue
    from server.queue import get_dry_run_huey, get_huey

    huey = get_huey(app.config["INSTANCE_PATH"], app.config["QUEUE_URL"])
    use_queue(app.extensions["assay.sessions"], huey)
    # Uploads' dry runs go on their own queue first (server/dryruns.py).
    dry = get_dry_run_huey(app.config["INSTANCE_PATH"], app.config["QUEUE_URL"])
    dryruns.use_queue(app.extensions["assay.sessions"], dry)


def _init_extensions(app: Flask) -> None:
    from server.accounts import load_session_user
    from server.extensions import db

    csrf.init_app(app)
    limiter.init_app(app)
    babel.init_app(app, locale_selector=select_locale)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = None
    login_manager.session_protection = "strong"

    @login_manager.user_loader
    def load_user(session_id: str):
        return load_session_user(db(), session_id)


def _register_blueprints(app: Flask) -> None:
    from server import admin, auth, candidate, errors, recruiter

    app.register_blueprint(errors.bp)
    from server import ops

    app.register_blueprint(ops.bp)  # /readyz and /metrics
    app.register_blueprint(auth.bp)
    app.register_blueprint(admin.bp, url_prefix="/admin")
    app.register_blueprint(recruiter.bp, url_prefix="/recruiter")
    app.register_blueprint(candidate.bp, url_prefix="/c")

    from server import api, audit, review

    app.register_blueprint(review.bp, url_prefix="/review")
    app.register_blueprint(api.bp, url_prefix="/api/v1")
    audit.connect(app)


def _register_basics(app: Flask) -> None:
    from flask_babel import get_locale

    from server import labels
    from server.security import add_security_headers

    app.after_request(add_security_headers)
    labels.init_app(app)

    from server.formatting import format_number

    @app.template_filter("number")
    def number(value, signed: bool = False) -> str:
        """A metric for display in the page's locale (``server.formatting.format_number``)."""
        return format_number(value, signed=signed)

    @app.context_processor
    def language():
        return {"current_lang": str(get_locale() or "en")}

    @app.get("/healthz")
    def healthz():
        return {"status": "ok"}

    @app.get("/")
    def index():
        if not current_user.is_authenticated:
            return redirect(url_for("auth.login"))
        if current_user.role == "admin":
            return redirect(url_for("admin.users"))
        if current_user.role == "recruiter":
            return redirect(url_for("recruiter.assessments"))
        return redirect(url_for("auth.home"))

    @app.post("/lang/<lang>")
    def set_language(lang: str):
        from flask import request

        from server.extensions import LANGUAGES

        if lang in LANGUAGES:
            session["lang"] = lang
        target = request.form.get("next", "")
        # Only a local path: never an open redirect.
        if not target.startswith("/") or target.startswith("//"):
            target = url_for("index")
        return redirect(target)
