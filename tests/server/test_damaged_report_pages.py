"""A stored report is read back once (``Grading.report``) and every page uses that reading:
a damaged one is said to be damaged, never a server error, and its text is not lost."""

from __future__ import annotations

import csv
import io
import json

import pytest

from graders.report import UNREADABLE, Report, UnreadableReport
from server.models import Grading, Invitation, Submission, utcnow
from tests.server.test_review import ALICE, _submission, build_world, graded_report

BROKEN = '{"status": "graded", "verdict": {"passed": true, "checks": ['


@pytest.fixture
def world(db, make_user, make_assessment, make_invitation):
    return build_world(db, make_user, make_assessment, make_invitation)


def _break(db, submission_id: int) -> Grading:
    grading = db.get(Submission, submission_id).latest
    grading.report_json = BROKEN
    db.commit()
    return grading


def test_the_model_reads_its_report_once_per_text(db, world):
    grading = db.get(Submission, world["sub"]).latest
    report = grading.report
    assert type(report) is Report and report.passed and grading.report is report
    assert report.headline().metric == "accuracy"
    grading.report_json = BROKEN  # a new text is read again
    assert isinstance(grading.report, UnreadableReport)
    grading.report_json = None
    assert grading.report is None


def test_a_damaged_report_is_named_on_its_page_and_kept_in_the_export(client, db, world, login):
    _break(db, world["sub"])
    login(client, world["people"]["owner"])
    page = client.get(f"/review/submissions/{world['sub']}")
    assert page.status_code == 200
    assert "The stored report cannot be read" in page.get_data(as_text=True)
    exported = client.get(f"/review/submissions/{world['sub']}/report.json").get_json()
    assert exported["report"]["status"] == UNREADABLE and exported["report"]["text"] == BROKEN
    table = client.get(f"/review/assessments/{world['assessment']}")
    assert table.status_code == 200
    rows = list(
        csv.DictReader(
            io.StringIO(
                client.get(f"/review/assessments/{world['assessment']}/export.csv").get_data(
                    as_text=True
                )
            )
        )
    )
    alice = next(row for row in rows if row["candidate"] == ALICE)
    assert alice["lenet5-mnist:status"] == "graded" and alice["lenet5-mnist:accuracy"] == ""
    whole = client.get(f"/review/assessments/{world['assessment']}/export.json").get_json()
    reports = [s["report"] for c in whole["candidates"] for s in c["submissions"] if s["report"]]
    assert {r["status"] for r in reports} == {UNREADABLE, "failed"}


def test_a_damaged_report_leaves_the_candidates_status_page_working(client, db, world):
    _break(db, world["sub"])
    body = client.get(f"/c/{world['token']}/submissions/{world['sub']}")
    assert body.status_code == 200


def test_the_export_is_the_stored_report(client, db, world, login):
    login(client, world["people"]["owner"])
    stored = db.get(Submission, world["sub"]).latest.report_json
    exported = client.get(f"/review/submissions/{world['sub']}/report.json").get_json()
    assert exported["report"] == json.loads(stored)
    assert Report.from_dict(exported["report"]) == graded_report()


def test_an_older_report_without_the_later_fields_shows_as_before(client, db, world, login):
    data = graded_report().to_dict()
    for key in ("flags", "shadow", "test_labels", "split", "outcome"):
        data.pop(key)
    sub = _submission(db, db.get(Invitation, world["alice"]), None, "graded")
    sub.latest.report_json, sub.latest.passed = json.dumps(data), True
    sub.latest.finished_at = utcnow()
    db.commit()
    login(client, world["people"]["owner"])
    page = client.get(f"/review/submissions/{sub.id}").get_data(as_text=True)
    assert "Passed" in page and "cannot be read" not in page
