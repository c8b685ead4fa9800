"""Accessibility: axe-core (WCAG 2.1 A and AA rules) on every page of every audience, in
English and in Chinese, in Debian's chromium: no critical or serious violation.

axe-core is pinned in tests/browser/package-lock.json and installed by
``scripts/install-browser-deps.sh`` (``make test`` runs it). The pages carry a strict
Content-Security-Policy (no inline scripts), so the browser context bypasses CSP to inject
axe; the pages' own behaviour is unchanged. Screenshots of every page go to
``ASSAY_SCREENSHOTS`` when set.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.server.conftest import CHROMIUM, PASSWORD
from tests.server.site_pages import build_site, pages

AXE = Path(__file__).resolve().parents[1] / "browser" / "node_modules" / "axe-core" / "axe.min.js"
WCAG_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
SERIOUS = ("critical", "serious")


@pytest.fixture
def site(db, make_user, make_assessment, make_invitation, tmp_path):
    return build_site(db, make_user, make_assessment, make_invitation, tmp_path)


@pytest.fixture
def axe_source(skip_or_fail) -> str:
    if not AXE.exists():
        skip_or_fail("axe-core is not installed: run scripts/install-browser-deps.sh")
    return AXE.read_text()


def _context(browser, live: str, locale: str, user=None):
    context = browser.new_context(
        locale=locale, bypass_csp=True, viewport={"width": 1280, "height": 900}
    )
    if user is not None:
        page = context.new_page()
        page.goto(live + "/login")
        page.fill("input[name=email]", user.email)
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit], input[type=submit]")
        page.wait_for_url(lambda url: "/login" not in url)
        page.close()
    return context


def _violations(page, axe_source: str) -> list[dict]:
    # Folded parts (logs, code, details) are checked open: axe skips what is hidden.
    page.evaluate("document.querySelectorAll('details').forEach(d => { d.open = true; })")
    page.evaluate(axe_source + "\n;undefined")
    return page.evaluate(
        """async (tags) => {
            const result = await axe.run(document, {
                runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']});
            return result.violations.map(v => ({
                id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.map(n => n.target.join(' ') + ' :: '
                    + (n.failureSummary || '').split('\\n').slice(0, 2).join(' '))}));
        }""",
        WCAG_AA,
    )


@pytest.mark.slow
def test_no_page_has_a_critical_or_serious_wcag_violation(live, site, axe_source):
    from playwright.sync_api import sync_playwright

    shots = os.environ.get("ASSAY_SCREENSHOTS")
    people = {
        "anonymous": None,
        "candidate": None,
        "admin": site["people"]["admin"],
        "recruiter": site["people"]["owner"],
        "reviewer": site["people"]["reviewer"],
    }
    found: list[str] = []
    visited = 0
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM))
        for locale in ("en-US", "zh-CN"):
            contexts = {}
            for row in pages(site):
                if row.who not in contexts:
                    contexts[row.who] = _context(browser, live, locale, people[row.who])
                page = contexts[row.who].new_page()
                response = page.goto(live + row.path)
                assert response is not None and response.status < 500, row.name
                expected_lang = "zh" if locale.startswith("zh") else "en"
                lang = page.get_attribute("html", "lang") or ""
                assert lang.split("-")[0] == expected_lang, row.name
                for v in _violations(page, axe_source):
                    if v["impact"] in SERIOUS:
                        found.append(
                            f"[{locale}] {row.name}: {v['id']} ({v['impact']}) {v['help']}"
                        )
                        found.extend(f"      {node}" for node in v["nodes"][:5])
                if shots:
                    name = row.name.strip("/").replace("/", "_")[:80]
                    page.screenshot(path=Path(shots) / f"a11y-{locale}-{name}.png", full_page=True)
                page.close()
                visited += 1
            for context in contexts.values():
                context.close()
        browser.close()
    assert visited == 2 * len(pages(site))
    assert not found, "\n".join(found)
