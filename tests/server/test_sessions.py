"""Sessions end on the server: a copied session cookie stops working after a logout, a
password change or reset, and a deactivation (``User.session_version`` in every cookie)."""

from __future__ import annotations

import pytest

from tests.server.conftest import PASSWORD

pytestmark = pytest.mark.databases


def _copy(app, client):
    """A second browser holding a copy of ``client``'s session cookie."""
    thief = app.test_client()
    cookie = client.get_cookie("session")
    assert cookie is not None
    thief.set_cookie("session", cookie.value)
    return thief


def _in(client) -> bool:
    return client.get("/home").status_code == 200


def test_a_copied_cookie_stops_working_after_logout(app, client, make_user, login, database):
    user = make_user(role="reviewer")
    login(client, user)
    thief = _copy(app, client)
    assert _in(thief)
    assert client.post("/logout").status_code == 302
    assert not _in(thief)
    assert thief.get("/home").headers["Location"].startswith("/login")
    login(client, user)  # logging in again gives a new, working session
    assert _in(client) and not _in(thief)


def test_a_copied_cookie_stops_working_after_an_admin_resets_the_password(
    app, client, make_user, login, database
):
    admin, user = make_user(role="admin"), make_user(role="recruiter")
    victim = app.test_client()
    login(victim, user)
    thief = _copy(app, victim)
    login(client, admin)
    response = client.post(
        f"/admin/users/{user.id}",
        data={"name": user.name, "role": "recruiter", "active": "y", "password": "a new secret 1"},
    )
    assert response.status_code == 302
    assert not _in(thief) and not _in(victim)
    assert _in(client)  # the admin's own session is untouched
    login(victim, user, password="a new secret 1")
    assert _in(victim)


def test_an_admin_changing_their_own_password_stays_logged_in_here_only(
    app, client, make_user, login
):
    admin = make_user(role="admin")
    login(client, admin)
    other_device = _copy(app, client)
    response = client.post(
        f"/admin/users/{admin.id}",
        data={"name": admin.name, "role": "admin", "active": "y", "password": "a new secret 2"},
    )
    assert response.status_code == 302
    assert _in(client)
    assert not _in(other_device)


def test_a_copied_cookie_stops_working_after_deactivation_even_once_reactivated(
    app, client, make_user, login, database
):
    admin, user = make_user(role="admin"), make_user(role="reviewer")
    victim = app.test_client()
    login(victim, user)
    thief = _copy(app, victim)
    login(client, admin)
    form = {"name": user.name, "role": "reviewer", "password": ""}
    assert client.post(f"/admin/users/{user.id}", data=form).status_code == 302  # inactive
    assert not _in(thief)
    assert client.post(f"/admin/users/{user.id}", data=form | {"active": "y"}).status_code == 302
    assert not _in(thief) and not _in(victim)
    login(victim, user, password=PASSWORD)
    assert _in(victim)


def test_a_cookie_from_before_session_versions_is_refused(app, client, make_user):
    user = make_user(role="reviewer")
    with client.session_transaction() as session:
        session["_user_id"] = str(user.id)  # the old id format, without a version
        session["_fresh"] = True
    assert not _in(client)


def _change(client, current: str, new: str, repeat: str | None = None):
    return client.post("/password", data={"current": current, "new": new, "repeat": repeat or new})


def test_changing_ones_own_password_ends_every_other_session(app, client, make_user, login):
    user = make_user(role="recruiter")
    login(client, user)
    laptop = _copy(app, client)
    phone = app.test_client()
    login(phone, user)
    assert client.get("/password").status_code == 200
    response = _change(client, PASSWORD, "a brand new secret")
    assert response.status_code == 302
    assert _in(client)  # the browser that changed it stays logged in
    assert not _in(laptop) and not _in(phone)
    login(phone, user, password="a brand new secret")
    assert _in(phone)


@pytest.mark.parametrize(
    ("current", "new", "repeat", "says"),
    [
        ("not my password", "a brand new secret", None, "The current password is wrong."),
        (PASSWORD, "short", None, "at least 10 characters"),
        (PASSWORD, PASSWORD, None, "the same as the current one"),
        (PASSWORD, "a brand new secret", "a different secret", "The two new passwords differ."),
    ],
)
def test_a_refused_password_change_says_why_and_changes_nothing(
    app, client, make_user, login, current, new, repeat, says
):
    user = make_user(role="reviewer")
    login(client, user)
    other = _copy(app, client)
    page = _change(client, current, new, repeat)
    assert page.status_code == 200
    assert says in page.get_data(as_text=True)
    assert _in(client) and _in(other)  # nothing ended


def test_the_password_page_needs_a_login(client):
    assert client.get("/password").headers["Location"].startswith("/login")
