"""The webhook's body cap over a real socket: a body over ``WEBHOOK_MAX_BYTES`` is answered 413 unread."""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

import pytest

from bot import webhook_body
from runtime.config import ConfigError
from tests.conftest import APP_SECRET, app_config
from tests.e2e import meta
from tests.e2e.conftest import LiveApp, WhatsAppUser

CAP = webhook_body.DEFAULT_MAX_BYTES


def _connect(live: LiveApp) -> socket.socket:
    url = urlsplit(live.url)
    conn = socket.create_connection((url.hostname, url.port), timeout=10)
    return conn


def _status_line(conn: socket.socket) -> str:
    """The first line of the answer; a server still waiting for the body times out here."""
    data = b""
    while b"\r\n" not in data:
        piece = conn.recv(4096)
        if not piece:
            break
        data += piece
    return data.split(b"\r\n", 1)[0].decode()


def _head(length: str | None = None) -> bytes:
    lines = ["POST /webhook HTTP/1.1", "Host: localhost", "Content-Type: application/json"]
    lines.append(f"Content-Length: {length}" if length is not None else "Transfer-Encoding: chunked")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def test_a_declared_200_mb_body_is_refused_before_a_byte_of_it_is_read(live_app: LiveApp) -> None:
    with _connect(live_app) as conn:
        conn.sendall(_head(str(200 * 1024 * 1024)))  # and no body at all: the answer must not wait for it
        assert _status_line(conn) == "HTTP/1.1 413 REQUEST ENTITY TOO LARGE"


def test_a_chunked_body_is_refused_once_it_passes_the_cap_without_waiting_for_its_end(live_app: LiveApp) -> None:
    piece = b"x" * 65536
    chunk = f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
    with _connect(live_app) as conn:
        conn.sendall(_head())
        for _ in range(CAP // len(piece) + 2):  # just past the cap, and never the closing 0-chunk
            conn.sendall(chunk)
        assert _status_line(conn) == "HTTP/1.1 413 REQUEST ENTITY TOO LARGE"


def test_a_signed_body_over_the_cap_is_refused_too(whatsapp: WhatsAppUser) -> None:
    body = meta.encode(meta.text(whatsapp.wa_id, "x" * (CAP + 10)))
    response = whatsapp.post(body)
    assert response.status_code == 413
    assert whatsapp.replies() == []


def test_a_signed_body_just_under_the_cap_is_handled(whatsapp: WhatsAppUser) -> None:
    body = meta.encode(meta.text(whatsapp.wa_id, "hi"))
    padded = body[:-1] + b" " * (CAP - len(body)) + b"}"  # JSON whitespace, still signed as sent
    assert len(padded) == CAP
    assert whatsapp.post(padded).status_code == 200
    assert whatsapp.replies()


def test_an_unsigned_body_under_the_cap_still_needs_its_signature(whatsapp: WhatsAppUser) -> None:
    assert whatsapp.post(meta.text(whatsapp.wa_id, "hi"), secret=None).status_code == 401


def test_the_cap_is_a_setting() -> None:
    from loyalty import create_app

    app = create_app(app_config("sqlite://", WEBHOOK_MAX_BYTES="1000"))
    body = meta.encode(meta.text("919812345678", "y" * 1000))
    headers = {"X-Hub-Signature-256": meta.sign(body, APP_SECRET), "Content-Type": "application/json"}
    assert app.test_client().post("/webhook", data=body, headers=headers).status_code == 413


@pytest.mark.parametrize("value", ["lots", "0", "-5"])
def test_a_bad_cap_stops_the_boot(value: str) -> None:
    from loyalty import create_app

    with pytest.raises(ConfigError, match="WEBHOOK_MAX_BYTES"):
        create_app(app_config("sqlite://", WEBHOOK_MAX_BYTES=value))
