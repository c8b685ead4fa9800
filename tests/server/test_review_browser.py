"""The reviewer's story in Debian's chromium: table, sort, report (verdict, plots,
highlighted code), theory answers with highlights, confirm one score, override another with a
reason, decide; the CSV export opens. Screenshots go to ``ASSAY_SCREENSHOTS``
(``docs/screenshots`` when refreshing the docs), else to the test's temporary folder.

The app runs in a thread on 127.0.0.1 over the same migrated test database as the other
review tests (the grading itself is covered by the candidate's browser story).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from server.models import TheoryReview
from tests.server.conftest import CHROMIUM, PASSWORD
from tests.server.test_review import build_world


@pytest.fixture
def world(db, make_user, make_assessment, make_invitation):
    return build_world(db, make_user, make_assessment, make_invitation)


@pytest.fixture
def shots(tmp_path) -> Path:
    folder = Path(os.environ.get("ASSAY_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def test_reviewer_story(live, world, db, shots):
    from playwright.sync_api import expect, sync_playwright

    reviewer = world["people"]["reviewer"]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM))
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(live + "/login")
        page.fill("input[name=email]", reviewer.email)
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit], input[type=submit]")
        page.click("text=Review")
        page.click(f"a[href='/review/assessments/{world['assessment']}']")
        expect(page.locator("table.candidates")).to_contain_text("Candidate 1")
        page.click("a.sort:has-text('Candidate')")  # ascending is the default: now descending
        page.click("a.sort:has-text('Candidate')")
        page.screenshot(path=shots / "review-candidates.png", full_page=True)

        page.click("text=lenet5-mnist: graded")
        expect(page.locator("#verdict h2")).to_contain_text("Passed")
        expect(page.locator("#verdict")).to_contain_text("+0.0200")
        images = page.locator("#plots img")
        expect(images).to_have_count(2)
        assert all(
            page.evaluate("(img) => img.naturalWidth > 100", images.nth(i).element_handle())
            for i in range(2)
        )
        expect(page.locator("#code .highlight .kn").first).to_have_text("import")
        expect(page.locator("#code .highlight .k").first).to_have_text("def")
        expect(page.locator("#explain")).to_contain_text("most frequent mistake")
        page.screenshot(path=shots / "review-report.png", full_page=True)
        page.emulate_media(media="print")
        page.screenshot(path=shots / "review-report-print.png", full_page=True)
        page.emulate_media(media="screen")

        page.goto(live + f"/review/candidates/{world['alice']}")
        expect(page.locator("mark.credit").first).to_be_visible()
        first = page.locator("#q-class-imbalance")
        first.locator("button[value=confirm]").click()
        second = page.locator("#q-evaluation-metrics")
        second.locator("input[name=score]").fill("2")
        second.locator("input[name=reason]").fill("names the metrics without explaining them")
        second.locator("button[value=override]").click()
        expect(page.locator("#q-evaluation-metrics")).to_contain_text("overridden")
        page.check("input[value=advance]")
        page.fill("textarea[name=note]", "solid model, good theory")
        page.click("text=Record decision")
        expect(page.locator("ul.decisions")).to_contain_text("advance by Rita Reviewer")
        page.screenshot(path=shots / "review-candidate.png", full_page=True)

        page.goto(live + "/review/theory")
        expect(page.locator("body")).to_contain_text("Common wrong answers")
        page.screenshot(path=shots / "review-explanations.png")

        csv = page.request.get(live + f"/review/assessments/{world['assessment']}/export.csv")
        assert csv.ok and csv.headers["content-type"].startswith("text/csv")
        assert csv.text().splitlines()[1].startswith("Candidate 1,")
        browser.close()
    actions = sorted(r.action for r in db.query(TheoryReview))
    assert actions == ["confirm", "override"]
