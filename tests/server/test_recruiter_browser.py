"""The recruiter's invitation rows in Debian's chromium: one form per row whose buttons post
to their own action (``formaction``), each with the page's CSRF token, and Enter in a field
sends nothing (the form's first button is a disabled one), so typing a number of days can
never resend a candidate's link by mistake.

The app runs in a thread on 127.0.0.1 over the test's migrated database, CSRF on.
"""

from __future__ import annotations

import pytest

from server.models import Invitation
from tests.server.conftest import CHROMIUM, PASSWORD


@pytest.fixture(autouse=True)
def _csrf_on(app):
    app.config["WTF_CSRF_ENABLED"] = True  # every button must carry the token


def test_each_rows_buttons_do_their_action_and_enter_does_nothing(
    live, db, make_user, make_assessment, make_invitation
):
    from playwright.sync_api import expect, sync_playwright

    recruiter = make_user(role="recruiter")
    assessment = make_assessment(owner=recruiter)
    invitation, _ = make_invitation(assessment=assessment, candidate_name="Rowan Browser")
    token, expires = invitation.token_hash, invitation.expires_at

    def current() -> Invitation:
        db.expire_all()
        return db.get(Invitation, invitation.id)

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM))
        page = browser.new_page()
        # Resend and Revoke ask for confirmation (test_first_hour_browser.py cancels one).
        page.on("dialog", lambda dialog: dialog.accept())
        page.goto(live + "/login")
        page.fill("input[name=email]", recruiter.email)
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit], input[type=submit]")
        page.goto(f"{live}/recruiter/assessments/{assessment.id}")
        row = page.locator(f"#inv-{invitation.id}")
        row.locator("input[name=days]").fill("3")
        row.locator("input[name=days]").press("Enter")
        row.locator("input[name=factor]").press("Enter")
        page.wait_for_timeout(700)
        assert (current().token_hash, current().expires_at) == (token, expires)  # nothing sent
        assert page.locator(".flash").count() == 0

        row.locator("input[name=days]").fill("3")
        row.get_by_role("button", name="Extend (days)").click()
        expect(page.locator(".flash")).to_contain_text("Saved.")
        assert current().expires_at > expires and current().token_hash == token
        row = page.locator(f"#inv-{invitation.id}")
        row.locator("input[name=factor]").fill("1.5")
        row.get_by_role("button", name="Set time factor").click()
        expect(page.locator(".flash")).to_contain_text("Saved.")
        assert current().extra_time_factor == 1.5
        page.locator(f"#inv-{invitation.id}").get_by_role("button", name="Resend").click()
        expect(page.locator(".flash")).to_contain_text("A new link was sent")
        assert current().token_hash != token  # a new link
        page.locator(f"#inv-{invitation.id}").get_by_role("button", name="Revoke").click()
        expect(page.locator(f"#inv-{invitation.id} .state")).to_have_text("revoked")
        assert current().revoked_at is not None
        browser.close()
