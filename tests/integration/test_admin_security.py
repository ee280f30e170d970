"""Console security: sign-in required everywhere, CSRF on every POST, roles on the server, safe redirects, lock-out.

Routes are enumerated from ``app.url_map`` so a new console route is covered
without editing this file.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask
from werkzeug.routing import IntegerConverter, Rule

from domain.db import Database
from domain.users import create_user
from tests.fakes import FrozenClock

PASSWORD = "correct horse battery"
PUBLIC = {"admin.login", "admin.static"}
SAMPLE_VALUES = {"phone": "+919812345678", "decision": "approved", "kind": "birthday"}


def make_staff(database: Database, email: str, role: str, password: str = PASSWORD) -> int:
    with database.unit_of_work() as session:
        return create_user(session, email, role, password).id


def csrf_token(client: Any, path: str = "/admin/login") -> str:
    """The CSRF token of the client's session, read from a form on ``path``."""
    page = client.get(path).get_data(as_text=True)
    found = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page) or re.search(
        r'name="csrf_token" value="([^"]+)"', page
    )
    assert found, f"no CSRF token on {path}"
    return found.group(1)


def sign_in(client: Any, email: str, password: str = PASSWORD, next_url: str | None = None) -> Any:
    token = csrf_token(client)
    url = "/admin/login" + (f"?next={next_url}" if next_url else "")
    return client.post(url, data={"email": email, "password": password, "csrf_token": token})


def staff_client(app: Flask, database: Database, role: str) -> Any:
    client = app.test_client()
    email = f"{role}@example.com"
    make_staff(database, email, role)
    response = sign_in(client, email)
    assert response.status_code == 302, response.get_data(as_text=True)
    return client


def admin_rules(app: Flask) -> list[Rule]:
    return [r for r in app.url_map.iter_rules() if r.endpoint.startswith("admin.") and r.endpoint not in PUBLIC]


def sample_url(app: Flask, rule: Rule) -> str:
    values: dict[str, Any] = {}
    for name in rule.arguments:
        converter = rule._converters[name]
        values[name] = 1 if isinstance(converter, IntegerConverter) else SAMPLE_VALUES.get(name, "x")
    with app.test_request_context():
        from flask import url_for

        return url_for(rule.endpoint, **values)


def allowed_roles(app: Flask, rule: Rule) -> tuple[str, ...] | None:
    return getattr(app.view_functions[rule.endpoint], "allowed_roles", None)


def test_the_console_has_many_routes_and_every_one_declares_its_roles(app: Flask) -> None:
    rules = admin_rules(app)
    assert len(rules) >= 30
    undeclared = [r.endpoint for r in rules if allowed_roles(app, r) is None]
    assert undeclared == []


def test_every_get_route_without_a_session_redirects_to_sign_in(app: Flask, client: Any) -> None:
    for rule in admin_rules(app):
        if "GET" not in (rule.methods or ()):
            continue
        url = sample_url(app, rule)
        response = client.get(url)
        assert response.status_code == 302, url
        assert response.headers["Location"].startswith("/admin/login?next="), url


def test_every_post_route_without_a_session_redirects_to_sign_in(app: Flask, client: Any) -> None:
    token = csrf_token(client)
    posts = [r for r in admin_rules(app) if "POST" in (r.methods or ())]
    assert len(posts) >= 15
    for rule in posts:
        url = sample_url(app, rule)
        response = client.post(url, data={"csrf_token": token})
        assert response.status_code == 302, url
        assert response.headers["Location"].startswith("/admin/login"), url


def test_every_post_without_a_csrf_token_is_refused(app: Flask, database: Database) -> None:
    client = staff_client(app, database, "admin")
    posts = [r for r in app.url_map.iter_rules() if r.endpoint.startswith("admin.") and "POST" in (r.methods or ())]
    for rule in posts:
        url = sample_url(app, rule)
        response = client.post(url, data={"reason": "x", "points": "5"})
        assert response.status_code == 400, url
        response = client.post(url, data={"csrf_token": "forged", "reason": "x"})
        assert response.status_code == 400, url


def test_login_without_a_csrf_token_is_refused(app: Flask, client: Any, database: Database) -> None:
    make_staff(database, "boss@example.com", "admin")
    response = client.post("/admin/login", data={"email": "boss@example.com", "password": PASSWORD})
    assert response.status_code == 400
    assert client.get("/admin/").status_code == 302


@pytest.mark.parametrize("role", ["support", "manager"])
def test_roles_are_enforced_on_the_server_for_every_route(app: Flask, database: Database, role: str) -> None:
    client = staff_client(app, database, role)
    token = csrf_token(client, "/admin/customers")
    refused = 0
    for rule in admin_rules(app):
        roles = allowed_roles(app, rule) or ()
        if role in roles:
            continue
        url = sample_url(app, rule)
        response = client.get(url) if "GET" in (rule.methods or ()) else client.post(url, data={"csrf_token": token})
        assert response.status_code == 403, url
        refused += 1
    assert refused >= (10 if role == "support" else 5)


