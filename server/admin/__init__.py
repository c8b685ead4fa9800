"""Admin pages: staff users and their roles, and the demo's mail outbox."""

from flask import Blueprint

bp = Blueprint("admin", __name__)

from server.admin import routes  # noqa: E402,F401
