"""Staff accounts: the service the CLI calls, and the admin pages."""

from __future__ import annotations

import pytest

from server.accounts import AccountError, authenticate, create_user, update_user
from server.models import User


def test_create_user_stores_an_argon2_hash_not_the_password(db):
    user = create_user(db, " Ann@Example.TEST ", "Ann", "a long password", "recruiter")
    db.commit()
    assert user.email == "ann@example.test"
    assert user.password_hash.startswith("$argon2id$")
    assert "a long password" not in user.password_hash
    assert authenticate(db, "ann@example.test", "a long password") == user
    assert authenticate(db, "ann@example.test", "wrong password") is None


@pytest.mark.parametrize(
    ("email", "password", "role", "reason"),
    [
        ("no-at-sign", "a long password", "admin", "Not an email"),
        ("x@example.test", "short", "admin", "at least 10"),
        ("x@example.test", "a long password", "superuser", "Unknown role"),
    ],
)
def test_create_user_refuses(db, email, password, role, reason):
    with pytest.raises(AccountError, match=reason):
        create_user(db, email, "X", password, role)


def test_create_user_refuses_a_duplicate_email(db):
    create_user(db, "dup@example.test", "A", "a long password", "admin")
    with pytest.raises(AccountError, match="already exists"):
        create_user(db, "DUP@example.test", "B", "a long password", "reviewer")


def test_inactive_user_cannot_log_in(db, make_user):
    user = make_user(active=False)
    assert authenticate(db, user.email, "correct horse battery staple") is None


def test_admin_cannot_lock_themselves_out(db, make_user):
    admin = make_user(role="admin")
    with pytest.raises(AccountError):
        update_user(db, admin, acting=admin, role="recruiter", active=True, name="A")
    with pytest.raises(AccountError):
        update_user(db, admin, acting=admin, role="admin", active=False, name="A")


def test_admin_creates_and_edits_a_user_through_the_pages(client, db, make_user, login):
    admin = make_user(role="admin")
    login(client, admin)
    response = client.post(
        "/admin/users",
        data={
            "email": "rec@example.test",
            "name": "Rec",
            "role": "recruiter",
            "password": "p" * 12,
        },
    )
    assert response.status_code == 302
    created = db.query(User).filter_by(email="rec@example.test").one()
    assert created.role == "recruiter"
    response = client.post(
        f"/admin/users/{created.id}", data={"name": "Rec", "role": "reviewer", "active": ""}
    )
    assert response.status_code == 302
    db.refresh(created)
    assert created.role == "reviewer" and created.active is False


def test_deactivated_user_is_logged_out_on_the_next_request(client, db, make_user, login):
    user = make_user(role="recruiter")
    login(client, user)
    assert client.get("/recruiter/").status_code == 200
    user.active = False
    db.commit()
    assert client.get("/recruiter/").status_code == 302