def test_support_cannot_adjust_points_or_open_manager_pages(app: Flask, database: Database) -> None:
    client = staff_client(app, database, "support")
    token = csrf_token(client, "/admin/customers")
    response = client.post("/admin/customers/1/adjust", data={"csrf_token": token, "points": "50", "reason": "x"})
    assert response.status_code == 403
    for path in ("/admin/rewards/new", "/admin/settings", "/admin/users", "/admin/reports"):
        assert client.get(path).status_code == 403, path
    assert client.get("/admin/customers").status_code == 200
    assert client.get("/admin/conversations").status_code == 200


def test_a_manager_cannot_open_admin_only_pages(app: Flask, database: Database) -> None:
    client = staff_client(app, database, "manager")
    assert client.get("/admin/users").status_code == 403
    assert client.get("/admin/settings").status_code == 403
    assert client.get("/admin/rewards/new").status_code == 200


def test_menus_hide_what_the_role_may_not_open(app: Flask, database: Database) -> None:
    page = staff_client(app, database, "support").get("/admin/").get_data(as_text=True)
    assert 'href="/admin/customers"' in page
    assert 'href="/admin/settings"' not in page
    assert 'href="/admin/users"' not in page


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/",
        "//evil.example/admin",
        "/\\evil.example",
        "http:/evil.example",
        "javascript:alert(1)",
        "%2F%2Fevil.example",
    ],
)
def test_an_unsafe_next_is_ignored(app: Flask, client: Any, database: Database, target: str) -> None:
    make_staff(database, "boss@example.com", "admin")
    response = sign_in(client, "boss@example.com", next_url=target)
    assert response.status_code == 302
    assert response.headers["Location"] == "/admin/"


def test_a_safe_next_is_honoured(app: Flask, client: Any, database: Database) -> None:
    make_staff(database, "boss@example.com", "admin")
    assert client.get("/admin/rewards").headers["Location"] == "/admin/login?next=%2Fadmin%2Frewards"
    response = sign_in(client, "boss@example.com", next_url="%2Fadmin%2Frewards")
    assert response.headers["Location"] == "/admin/rewards"


def test_wrong_passwords_lock_the_account_then_it_opens_again(
    app: Flask, client: Any, database: Database, clock: FrozenClock
) -> None:
    make_staff(database, "boss@example.com", "admin")
    for _ in range(5):
        assert sign_in(client, "boss@example.com", "wrong password!").status_code == 401
    response = sign_in(client, "boss@example.com")
    assert response.status_code == 401
    assert "locked" in response.get_data(as_text=True)
    clock.advance(minutes=16)
    assert sign_in(client, "boss@example.com").status_code == 302
    assert client.get("/admin/").status_code == 200


def test_an_unknown_email_and_a_wrong_password_get_the_same_answer(app: Flask, client: Any, database: Database) -> None:
    make_staff(database, "boss@example.com", "admin")
    unknown = sign_in(client, "nobody@example.com", "whatever12345")
    wrong = sign_in(client, "boss@example.com", "whatever12345")
    assert unknown.status_code == wrong.status_code == 401
    assert "Wrong email or password." in unknown.get_data(as_text=True)
    assert "Wrong email or password." in wrong.get_data(as_text=True)


def test_an_inactive_account_cannot_sign_in(app: Flask, client: Any, database: Database) -> None:
    from domain.users import StaffUser

    user_id = make_staff(database, "gone@example.com", "manager")
    with database.unit_of_work() as session:
        user = session.get(StaffUser, user_id)
        assert user is not None
        user.active = False
    assert sign_in(client, "gone@example.com").status_code == 401


def test_sessions_expire_after_session_hours(app: Flask, database: Database) -> None:
    client = staff_client(app, database, "admin")
    assert client.get("/admin/").status_code == 200
    with client.session_transaction() as session:
        session["signed_in_at"] = session["signed_in_at"] - 13 * 3600
    response = client.get("/admin/")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/admin/login")


def test_signing_out_ends_the_session(app: Flask, database: Database) -> None:
    client = staff_client(app, database, "support")
    token = csrf_token(client, "/admin/customers")
    assert client.post("/admin/logout", data={"csrf_token": token}).status_code == 302
    assert client.get("/admin/").status_code == 302


def test_a_wrong_form_field_shows_the_form_again_with_the_reason(app: Flask, database: Database) -> None:
    client = staff_client(app, database, "manager")
    token = csrf_token(client, "/admin/rewards/new")
    response = client.post("/admin/rewards/new", data={"csrf_token": token, "name": "Mug", "points_cost": "lots"})
    assert response.status_code == 400
    assert "Not a valid integer value." in response.get_data(as_text=True)
