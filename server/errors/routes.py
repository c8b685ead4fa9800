from __future__ import annotations

from urllib.parse import urlsplit

from flask import current_app, g, render_template, request
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from graders.submissions import MAX_SIZE_TEXT
from server.errors import bp

MESSAGES = {
    400: (_l("Bad request"), _l("The request could not be understood.")),
    403: (_l("Not allowed"), _l("You do not have access to this page.")),
    404: (_l("Not found"), _l("There is nothing at this address.")),
    405: (_l("Not allowed"), _l("This address does not accept that kind of request.")),
    413: (
        _l("File too large"),
        _l(
            "The upload is larger than the limit of %(limit)s. A notebook is often large "
            "because of its cell outputs: clear them and upload it again.",
            limit=MAX_SIZE_TEXT,
        ),
    ),
    429: (_l("Too many attempts"), _l("Please wait a minute and try again.")),
    500: (_l("Something went wrong"), _l("The error was logged. Please try again later.")),
}


def _back_link() -> str | None:
    """Where the visitor came from, to lead them back: the referring page when it is on
    this site (its path only: never an open redirect), else for a candidate's upload their
    work page, else the page a form posted from; None when there is nothing sensible.
    (Pages send no Referer: the candidate's link must not leak.)"""
    referrer = request.referrer or ""
    parts = urlsplit(referrer)
    same_site = referrer and parts.netloc == request.host and parts.path.startswith("/")
    if same_site and parts.path != request.path and not parts.path.startswith("//"):
        return parts.path + (f"?{parts.query}" if parts.query else "")
    segments = request.path.split("/")
    if len(segments) > 3 and segments[1] == "c":
        return f"/c/{segments[2]}/work"
    if request.method == "POST" and request.path.count("/") > 1:
        # A form posts to its page's address plus an action (…/5/invite-csv → …/5).
        return request.path.rsplit("/", 1)[0]
    return None


def _page(code: int, message=None):
    title, default = MESSAGES.get(code, MESSAGES[500])
    return render_template(
        "errors/error.html",
        code=code,
        title=title,
        message=message or default,
        back=_back_link() if code in (400, 413, 429) else None,
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
