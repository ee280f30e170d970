"""Cookie flags and security headers in production, and TRUSTED_PROXIES for the client's address and scheme."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask

from domain.db import Database
from domain.sign_ins import ADDRESS_MAX_FAILURES
from tests.conftest import app_config
from tests.fakes import FrozenClock
from tests.integration.test_admin_security import csrf_token, make_staff

PRODUCTION = {
    "APP_ENV": "production",
    "WHATSAPP_TOKEN": "token",
    "WHATSAPP_PHONE_ID": "12345",
    "TESTING": False,
}


def make_app(database: Database, clock: FrozenClock, **extra: Any) -> Flask:
    from loyalty import create_app

    application = create_app(app_config(database.url, **extra))
    application.extensions["loyalty.clock"] = clock
    return application


@pytest.fixture
def production_app(database: Database, clock: FrozenClock) -> Iterator[Flask]:
    application = make_app(database, clock, **PRODUCTION)
    yield application
    application.extensions["loyalty.db"].dispose()


def test_the_session_cookie_is_secure_httponly_and_samesite_in_production(production_app: Flask) -> None:
    client = production_app.test_client()
    response = client.get("/admin/login", base_url="https://console.example")
    cookie = response.headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_the_session_cookie_in_development_is_httponly_and_samesite(app: Flask, client: Any) -> None:
    cookie = client.get("/admin/login").headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie


@pytest.mark.parametrize("path", ["/admin/login", "/admin/static/admin.css", "/health", "/admin/"])
def test_security_headers_everywhere(production_app: Flask, path: str) -> None:
    response = production_app.test_client().get(path)
    response.close()  # a static file is streamed from disk
    headers = response.headers
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Referrer-Policy"] == "same-origin"
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert headers["Strict-Transport-Security"].startswith("max-age=31536000")


def test_the_console_has_a_strict_csp_and_no_hsts_in_development(client: Any) -> None:
    headers = client.get("/admin/login").headers
    csp = headers["Content-Security-Policy"]
    for directive in ("default-src 'self'", "script-src 'self'", "style-src 'self'", "object-src 'none'"):
        assert directive in csp
    assert "unsafe-inline" not in csp
    assert "Strict-Transport-Security" not in headers


def test_console_pages_have_no_inline_scripts_styles_or_handlers(app: Flask, database: Database) -> None:
    """What the CSP would block (the browser test checks it in Chromium too)."""
    import re

    from tests.integration.test_admin_security import staff_client

    client = staff_client(app, database, "admin")
    for path in ("/admin/", "/admin/conversations", "/admin/simulator", "/admin/customers", "/admin/users"):
        page = client.get(path).get_data(as_text=True)
        assert not re.search(r"<script(?![^>]*\bsrc=)", page), path
        assert not re.search(r"\sstyle=|<style", page), path
        assert not re.search(r"\son[a-z]+=", page), path


# TRUSTED_PROXIES


def fail_sign_ins(client: Any, times: int, **environ: str) -> int:
    """Wrong passwords from the address the request claims; the last status."""
    status = 0
    for _ in range(times):
        token = csrf_token(client)
        status = client.post(
            "/admin/login",
            data={"email": "boss@example.com", "password": "not it at all", "csrf_token": token},
            environ_base=environ,
        ).status_code
    return int(status)


def test_forwarded_for_from_an_untrusted_peer_is_ignored(app: Flask, database: Database) -> None:
    """Without TRUSTED_PROXIES an attacker cannot pick a new address per guess."""
    make_staff(database, "boss@example.com", "admin")
    client = app.test_client()
    for n in range(ADDRESS_MAX_FAILURES):
        fail_sign_ins(client, 1, REMOTE_ADDR="198.51.100.7", HTTP_X_FORWARDED_FOR=f"203.0.113.{n}")
    assert fail_sign_ins(client, 1, REMOTE_ADDR="198.51.100.7", HTTP_X_FORWARDED_FOR="203.0.113.250") == 429


def test_behind_a_trusted_proxy_each_client_is_counted_alone(database: Database, clock: FrozenClock) -> None:
    proxied = make_app(database, clock, TRUSTED_PROXIES="10.0.0.0/8, 192.0.2.1")
    make_staff(database, "boss@example.com", "admin")
    client = proxied.test_client()
    via_proxy = {"REMOTE_ADDR": "10.1.2.3"}
    assert fail_sign_ins(client, ADDRESS_MAX_FAILURES, **via_proxy, HTTP_X_FORWARDED_FOR="203.0.113.9") == 401
    assert fail_sign_ins(client, 1, **via_proxy, HTTP_X_FORWARDED_FOR="203.0.113.9") == 429
    # Another customer behind the same proxy, and one behind two trusted hops, are not blocked.
    assert fail_sign_ins(client, 1, **via_proxy, HTTP_X_FORWARDED_FOR="203.0.113.10") == 401
    assert fail_sign_ins(client, 1, **via_proxy, HTTP_X_FORWARDED_FOR="203.0.113.11, 192.0.2.1") == 401
    # A client that prepends a fake address gets counted by its real one.
    spoofed = "203.0.113.77, 203.0.113.9"
    assert fail_sign_ins(client, 1, **via_proxy, HTTP_X_FORWARDED_FOR=spoofed) == 429
    proxied.extensions["loyalty.db"].dispose()


def test_forwarded_proto_only_from_a_trusted_proxy(database: Database, clock: FrozenClock) -> None:
    from flask import request

    seen: list[str] = []
    proxied = make_app(database, clock, TRUSTED_PROXIES="10.0.0.1")
    proxied.add_url_rule("/_scheme", "scheme", lambda: seen.append(request.scheme + " " + request.remote_addr) or "")
    client = proxied.test_client()
    headers = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.5"}
    client.get("/_scheme", headers=headers, environ_base={"REMOTE_ADDR": "10.0.0.1"})
    client.get("/_scheme", headers=headers, environ_base={"REMOTE_ADDR": "10.0.0.2"})
    assert seen == ["https 203.0.113.5", "http 10.0.0.2"]
    proxied.extensions["loyalty.db"].dispose()


def test_a_bad_trusted_proxies_entry_is_refused_in_one_line() -> None:
    from runtime.config import ConfigError, trusted_proxies

    with pytest.raises(ConfigError, match=r"TRUSTED_PROXIES: 'proxy\.internal' is not an address or CIDR range"):
        trusted_proxies({"TRUSTED_PROXIES": "10.0.0.1, proxy.internal"})
