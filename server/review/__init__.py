"""The hiring team's pages, one module per concern, all on this blueprint: ``routes``
(assessments, the candidates table, a candidate's page, theory marking, decisions),
``report_routes`` (a submission's report, similarity, re-grades), ``retention_routes``
(deleting a candidate's data, the retention period) and ``integration_routes`` (API tokens
and webhooks). ``routes`` imports the other three."""

from flask import Blueprint

bp = Blueprint("review", __name__)

from server.review import routes  # noqa: E402,F401
