"""Issue 19: each assessment's secret split seed, kept on the server and nowhere else, and a
flagged pass read as "passed, flagged for review" wherever the hiring team sees a verdict.

The split tests grade through the real worker (SQLite, the grading service) submissions
that the service refuses before a sandbox starts: the report still records the split drawn
for the grading, which is what is compared. The verdict tests store a scored report through
``server.leases.finish``, the worker's own path, and read it back from every place.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import re

import pytest
import sqlalchemy as sa

from graders.options import OptionsError, dumps_options, parse_options
from graders.pipeline import GradeOptions
from graders.report import Report
from server import grading as g
from server import leases
from server.models import (
    Assessment,
    CandidateSummary,
    Grading,
    Invitation,
    SplitSecret,
    Submission,
)
from server.queue import QueueSettings, get_huey
from server.summary import store
from server.webhooks import graded_payload
from server.worker import Worker
from tests.server.test_review import graded_report

pytestmark = pytest.mark.databases


@pytest.fixture
def factory(app):
    factory = app.extensions["assay.sessions"]
    g.use_queue(factory, get_huey())
    return factory


def _submit(factory, invitation_id, source: bytes = b"def broken(:\n") -> int:
    with factory() as session:
        sub = Submission(
            invitation_id=invitation_id,
            challenge_slug="lenet5-mnist",
            filename="solution.py",
            source=source,
            sha256="0" * 64,
            size=len(source),
        )
        session.add(sub)
        grading = g.enqueue_submission(session, sub, {"tier": "sample"})
        session.commit()
        return grading.id


def _split_of(factory, grading_id) -> dict:
    with factory() as session:
        return json.loads(session.get(Grading, grading_id).report_json)["split"]


def _secret(factory, assessment_id) -> str:
    with factory() as session:
        return session.get(SplitSecret, assessment_id).secret


def test_each_assessment_draws_its_own_split_and_keeps_it(
    factory, make_assessment, make_invitation, prepared_data
):
    first, second = make_assessment(), make_assessment()
    a1, _ = make_invitation(assessment=first)
    a2, _ = make_invitation(assessment=first)
    b1, _ = make_invitation(assessment=second)
    worker = Worker(factory, get_huey(), QueueSettings())
    gids = [_submit(factory, inv.id) for inv in (a1, a2, b1)]
    assert [worker.run_grading(gid) for gid in gids] == ["failed"] * 3

    splits = [_split_of(factory, gid) for gid in gids]
    assert all(s["kind"] == "secret" and len(s["identity"]) == 16 for s in splits)
    assert splits[0] == splits[1]  # one assessment, one split
    assert splits[0] != splits[2]  # another assessment, another split
    assert _secret(factory, first.id) != _secret(factory, second.id)
    # A re-grade of the same submission is drawn with the same secret.
    with factory() as session:
        again = g.regrade(
            session, session.get(Submission, session.get(Grading, gids[0]).submission_id)
        )
        session.commit()
        again_id = again.id
    assert worker.run_grading(again_id) == "failed"
    assert _split_of(factory, again_id) == splits[0]


def test_the_secret_is_nowhere_but_its_table(
    app, client, factory, make_user, make_assessment, make_invitation, login, prepared_data
):
    owner = make_user(role="recruiter")
    assessment = make_assessment(owner=owner)
    invitation, _ = make_invitation(assessment=assessment)
    gid = _submit(factory, invitation.id)
    assert Worker(factory, get_huey(), QueueSettings()).run_grading(gid) == "failed"
    secret = _secret(factory, assessment.id)
    with factory() as session:
        row = session.get(Grading, gid)
        stored = [row.report_json, row.options_json, row.platform_note]
        stored += [e.data_json for e in row.events]
        sub_id = row.submission_id
    assert not any(secret in text for text in stored)

    login(client, owner)
    pages = [
        f"/review/submissions/{sub_id}",
        f"/review/submissions/{sub_id}/report.json",
        f"/review/assessments/{assessment.id}",
        f"/review/assessments/{assessment.id}/export.csv",
        f"/review/assessments/{assessment.id}/export.json",
        f"/recruiter/assessments/{assessment.id}",
    ]
    for page in pages:
        body = client.get(page).get_data(as_text=True)
        assert secret not in body, page
    report_page = client.get(f"/review/submissions/{sub_id}").get_data(as_text=True)
    assert _split_of(factory, gid)["identity"] in report_page  # the identity, not the seed


def test_a_stored_split_seed_option_is_refused_the_claims_is_used():
    with pytest.raises(OptionsError, match="split_seed"):
        parse_options({"tier": "sample", "split_seed": "planted"})
    with pytest.raises(OptionsError, match="never stored"):
        dumps_options(GradeOptions(tier="sample", split_seed="planted"))
    stored = parse_options({"tier": "sample"})
    assert stored.split_seed is None
    options = dataclasses.replace(stored, split_seed="from-the-claim")  # as the worker does
    assert options.split_seed == "from-the-claim"
    assert "from-the-claim" not in repr(options)


def test_an_assessment_made_by_the_service_has_its_secret_at_once(db, make_user):
    from server.assessments import AssessmentDraft, create_assessment

    draft = AssessmentDraft(
        title="Secret split", time_limit_minutes=60, challenges=["lenet5-mnist"]
    )
    assessment = create_assessment(db, make_user(role="recruiter"), draft)
    db.commit()
    secret = db.scalar(
        sa.select(SplitSecret.secret).where(SplitSecret.assessment_id == assessment.id)
    )
    assert secret is not None and len(secret) == 32


# -- a flagged pass reads as flagged everywhere ------------------------------------------------


def flagged_pass() -> Report:
    report = graded_report(accuracy_errors=0)
    assert report.passed
    report.flags = [
        {"kind": "embedded_data", "message": "embedded data: 9,812 characters", "line": 12},
        {"kind": "source", "message": "imports zlib (hashing)", "line": 3},
    ]
    return report


def _store(factory, invitation_id, report: Report) -> int:
    gid = _submit(factory, invitation_id, b"x = 1\n")
    with factory() as session:
        claim = leases.claim(session, gid, 30.0)
    with factory() as session:
        assert leases.finish(session, claim, report) == "graded"
    return gid


def test_a_flagged_pass_reads_flagged_in_every_place(
    app, client, factory, make_user, make_assessment, make_invitation, login
):
    owner = make_user(role="recruiter")
    assessment = make_assessment(owner=owner)
    flagged, _ = make_invitation(assessment=assessment, candidate_name="Fay Flagged")
    clean, _ = make_invitation(assessment=assessment, candidate_name="Cleo Clean")
    flagged_gid = _store(factory, flagged.id, flagged_pass())
    clean_gid = _store(factory, clean.id, graded_report(accuracy_errors=0))
    with factory() as session:
        row = session.get(Grading, flagged_gid)
        assert (row.passed, row.review_reasons) == (True, "embedded_data")
        flagged_sub = row.submission_id
        payload = graded_payload(row, session.get(Invitation, row.submission.invitation_id))
        assert (payload["passed"], payload["verdict"], payload["review_reasons"]) == (
            True,
            "passed_flagged",
            ["embedded_data"],
        )
        assert payload["verdict_text"] == "passed, flagged for review: the code embeds data"
        clean_row = session.get(Grading, clean_gid)
        clean_payload = graded_payload(
            clean_row, session.get(Invitation, clean_row.submission.invitation_id)
        )
        assert (clean_payload["verdict"], clean_payload["review_reasons"]) == ("passed", [])

    login(client, owner)
    page = client.get(f"/review/submissions/{flagged_sub}").get_data(as_text=True)
    assert "Passed, flagged for review" in page and "the code embeds data" in page
    html = client.get(f"/review/assessments/{assessment.id}").get_data(as_text=True)
    table = re.sub(r"<[^>]+>", "", html)  # the words as read, whatever spans style them
    assert "LeNet-5 handwritten digit classifier: graded (passed, flagged for review)" in table
    assert "LeNet-5 handwritten digit classifier: graded (passed)" in table  # Cleo's clean pass
    only_flagged = client.get(f"/review/assessments/{assessment.id}?outcome=passed_flagged")
    assert "Fay Flagged" in only_flagged.get_data(as_text=True)
    assert "Cleo Clean" not in only_flagged.get_data(as_text=True)
    person = client.get(f"/review/candidates/{flagged.id}").get_data(as_text=True)
    assert "passed, flagged for review" in person
    rows = list(
        csv.DictReader(
            io.StringIO(
                client.get(f"/review/assessments/{assessment.id}/export.csv").get_data(as_text=True)
            )
        )
    )
    verdicts = {r["candidate"]: r["lenet5-mnist:verdict"] for r in rows}
    assert verdicts["Fay Flagged"] == "passed, flagged for review: the code embeds data"
    assert verdicts["Cleo Clean"] == "passed"
    exported = client.get(f"/review/assessments/{assessment.id}/export.json").get_json()
    assert "passed_flagged" in json.dumps(exported)
    report_json = client.get(f"/review/submissions/{flagged_sub}/report.json").get_json()
    assert report_json["grading"]["verdict"] == "passed_flagged"
    assert report_json["grading"]["review_reasons"] == ["embedded_data"]
    assert report_json["report"]["outcome"]["label"].startswith("passed, flagged for review")

    client.post("/lang/zh", data={"next": "/"})
    page = client.get(f"/review/submissions/{flagged_sub}").get_data(as_text=True)
    assert "通过，但已标记待复核" in page and "代码中嵌入了数据" in page


def test_the_api_says_which_passes_are_flagged(
    client, factory, make_user, make_assessment, make_invitation
):
    from server.api import tokens

    owner = make_user(role="recruiter")
    assessment = make_assessment(owner=owner)
    invitation, _ = make_invitation(assessment=assessment)
    _store(factory, invitation.id, flagged_pass())
    with factory() as session:
        _row, token = tokens.create(session, session.merge(owner), "ats", "read")
        session.commit()
    headers = {"Authorization": f"Bearer {token}"}
    subs = client.get(
        f"/api/v1/assessments/{assessment.id}/submissions", headers=headers
    ).get_json()
    assert subs["submissions"][0]["verdict"] == "passed_flagged"
    assert subs["submissions"][0]["review_reasons"] == ["embedded_data"]
    url = f"/api/v1/assessments/{assessment.id}/candidates"
    people = client.get(url, headers=headers).get_json()
    (row,) = people["candidates"]
    assert row["outcome"] == "passed_flagged"
    assert row["results"][0]["verdict"] == "passed_flagged"
    assert row["results"][0]["review_reasons"] == ["embedded_data"]
    filtered = client.get(url + "?outcome=passed_flagged", headers=headers).get_json()
    assert [c["invitation_id"] for c in filtered["candidates"]] == [invitation.id]
    assert client.get(url + "?outcome=passed", headers=headers).get_json()["candidates"] == []


def test_the_migration_gives_older_assessments_a_secret_and_keeps_flagged_passes_flagged(
    app, database_url, factory, make_assessment, make_invitation
):
    from alembic import command
    from alembic.script import ScriptDirectory

    from server.migrate import alembic_config, upgrade

    assessment = make_assessment()
    invitation, _ = make_invitation(assessment=assessment)
    gid = _store(factory, invitation.id, flagged_pass())
    with factory() as session:  # as stored before this change: a plain pass
        session.execute(sa.update(CandidateSummary).values(outcome="passed"))
        session.commit()
    app.extensions["assay.engine"].dispose()
    config = alembic_config(database_url)
    before = ScriptDirectory.from_config(config).get_revision("0011_split_secrets").down_revision
    command.downgrade(config, before)
    upgrade(database_url)
    with factory() as session:
        assert session.get(Grading, gid).review_reasons == "embedded_data"
        secret = session.get(SplitSecret, assessment.id).secret
        assert len(secret) == 32
        assert session.get(CandidateSummary, invitation.id) is None  # made again when read
        store.ensure(session, session.get(Assessment, assessment.id))
        assert session.get(CandidateSummary, invitation.id).outcome == "passed_flagged"
