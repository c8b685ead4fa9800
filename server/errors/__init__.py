"""App-wide error pages: a human message, never a stack trace."""

from flask import Blueprint

bp = Blueprint("errors", __name__)

from server.errors import routes  # noqa: E402,F401
