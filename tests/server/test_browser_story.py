"""The whole story in a real browser, against live ``assay serve`` and ``assay worker``.

Debian's chromium (``/usr/bin/chromium``; Playwright's own browser download is not
reachable here). The admin creates a recruiter; the recruiter creates an assessment and
invites a candidate; the candidate opens the link, answers a theory question (the draft is
saved as typing stops), uploads the reference LeNet solution and watches it to a result; an
expired link shows its page; the candidate's pages load in Chinese.

Screenshots go to ``ASSAY_SCREENSHOTS`` (``docs/screenshots`` when refreshing the docs),
else to the test's temporary folder.
"""

from __future__ import annotations

import json
import os
import re
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from server.cli import gunicorn_argv

CHROMIUM = Path("/usr/bin/chromium")
REFERENCE = Path("challenges/lenet5-mnist/reference/solution.py").resolve()
ADMIN, RECRUITER, PASSWORD = "admin@example.test", "rita@example.test", "a demo password 1"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_healthy(url: str, proc: subprocess.Popen, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert proc.poll() is None, "assay serve exited"
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise AssertionError("the web app did not answer /healthz")


@pytest.fixture
def live(tmp_path, prepared_data, skip_or_fail):
    """Web app (gunicorn, 2 workers) on 127.0.0.1; ``start_worker()`` starts ``assay worker``."""
    if not CHROMIUM.exists():
        skip_or_fail("Debian's chromium is not installed (apt-get install chromium)")
    try:
        import playwright  # noqa: F401
    except ImportError:
        skip_or_fail("the playwright package is not installed")
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    env = os.environ | {
        "ASSAY_INSTANCE": str(tmp_path / "instance"),
        "ASSAY_MAIL_URL": "outbox",
        "ASSAY_BASE_URL": base,
    }
    env.pop("ASSAY_DATABASE_URL", None)
    env.pop("ASSAY_QUEUE_URL", None)
    assay = [str(Path(sys.executable).parent / "assay")]
    subprocess.run(
        [
            *assay,
            "admin",
            "create-user",
            "--email",
            ADMIN,
            "--name",
            "Ada Admin",
            "--role",
            "admin",
            "--password",
            PASSWORD,
        ],
        env=env,
        check=True,
        capture_output=True,
    )
    procs = [
        subprocess.Popen(
            gunicorn_argv("127.0.0.1", port, 2),
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    ]
    _wait_healthy(base, procs[0])

    def start_worker() -> None:
        procs.append(subprocess.Popen([*assay, "worker"], env=env))

    yield base, tmp_path / "instance" / "assay.db", start_worker
    for proc in procs:
        proc.terminate()
    for proc in procs:
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


def _sql(db: Path, query: str, *args):
    with sqlite3.connect(db, timeout=15) as connection:
        rows = connection.execute(query, args).fetchall()
    return rows


@pytest.mark.slow
def test_the_story_in_a_browser(live, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    base, db, start_worker = live
    shots = Path(os.environ.get("ASSAY_SCREENSHOTS") or tmp_path / "screenshots")
    shots.mkdir(parents=True, exist_ok=True)

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        staff = browser.new_page(locale="en-US", viewport={"width": 1200, "height": 900})

        def shot(page, name):
            page.screenshot(path=str(shots / f"{name}.png"), full_page=True)

        def log_in(email):
            staff.goto(base + "/login")
            staff.fill("input[name=email]", email)
            staff.fill("input[name=password]", PASSWORD)
            staff.click("input[type=submit]")

        # The admin creates a recruiter.
        log_in(ADMIN)
        staff.goto(base + "/admin/users")
        staff.fill("input[name=email]", RECRUITER)
        staff.fill("input[name=name]", "Rita Recruiter")
        staff.select_option("select[name=role]", "recruiter")
        staff.fill("input[name=password]", PASSWORD)
        staff.click("text=Create user")
        expect(staff.locator("table")).to_contain_text(RECRUITER)
        shot(staff, "admin-users")
        staff.click("text=Log out")

        # The recruiter creates an assessment and invites two candidates.
        log_in(RECRUITER)
        staff.goto(base + "/recruiter/assessments/new")
        staff.fill("input[name=title]", "ML engineer, spring")
        staff.check("input[name=challenges][value=lenet5-mnist]")
        staff.check("input[name=theory][value=class-imbalance]")
        staff.fill("input[name=time_limit_minutes]", "90")
        staff.check("input[name=show_scores_to_candidate]")
        shot(staff, "recruiter-new-assessment")
        staff.click("text=Create assessment")
        expect(staff.locator("h1")).to_contain_text("ML engineer, spring")
        for name, email in (("Chen Li", "chen@example.test"), ("Dana Fox", "dana@example.test")):
            staff.fill("form[action$='/invite'] input[name=name]", name)
            staff.fill("form[action$='/invite'] input[name=email]", email)
            staff.click("form[action$='/invite'] input[type=submit]")
        expect(staff.locator("table.invitations")).to_contain_text("dana@example.test")

        def link_for(email):
            (body,) = _sql(
                db, "select body from mail_outbox where recipient = ? order by id desc", email
            )[0]
            return re.search(r"(http://\S+/c/\S+)", body).group(1)

        chen, dana = link_for("chen@example.test"), link_for("dana@example.test")
        assert chen.startswith(base)

        # The candidate: landing page, start, statement, a theory draft, the upload.
        candidate = browser.new_page(locale="en-US", viewport={"width": 1200, "height": 900})
        candidate.goto(chen)
        expect(candidate.locator("main")).to_contain_text("90 minutes")
        shot(candidate, "candidate-landing")
        candidate.click("text=Start the assessment")
        candidate.click("text=Read the statement")
        expect(candidate.locator("article.statement h1")).to_be_visible()
        shot(candidate, "candidate-statement")
        candidate.click("text=Back to the assessment")
        candidate.fill("textarea[name=text]", "Resample the minority class and weight the loss.")
        expect(candidate.locator(".saved")).to_contain_text("Draft saved", timeout=20_000)
        candidate.set_input_files("input[type=file]", str(REFERENCE))
        shot(candidate, "candidate-work")
        candidate.click("text=Upload and grade")
        # Every upload is checked first (its dry run); the grading is queued once it passes.
        expect(candidate.locator(".progress")).to_contain_text("Checking your file")
        shot(candidate, "candidate-queued")

        # Grade a small slice (the worker starts only now, so the dry run passes these options
        # on to the grading it queues).
        dry_run_id, options = _sql(db, "select id, options_json from dry_runs")[0]
        options = json.loads(options) | {"train_limit": 300, "test_limit": 200}
        _sql(
            db, "update dry_runs set options_json = ? where id = ?", json.dumps(options), dry_run_id
        )
        start_worker()
        # The dry run's steps turn green before training starts.
        expect(candidate.locator(".dry-run .step.ok")).to_have_count(8, timeout=240_000)
        shot(candidate, "candidate-checked")
        # A warm sandbox can train the small slice between two 2 s polls: the page may go
        # from "Starting" straight to the result. The epochs must still have been recorded.
        progress = candidate.locator(".progress")
        expect(progress).to_contain_text(re.compile(r"epoch|Scored\."), timeout=240_000)
        if "epoch" in progress.inner_text():
            shot(candidate, "candidate-training")
        expect(progress).to_contain_text("Scored.", timeout=240_000)
        shot(candidate, "candidate-result")
        assert _sql(db, "select count(*) from progress_events where kind = 'epoch'")[0][0] > 0
        (draft,) = _sql(db, "select text from theory_answers")[0]
        assert draft.startswith("Resample")

        # The recruiter sees the states.
        staff.reload()
        expect(staff.locator("table.invitations")).to_contain_text("graded")
        shot(staff, "recruiter-invitations")

        # In Chinese: the second candidate's landing page and work page.
        chinese = browser.new_page(locale="zh-CN", viewport={"width": 1200, "height": 900})
        chinese.goto(dana)
        expect(chinese.locator("main")).to_contain_text("开始测评")
        shot(chinese, "candidate-landing-zh")
        chinese.click("text=开始测评")
        expect(chinese.locator("main")).to_contain_text("剩余时间")
        shot(chinese, "candidate-work-zh")
        chinese.click("text=阅读题目说明")
        shot(chinese, "candidate-statement-zh")

        # An expired link.
        _sql(db, "update invitations set expires_at = '2000-01-01 00:00:00'")
        candidate.goto(chen)
        expect(candidate.locator("h1")).to_contain_text("This invitation has expired")
        shot(candidate, "candidate-expired")
        chinese.goto(dana)
        expect(chinese.locator("h1")).to_contain_text("此邀请已过期")
        shot(chinese, "candidate-expired-zh")
        browser.close()
