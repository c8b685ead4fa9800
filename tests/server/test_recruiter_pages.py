"""The recruiter's assessment page lists invitations newest first, a page at a time, so an
assessment with thousands of candidates answers as fast as one with a few."""

from __future__ import annotations

from server.recruiter.routes import PER_PAGE


def test_invitations_come_a_page_at_a_time_newest_first(
    client, make_user, make_assessment, make_invitation, login
):
    recruiter = make_user(role="recruiter")
    assessment = make_assessment(owner=recruiter)
    n = PER_PAGE + 3
    for i in range(n):
        make_invitation(assessment=assessment, candidate_name=f"Person {i:03d}")
    login(client, recruiter)
    url = f"/recruiter/assessments/{assessment.id}"
    first = client.get(url).get_data(as_text=True)
    assert "Person 052" in first and "Person 003" in first and "Person 002" not in first
    assert f"page 1 of 2 ({n} candidates)" in first and f"{url}?page=2" in first
    second = client.get(f"{url}?page=2").get_data(as_text=True)
    assert all(f"Person {i:03d}" in second for i in range(3)) and "Person 003" not in second
    assert f"{url}?page=1" in second
    # A page past the end shows the last one; not a number, the first.
    assert "Person 000" in client.get(f"{url}?page=9").get_data(as_text=True)
    assert "Person 052" in client.get(f"{url}?page=x").get_data(as_text=True)


def test_a_small_assessment_has_no_pager(
    client, make_user, make_assessment, make_invitation, login
):
    recruiter = make_user(role="recruiter")
    assessment = make_assessment(owner=recruiter)
    make_invitation(assessment=assessment, candidate_name="Only One")
    login(client, recruiter)
    page = client.get(f"/recruiter/assessments/{assessment.id}").get_data(as_text=True)
    assert "Only One" in page and 'class="pager"' not in page


def test_each_row_has_one_form_whose_buttons_post_every_action_with_its_csrf_token(
    app, client, db, make_user, make_assessment, make_invitation, login
):
    import re

    recruiter = make_user(role="recruiter")
    assessment = make_assessment(owner=recruiter)
    invitation, _ = make_invitation(assessment=assessment, candidate_name="Rowan")
    login(client, recruiter)
    app.config["WTF_CSRF_ENABLED"] = True
    page = client.get(f"/recruiter/assessments/{assessment.id}").get_data(as_text=True)
    row = page[page.index(f'id="inv-{invitation.id}"') :]
    row = row[: row.index("</tr>")]
    assert row.count("<form") == 1
    token = re.search(r'name="csrf_token" value="([^"]+)"', row).group(1)
    base = f"/recruiter/invitations/{invitation.id}"
    form_action = re.search(r'<form method="post" action="([^"]+)"', row).group(1)
    targets = [form_action, *re.findall(r'formaction="([^"]+)"', row)]
    assert targets == [f"{base}/{a}" for a in ("resend", "revoke", "extend", "extra-time")]
    # Enter in a field presses the form's first button: a disabled one, so nothing is sent.
    first = re.search(r"<button[^>]*>", row).group(0)
    assert "disabled" in first and "formaction" not in first
    assert client.post(f"{base}/extend", data={"days": "3"}).status_code == 400  # no token
    fields = {"csrf_token": token, "days": "3", "factor": "1.5"}
    for target in (targets[2], targets[3], targets[0], targets[1]):  # revoke last
        assert client.post(target, data=fields).status_code == 302, target
    db.expire_all()
    assert invitation.revoked_at is not None and invitation.extra_time_factor == 1.5
    page = client.get(f"/recruiter/assessments/{assessment.id}").get_data(as_text=True)
    row = page[page.index(f'id="inv-{invitation.id}"') :]
    assert 'class="state revoked"' in row[: row.index("</tr>")]
