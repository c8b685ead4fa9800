"""``/api/v1``: JSON for applicant-tracking systems, with per-user API tokens.

Authentication is a bearer token only (never the session cookie), so the blueprint is
exempt from CSRF: a browser cannot attach a bearer token to a forged request.
"""

from flask import Blueprint

bp = Blueprint("api", __name__)

from server.api import routes  # noqa: E402,F401
