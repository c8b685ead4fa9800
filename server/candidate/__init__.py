"""Candidate pages: no account, the link's token is the key."""

from flask import Blueprint

bp = Blueprint("candidate", __name__)

from server.candidate import routes  # noqa: E402,F401
