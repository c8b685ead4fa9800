"""The reviewer's story in Debian's chromium: table, sort, report (verdict, plots,
highlighted code), theory answers with the evidence highlighted, every key point marked with
the keyboard alone (one key a mark, no page reload, CSRF on), decide; the CSV export opens. Screenshots go to ``ASSAY_SCREENSHOTS``
(``docs/screenshots`` when refreshing the docs), else to the test's temporary folder.

The app runs in a thread on 127.0.0.1 over the same migrated test database as the other
review tests (the grading itself is covered by the candidate's browser story).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import sqlalchemy as sa

from server.models import TheoryMark
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


def test_reviewer_story(app, live, world, db, shots):
    app.config["WTF_CSRF_ENABLED"] = True  # the script's JSON posts must carry the token
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

        page.click("text=LeNet-5 handwritten digit classifier: graded")  # the title, not the slug
        expect(page.locator("#verdict h2")).to_contain_text("Passed")
        expect(page.locator("#verdict")).to_contain_text("+0.02")
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
        expect(page.locator("mark.mentioned").first).to_be_visible()
        expect(page.locator("body")).not_to_contain_text("uggested")
        page.evaluate("window.notReloaded = true")
        first = page.locator("#q-class-imbalance")
        first.locator("li.mark-item").first.focus()
        for _point in range(7):  # c marks "correct" and moves to the next point
            page.keyboard.press("c")
        expect(first.locator(".my-marking")).to_have_text("Your marking: 10 / 10")
        expect(first.locator(".answer-state")).to_have_text(
            "Score 10 / 10, marked by Rita Reviewer"
        )
        # The focus went on to the next question's first point; back up one and say "partly".
        page.keyboard.press("ArrowUp")
        focused = page.evaluate("document.activeElement.getAttribute('data-item')")
        assert focused == "imbalance-metrics"
        page.keyboard.press("p")
        expect(first.locator(".my-marking")).to_have_text("Your marking: 9 / 10")
        expect(first.locator("li[data-item=imbalance-metrics] .current-mark")).to_have_text(
            "partly"
        )
        # A misconception the reading did not flag, added from the bank: open, focus, "y".
        first.locator("details summary").first.click()
        first.locator("li[data-item=accuracy-is-enough]").focus()
        page.keyboard.press("y")
        expect(first.locator(".my-marking")).to_have_text("Your marking: 7 / 10")
        second = page.locator("#q-evaluation-metrics")
        second.locator("li.mark-item").first.focus()
        page.keyboard.press("ArrowDown")
        page.keyboard.press("j")  # j and k move too
        page.keyboard.press("k")
        page.keyboard.press("k")
        page.keyboard.press("w")
        expect(second.locator("li[data-item=accuracy-limits] .current-mark")).to_have_text(
            "wrong or missing"
        )
        expect(second.locator(".my-marking")).to_have_text("Your marking: 1 of 8 key points marked")
        assert page.evaluate("window.notReloaded") is True  # every mark without a reload
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
    marks = db.scalars(sa.select(TheoryMark).order_by(TheoryMark.id)).all()
    assert len(marks) == 10  # each key press saved, the changed one kept in the history
    assert [m.mark for m in marks if m.item_id == "imbalance-metrics"] == ["correct", "partly"]
    assert (marks[-1].question_id, marks[-1].item_id, marks[-1].mark) == (
        "evaluation-metrics",
        "accuracy-limits",
        "wrong",
    )
    assert marks[-2].item_id == "accuracy-is-enough" and marks[-2].mark == "present"
