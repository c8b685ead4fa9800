"""Every HTML page of the site, for each audience, over one world: the accessibility story
(axe-core in chromium) and the Chinese rendering test visit the same table.

``PAGES`` maps a GET endpoint to the pages that show it, each visited as one audience
(``anonymous``, ``candidate``, ``admin``, ``recruiter``, ``reviewer``). ``test_every_page_is_
in_the_table`` (in tests/server/test_i18n_pages.py) fails when a new HTML endpoint is added
without a row here, so new pages are checked for accessibility and translation too.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from server.models import Webhook, WebhookDelivery, utcnow
from tests.server.test_review import _submission, build_world, graded_report

REFERENCE = Path(__file__).resolve().parents[2] / "challenges/lenet5-mnist/reference/solution.py"

#: GET endpoints that are not HTML pages for people (files, JSON, redirects, operations).
NOT_PAGES = {
    "static",
    "healthz",
    "index",
    "ops.readyz",
    "ops.metrics",
    "candidate.starter",
    "candidate.progress",
    # A fragment polled by recruiter.assessment, which renders the same template inline.
    "recruiter.backlog",
    "review.report_json",
    "review.export",
}


@dataclass(frozen=True)
class Page:
    endpoint: str
    who: str
    path: str

    @property
    def name(self) -> str:
        return f"{self.who}{self.path}"


def _flags(folder: Path) -> list[dict]:
    """A reviewer flag as the grading makes it (graders.scoring.score_shadow): a shadow-set
    gap, with its code and parameters. (The source signals' flags carry English messages
    only: graders/signals.py changed on main meanwhile; see docs/web.md.)"""
    return [
        {
            "kind": "shadow",
            "message": "accuracy drops ...",
            "code": "shadow_gap",
            "params": {
                "metric": "accuracy",
                "test": 0.99,
                "shadow": 0.41,
                "gap": 0.58,
                "max_gap": 0.1,
            },
        }
    ]


def build_site(db, make_user, make_assessment, make_invitation, tmp_folder: Path) -> dict:
    """The review tests' world (Alice graded, Bob failed, Carol not started), plus: Dan
    started with nothing answered yet, Carol's link, explanations open for Alice, and a
    webhook with a failed delivery (its log box)."""
    world = build_world(db, make_user, make_assessment, make_invitation)
    from server.models import Assessment

    assessment = db.get(Assessment, world["assessment"])
    assessment.show_explanations_to_candidate = True
    assessment.show_scores_to_candidate = True  # the candidate's page shows the metrics
    _, world["carol_token"] = make_invitation(assessment=assessment, candidate_name="Carol Two")
    dan, world["dan_token"] = make_invitation(
        assessment=assessment, candidate_name="Dan Started", opened_at=utcnow()
    )
    # A real solution (every kind of token the highlighter colours) and a log long enough
    # to scroll in its box.
    report = graded_report()
    report.logs = {
        "train stdout": "".join(f"epoch {i}/200 - loss: 0.{i:04d}\n" for i in range(200))
    }
    # An assessment nobody has started: its edit page is open.
    world["fresh"] = make_assessment(owner=world["people"]["owner"], title="Fresh one").id
    report.flags = _flags(tmp_folder)
    world["dan_sub"] = _submission(db, dan, report, "graded", source=REFERENCE.read_text()).id
    hook = Webhook(
        owner_id=world["people"]["owner"].id,
        url="https://hooks.example.test/assay",
        secret="s",
        events=["decision.made"],
    )
    db.add(hook)
    db.flush()
    db.add(
        WebhookDelivery(
            webhook_id=hook.id,
            event="decision.made",
            payload="{}",
            status="failed",
            attempts=2,
            log="2026-12-05T10:00:00 try 1: unreachable; next try in 10s\n"
            "2026-12-05T10:00:10 try 2: 5xx; gave up after 2 tries",
        )
    )
    db.commit()
    return world


def pages(world: dict) -> list[Page]:
    a, alice, bob = world["assessment"], world["alice"], world["bob"]
    sub, bob_sub, fresh = world["sub"], world["bob_sub"], world["fresh"]
    admin = world["people"]["admin"].id
    token, carol, dan = world["token"], world["carol_token"], world["dan_token"]
    rows = [
        ("auth.login", "anonymous", "/login"),
        ("errors.not_found", "anonymous", "/no-such-page"),
        ("candidate.landing", "candidate", f"/c/{carol}"),
        ("candidate.landing", "candidate", "/c/not-a-valid-link-token"),
        ("candidate.work", "candidate", f"/c/{dan}/work"),
        ("candidate.finish", "candidate", f"/c/{dan}/finish"),
        ("candidate.work", "candidate", f"/c/{token}/work"),
        ("candidate.statement", "candidate", f"/c/{dan}/challenges/lenet5-mnist"),
        ("candidate.submission", "candidate", f"/c/{token}/submissions/{sub}"),
        ("candidate.submission", "candidate", f"/c/{dan}/submissions/{world['dan_sub']}"),
        ("candidate.explanations", "candidate", f"/c/{token}/explanations"),
        ("auth.home", "admin", "/home"),
        ("admin.users", "admin", "/admin/users"),
        ("admin.edit_user", "admin", f"/admin/users/{admin}"),
        ("admin.outbox", "admin", "/admin/outbox"),
        ("recruiter.assessments", "recruiter", "/recruiter/"),
        ("recruiter.new_assessment", "recruiter", "/recruiter/assessments/new"),
        ("recruiter.assessment", "recruiter", f"/recruiter/assessments/{a}"),
        ("recruiter.edit_assessment", "recruiter", f"/recruiter/assessments/{fresh}/edit"),
        ("recruiter.preview", "recruiter", f"/recruiter/assessments/{a}/preview"),
        ("recruiter.outbox", "recruiter", "/recruiter/outbox"),
        ("review.tokens", "recruiter", "/review/tokens"),
        ("review.webhooks", "recruiter", "/review/webhooks"),
        ("review.audit_log", "recruiter", f"/review/assessments/{a}/audit"),
        ("review.calibration", "reviewer", f"/review/assessments/{a}/calibration"),
        ("auth.home", "reviewer", "/home"),
        ("auth.password", "reviewer", "/password"),
        ("review.assessments", "reviewer", "/review/"),
        ("review.candidates", "reviewer", f"/review/assessments/{a}"),
        ("review.candidate", "reviewer", f"/review/candidates/{alice}"),
        ("review.candidate", "reviewer", f"/review/candidates/{bob}"),
        ("review.report", "reviewer", f"/review/submissions/{sub}"),
        ("review.report", "reviewer", f"/review/submissions/{bob_sub}"),
        ("review.report", "reviewer", f"/review/submissions/{world['dan_sub']}"),
        ("review.similarity_view", "reviewer", f"/review/submissions/{sub}/similar/{bob_sub}"),
        ("review.explanations", "reviewer", "/review/theory"),
    ]
    return [Page(*row) for row in rows]


def html_endpoints(app) -> set[str]:
    """Every GET endpoint of ``app`` that renders a page for people."""
    found = set()
    for rule in app.url_map.iter_rules():
        api = rule.endpoint.startswith("api.")
        if "GET" in rule.methods and rule.endpoint not in NOT_PAGES and not api:
            found.add(rule.endpoint)
    return found
