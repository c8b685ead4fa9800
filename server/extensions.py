"""Extensions, created unbound and bound to the app in ``create_app``; the request's session."""

from __future__ import annotations

from flask import current_app, g, request, session
from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_wtf import CSRFProtect
from sqlalchemy.orm import Session

LANGUAGES = ("en", "zh")

csrf = CSRFProtect()
login_manager = LoginManager()
# No default limits: only the login form is limited, by its decorator.
limiter = Limiter(key_func=get_remote_address)
babel = Babel()


def db() -> Session:
    """This request's database session, opened on first use and closed at teardown."""
    if "db" not in g:
        g.db = current_app.extensions["assay.sessions"]()
    return g.db


def close_db(exc: BaseException | None) -> None:
    session_ = g.pop("db", None)
    if session_ is not None:
        if exc is not None:
            session_.rollback()
        session_.close()


def select_locale() -> str:
    """The language chosen with the switch, else the browser's best match, else English."""
    chosen = session.get("lang")
    if chosen in LANGUAGES:
        return chosen
    # Werkzeug matches "zh-CN" or "zh-Hans" to "zh". We use the bare "zh" catalogue:
    # Babel would read a "zh_CN" request as zh_Hans_CN and look for that folder.
    return request.accept_languages.best_match(LANGUAGES) or "en"
