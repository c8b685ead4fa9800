from __future__ import annotations

from flask import current_app, g, render_template
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from server.errors import bp

MESSAGES = {
    400: (_l("Bad request"), _l("The request could not be understood.")),
    403: (_l("Not allowed"), _l("You do not have access to this page.")),
    404: (_l("Not found"), _l("There is nothing at this address.")),
    405: (_l("Not allowed"), _l("This address does not accept that kind of request.")),
    413: (_l("File too large"), _l("The upload is larger than the limit of 2 MB.")),
    429: (_l("Too many attempts"), _l("Please wait a minute and try again.")),
    500: (_l("Something went wrong"), _l("The error was logged. Please try again later.")),
}


def _page(code: int, message=None):
    title, default = MESSAGES.get(code, MESSAGES[500])
    return render_template(
        "errors/error.html", code=code, title=title, message=message or default
    ), code


@bp.app_errorhandler(CSRFError)
def csrf_error(exc: CSRFError):
    return _page(
        400, _l("The form expired or was sent from elsewhere. Reload the page and try again.")
    )


@bp.app_errorhandler(HTTPException)
def http_error(exc: HTTPException):
    return _page(exc.code or 500)


@bp.app_errorhandler(Exception)
def unexpected_error(exc: Exception):
    # Roll back first: the request's session may be in a failed transaction.
    session = g.pop("db", None)
    if session is not None:
        session.rollback()
        session.close()
    current_app.logger.exception("unhandled error")
    return _page(500)
