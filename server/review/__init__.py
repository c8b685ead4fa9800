"""The hiring team's pages: candidates table, reports, theory answers, decisions."""

from flask import Blueprint

bp = Blueprint("review", __name__)

from server.review import routes  # noqa: E402,F401
