"""Recruiter pages: assessments, invitations and their states."""

from flask import Blueprint

bp = Blueprint("recruiter", __name__)

from server.recruiter import routes  # noqa: E402,F401
