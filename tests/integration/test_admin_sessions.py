"""Server-side console sessions: what ends one, on every worker; the sign-in throttle across workers.

"Another worker" is a second app built on the same database: it shares nothing with the first but the database.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask

from domain.db import Database
from domain.sign_ins import ADDRESS_MAX_FAILURES, REFUSED
from domain.users import StaffUser, check_password
from tests.conftest import app_config
from tests.fakes import FrozenClock
from tests.integration.test_admin_security import PASSWORD, csrf_token, make_staff, sign_in, staff_client

NEW_PASSWORD = "a much better passphrase"


@pytest.fixture
def other_worker(database: Database, clock: FrozenClock) -> Iterator[Flask]:
    from loyalty import create_app

    application = create_app(app_config(database.url))
    application.extensions["loyalty.clock"] = clock
    yield application
    application.extensions["loyalty.db"].dispose()


def cookie_copy(client: Any, app: Flask) -> Any:
    """A second browser holding a copy of ``client``'s session cookie (what a thief would have)."""
    copy = app.test_client()
    cookie = client.get_cookie("session")
    assert cookie is not None
    copy.set_cookie("session", cookie.value)
    return copy


def signed_in(client: Any) -> bool:
    return bool(client.get("/admin/").status_code == 200)


def post(client: Any, path: str, **data: str) -> Any:
    return client.post(path, data={"csrf_token": csrf_token(client, "/admin/account"), **data})


def user_id(database: Database, email: str) -> int:
    from sqlalchemy import select

    with database.unit_of_work() as session:
        found = session.scalar(select(StaffUser.id).where(StaffUser.email == email))
    assert found is not None
    return found


def test_the_old_cookie_opens_nothing_after_sign_out_on_any_worker(
    app: Flask, other_worker: Flask, database: Database
) -> None:
    client = staff_client(app, database, "manager")
    stolen = cookie_copy(client, other_worker)
    assert signed_in(stolen)
    assert post(client, "/admin/logout").status_code == 302
    assert not signed_in(client)
    assert not signed_in(stolen)
    response = stolen.post("/admin/customers/1/adjust", data={"points": "50", "reason": "x"})
    assert response.status_code in (302, 400)


def test_changing_ones_password_ends_the_other_sessions_only(app: Flask, database: Database) -> None:
    here = staff_client(app, database, "support")
    elsewhere = app.test_client()
    assert sign_in(elsewhere, "support@example.com").status_code == 302
    wrong = post(here, "/admin/account", current="not my password", new=NEW_PASSWORD, confirm=NEW_PASSWORD)
    assert wrong.status_code == 400 and "not your current password" in wrong.get_data(as_text=True)
    weak = post(here, "/admin/account", current=PASSWORD, new="aaaaaaaaaa", confirm="aaaaaaaaaa")
    assert weak.status_code == 400 and "different characters" in weak.get_data(as_text=True)
    assert signed_in(elsewhere)
    done = post(here, "/admin/account", current=PASSWORD, new=NEW_PASSWORD, confirm=NEW_PASSWORD)
    assert done.status_code == 302
    assert signed_in(here)
    assert not signed_in(elsewhere)
    with database.unit_of_work() as session:
        user = session.get(StaffUser, user_id(database, "support@example.com"))
        assert user is not None and check_password(user.password_hash, NEW_PASSWORD)


@pytest.mark.parametrize(
    ("path", "data"),
    [
        ("/admin/users/{id}", {"role": "support", "active": "y"}),
        ("/admin/users/{id}", {"role": "manager", "active": "y", "password": NEW_PASSWORD}),
        ("/admin/users/{id}", {"role": "manager"}),  # deactivated
        ("/admin/users/{id}/unlock", {}),
        ("/admin/users/{id}/sign-out-everywhere", {}),
    ],
)
def test_what_an_admin_does_to_an_account_ends_its_sessions(
    app: Flask, other_worker: Flask, database: Database, path: str, data: dict[str, str]
) -> None:
    admin = staff_client(app, database, "admin")
    victim = staff_client(other_worker, database, "manager")
    assert signed_in(victim)
    target = path.format(id=user_id(database, "manager@example.com"))
    assert post(admin, target, **data).status_code == 302
    assert not signed_in(victim)
    assert signed_in(admin)


