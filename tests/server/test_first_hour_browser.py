"""The first hour (issue 20) in Debian's chromium, English and Chinese: the recruiter's link
shown once and copied, Resend and Revoke confirmed (Cancel sends nothing), a past deadline
as a form error, preview and edit; the candidate's page turning read-only at 0:00 with the
draft handed in by the clock, "Finish" after the list of what is unanswered, the landing page
past the deadline, the 413 page leading back; the reviewer's home and the candidate summary.

Screenshots go to ``ASSAY_SCREENSHOTS`` (else the test's temporary folder). The app runs in a
thread on 127.0.0.1 over the test's migrated database, CSRF on.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from server.models import Invitation, ReviewAssignment, utcnow
from tests.server.conftest import CHROMIUM, PASSWORD
from tests.server.test_review import _submission, graded_report


@pytest.fixture(autouse=True)
def _csrf_on(app):
    app.config["WTF_CSRF_ENABLED"] = True


@pytest.fixture
def shots(tmp_path) -> Path:
    folder = Path(os.environ.get("ASSAY_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def chromium():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM))
        yield browser
        browser.close()


def _page(browser, live, lang: str):
    context = browser.new_context(
        viewport={"width": 1200, "height": 900},
        locale="zh-CN" if lang == "zh" else "en-US",
        extra_http_headers={"Accept-Language": "zh-CN,zh;q=0.9" if lang == "zh" else "en"},
    )
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live)
    return context.new_page()


def _log_in(page, live, user):
    page.goto(live + "/login")
    page.fill("input[name=email]", user.email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit], input[type=submit]")


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_recruiter_link_copy_confirmations_deadline_preview(
    live, chromium, db, make_user, shots, lang
):
    from playwright.sync_api import expect

    recruiter = make_user(role="recruiter")
    page = _page(chromium, live, lang)
    _log_in(page, live, recruiter)

    # A deadline in 2020 is a form error, next to the field; nothing is created.
    page.goto(live + "/recruiter/assessments/new")
    expect(page.locator("#bars-help-sentiment-bilstm")).to_contain_text("roc_auc ≥ 0.75")
    page.fill("input[name=title]", "First hour")
    page.check("input[name=challenges][value=lenet5-mnist]")
    page.check("input[name=theory][value=class-imbalance]")
    page.fill("input[name=deadline]", "2020-01-01T10:00")
    page.locator("form.stack button.button, form.stack input[type=submit]").click()
    expect(page.locator(".field-error")).to_be_visible()
    page.screenshot(path=shots / f"recruiter-deadline-error-{lang}.png", full_page=True)
    page.fill("input[name=deadline]", "2099-01-01T10:00")
    page.locator("form.stack button.button, form.stack input[type=submit]").click()
    expect(page.locator("h1")).to_have_text("First hour")

    # Inviting shows the link once, with a copy button that copies it.
    page.fill("input[name=name]", "Nia Candidate")
    page.fill("input[name=email]", "nia@example.test")
    page.locator(
        "form:has(input[name=email]) button, form:has(input[name=email]) input[type=submit]"
    ).first.click()
    box = page.locator("#new-links")
    expect(box).to_be_visible()
    link = box.locator("input.link-field").input_value()
    assert "/c/" in link
    box.locator("button[data-copy]").click()
    expect(box.locator("button[data-copy]")).to_have_text("已复制" if lang == "zh" else "Copied")
    assert page.evaluate("navigator.clipboard.readText()") == link
    page.screenshot(path=shots / f"recruiter-link-once-{lang}.png", full_page=True)
    page.reload()
    expect(page.locator("#new-links")).to_have_count(0)  # shown once

    invitation = db.scalar(
        sa.select(Invitation).where(Invitation.candidate_email == "nia@example.test")
    )
    row = page.locator(f"#inv-{invitation.id}")
    token_hash = invitation.token_hash

    def current() -> Invitation:
        db.expire_all()
        return db.get(Invitation, invitation.id)

    # Resend and Revoke ask first; Cancel sends nothing.
    asked: list[str] = []
    page.once("dialog", lambda d: (asked.append(d.message), d.dismiss()))
    row.locator("button").nth(1).click()  # Resend (the hidden Enter guard is first)
    page.wait_for_timeout(500)
    assert asked and "nia@example.test" in asked[0] and current().token_hash == token_hash
    page.once("dialog", lambda d: d.accept())
    row.locator("button").nth(1).click()
    expect(page.locator("#new-links")).to_be_visible()
    assert current().token_hash != token_hash
    new_link = page.locator("#new-links input.link-field").input_value()
    assert new_link != link

    asked.clear()
    page.once("dialog", lambda d: (asked.append(d.message), d.dismiss()))
    page.locator(f"#inv-{invitation.id}").locator("button").nth(2).click()  # Revoke
    page.wait_for_timeout(500)
    assert asked and current().revoked_at is None
    page.once("dialog", lambda d: d.accept())
    page.locator(f"#inv-{invitation.id}").locator("button").nth(2).click()
    expect(page.locator(f"#inv-{invitation.id} .state")).to_have_class("state revoked")
    assert current().revoked_at is not None

    # The recruiter's own outbox holds the mails with their links.
    page.click("nav a[href='/recruiter/outbox']")
    expect(page.locator("main")).to_contain_text(new_link)

    # Preview: the candidate's view, nothing to press.
    page.goto(f"{live}/recruiter/assessments/{invitation.assessment_id}/preview")
    expect(page.locator(".preview-banner")).to_be_visible()
    expect(page.locator("#preview-landing")).to_contain_text("LeNet")
    page.screenshot(path=shots / f"recruiter-preview-{lang}.png")
    page.goto(f"{live}/recruiter/assessments/{invitation.assessment_id}/edit")
    expect(page.locator("#tier-help")).to_be_visible()
    page.screenshot(path=shots / f"recruiter-edit-{lang}.png", full_page=True)

    # The same email again: a warning, and a second invitation only when asked (CSRF on).
    page.goto(f"{live}/recruiter/assessments/{invitation.assessment_id}")
    page.fill("input[name=name]", "Nia Again")
    page.fill("input[name=email]", "other@example.test")
    invite_button = "form:has(input[name=email]:not([type=hidden])) button.button, form:has(input[name=email]) input[type=submit]"
    page.locator(invite_button).first.click()
    expect(page.locator("#new-links")).to_be_visible()
    page.fill("input[name=name]", "Other Again")
    page.fill("input[name=email]", "OTHER@example.test")
    page.locator(invite_button).first.click()
    expect(page.locator("#duplicate-warning")).to_be_visible()
    page.screenshot(path=shots / f"recruiter-duplicate-{lang}.png")
    page.locator("#duplicate-warning button").click()
    expect(page.locator("#new-links")).to_be_visible()
    db.expire_all()
    count = db.scalar(
        sa.select(sa.func.count(Invitation.id)).where(
            Invitation.candidate_email == "other@example.test"
        )
    )
    assert count == 2


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_candidate_page_turns_read_only_at_zero_and_the_draft_is_handed_in(
    live, chromium, db, make_assessment, make_invitation, shots, lang
):
    from playwright.sync_api import expect

    assessment = make_assessment(time_limit_minutes=1)
    invitation, token = make_invitation(
        assessment=assessment, opened_at=utcnow() - timedelta(seconds=50)
    )
    page = _page(chromium, live, lang)
    page.goto(f"{live}/c/{token}/work")
    expect(page.locator("input[type=file]")).to_be_visible()
    box = page.locator("form#q-class-imbalance textarea")
    box.fill("Stratified splits and per-class recall.")
    expect(page.locator("form#q-class-imbalance .saved")).not_to_be_empty(timeout=5000)
    # 0:00 by the server's clock: nothing to upload or submit any more.
    expect(page.locator("input[type=file]")).to_be_hidden(timeout=15000)
    assert box.evaluate("b => b.readOnly || b.disabled")
    expect(page.locator("button[name=final]:visible")).to_have_count(0)
    # The reload brings the server's page: the draft was handed in by the clock.
    expect(page.locator("form#q-class-imbalance .saved")).to_contain_text(
        "自动提交" if lang == "zh" else "Submitted by the clock", timeout=10000
    )
    expect(page.locator("input[type=file]")).to_have_count(0)
    page.screenshot(path=shots / f"candidate-time-over-{lang}.png", full_page=True)
    db.expire_all()
    answer = db.get(Invitation, invitation.id).answers[0]
    assert answer.submitted_by_clock and answer.text.startswith("Stratified")


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_candidate_finishes_early_after_seeing_what_is_unanswered(
    live, chromium, db, make_invitation, shots, lang
):
    from playwright.sync_api import expect

    invitation, token = make_invitation(opened_at=utcnow())
    page = _page(chromium, live, lang)
    page.goto(f"{live}/c/{token}/work")
    page.locator("form#q-class-imbalance textarea").fill("A draft answer.")
    expect(page.locator("form#q-class-imbalance .saved")).not_to_be_empty(timeout=5000)
    page.click("#finish")
    expect(page.locator("#unanswered")).to_contain_text("LeNet")
    page.screenshot(path=shots / f"candidate-finish-{lang}.png", full_page=True)
    page.locator("form button, form input[type=submit]").last.click()
    expect(page.locator(".flash.ok").first).to_be_visible()
    expect(page.locator("input[type=file]")).to_have_count(0)
    db.expire_all()
    done = db.get(Invitation, invitation.id)
    assert done.finished_at is not None and done.answers[0].submitted_at is not None


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_past_deadline_landing_and_the_413_page(
    live, chromium, make_assessment, make_invitation, shots, tmp_path, lang
):
    from playwright.sync_api import expect

    late = make_assessment(deadline=utcnow() - timedelta(hours=2))
    _late_invitation, late_token = make_invitation(assessment=late)
    page = _page(chromium, live, lang)
    page.goto(f"{live}/c/{late_token}")
    expect(page.locator("#deadline-passed")).to_be_visible()
    expect(page.locator(f"form[action='/c/{late_token}/start']")).to_have_count(0)
    page.screenshot(path=shots / f"candidate-deadline-passed-{lang}.png")

    _invitation, token = make_invitation(opened_at=utcnow())
    big = tmp_path / "huge.py"
    big.write_bytes(b"#" * (4 * 1024 * 1024))
    page.goto(f"{live}/c/{token}/work")
    page.set_input_files("form[enctype] input[type=file]", str(big))
    page.locator("form[enctype] button, form[enctype] input[type=submit]").first.click()
    expect(page.locator("#go-back")).to_be_visible()
    expect(page.locator("main")).to_contain_text("2 MB")
    page.screenshot(path=shots / f"error-413-{lang}.png")
    page.click("#go-back")
    expect(page).to_have_url(f"{live}/c/{token}/work")


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_reviewer_home_and_candidate_summary(
    live, chromium, db, make_user, make_assessment, make_invitation, shots, lang
):
    from playwright.sync_api import expect

    reviewer = make_user(role="reviewer", name="Rita Reviewer")
    assessment = make_assessment(title="Backend hires", blind_review=False)
    db.add(ReviewAssignment(assessment_id=assessment.id, user_id=reviewer.id))
    invitation, _ = make_invitation(
        assessment=assessment, candidate_name="Olga Graded", opened_at=utcnow()
    )
    _submission(db, invitation, graded_report(), "graded")
    page = _page(chromium, live, lang)
    _log_in(page, live, reviewer)
    expect(page.locator("#home-assessments")).to_contain_text("Backend hires")
    expect(page.locator("nav a[href='/review/tokens']")).to_be_visible()
    page.screenshot(path=shots / f"reviewer-home-{lang}.png")
    page.click("text=Backend hires")
    page.click("text=Olga Graded")
    headline = {"en": "Accuracy 0.95 / 0.93", "zh": "准确率 0.95 / 0.93"}[lang]  # its label
    expect(page.locator("#summary")).to_contain_text(headline)
    page.screenshot(path=shots / f"review-candidate-summary-{lang}.png")