def test_saving_an_account_unchanged_keeps_its_sessions(app: Flask, database: Database) -> None:
    admin = staff_client(app, database, "admin")
    manager = staff_client(app, database, "manager")
    target = f"/admin/users/{user_id(database, 'manager@example.com')}"
    assert post(admin, target, role="manager", active="y").status_code == 302
    assert signed_in(manager)


def test_a_weak_password_set_by_an_admin_is_refused(app: Flask, database: Database) -> None:
    admin = staff_client(app, database, "admin")
    make_staff(database, "clerk@example.com", "support")
    target = f"/admin/users/{user_id(database, 'clerk@example.com')}"
    response = post(admin, target, role="support", active="y", password=" " * 12)
    assert response.status_code == 400
    assert "at least 10 characters" in response.get_data(as_text=True)


def test_an_expired_session_row_signs_out(app: Flask, database: Database, clock: FrozenClock) -> None:
    client = staff_client(app, database, "manager")
    clock.advance(hours=12, seconds=1)
    assert not signed_in(client)


# Lock-out and throttle


def failure_text(response: Any) -> str:
    import re

    found = re.search(r'class="flash flash-error"[^>]*>([^<]+)<', response.get_data(as_text=True))
    assert found, response.get_data(as_text=True)
    return found.group(1)


def test_a_locked_account_and_an_unknown_email_get_the_same_answer(app: Flask, database: Database) -> None:
    make_staff(database, "boss@example.com", "admin")
    client = app.test_client()
    answers = [sign_in(client, "boss@example.com", "wrong password!") for _ in range(5)]
    locked = sign_in(client, "boss@example.com")  # the right password, but locked
    unknown = [sign_in(client, "nobody@example.com", "wrong password!") for _ in range(6)]
    texts = {failure_text(r) for r in [*answers, locked, *unknown]}
    assert texts == {REFUSED.replace("'", "&#39;")}
    assert {r.status_code for r in [*answers, locked, *unknown]} == {401}


def test_the_address_throttle_is_shared_by_workers(app: Flask, other_worker: Flask, database: Database) -> None:
    make_staff(database, "boss@example.com", "admin")
    clients = [app.test_client(), other_worker.test_client()]
    for n in range(ADDRESS_MAX_FAILURES):
        assert sign_in(clients[n % 2], f"guess{n}@example.com", "wrong password!").status_code == 401
    for client in clients:
        assert sign_in(client, "boss@example.com").status_code == 429


def test_a_success_does_not_clear_the_addresses_failures_on_other_accounts(app: Flask, database: Database) -> None:
    make_staff(database, "mallory@example.com", "support")
    make_staff(database, "boss@example.com", "admin")
    client = app.test_client()
    for _ in range(ADDRESS_MAX_FAILURES - 1):
        assert sign_in(client, "boss@example.com", "guessing again").status_code == 401
    assert sign_in(client, "mallory@example.com").status_code == 302  # the attacker's own account
    client = app.test_client()
    assert sign_in(client, "someone@example.com", "guessing again").status_code == 401
    assert sign_in(client, "boss@example.com").status_code == 429


def test_a_success_clears_that_accounts_own_typos(app: Flask, database: Database) -> None:
    make_staff(database, "boss@example.com", "admin")
    client = app.test_client()
    for _ in range(3):
        sign_in(client, "boss@example.com", "typo typo typo")
    assert sign_in(client, "boss@example.com").status_code == 302
    from sqlalchemy import func, select

    from domain.sign_ins import SignInFailure

    with database.unit_of_work() as session:
        assert session.scalar(select(func.count(SignInFailure.id))) == 0


def test_the_staff_page_counts_open_sessions(app: Flask, database: Database) -> None:
    admin = staff_client(app, database, "admin")
    for _ in range(2):
        assert sign_in(app.test_client(), "admin@example.com").status_code == 302
    page = admin.get(f"/admin/users/{user_id(database, 'admin@example.com')}").get_data(as_text=True)
    assert "3 open session(s)." in page
