"""A local stand-in for the WhatsApp Cloud API, served over real HTTP on an ephemeral port.

It records every POST to ``/{version}/{phone_id}/messages``, answers like Meta
(``{"messaging_product": "whatsapp", "contacts": [...], "messages": [{"id": "wamid..."}]}``),
and can be told to fail for a while (500, 429 or any error JSON) to test retries. It also
answers the phone number's own ``GET /{version}/{phone_id}?fields=...`` with
``display_phone_number`` and ``verified_name`` (recorded in ``lookups``, apart from messages).
"""

from __future__ import annotations

import itertools
import json
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

MESSAGES_PATH = re.compile(r"^/v(?P<version>[\d.]+)/(?P<phone_id>[^/]+)/messages$")
NUMBER_PATH = re.compile(r"^/v(?P<version>[\d.]+)/(?P<phone_id>[^/]+)$")

SERVER_ERROR = {"message": "Service temporarily unavailable", "type": "OAuthException", "code": 2}
RATE_LIMITED = {"message": "(#130429) Rate limit hit", "type": "OAuthException", "code": 130429}


def meta_error(code: int, message: str, details: str | None = None) -> dict[str, Any]:
    """An error object shaped like Graph's (``error.code``, ``error.error_data.details``)."""
    error: dict[str, Any] = {"message": message, "type": "OAuthException", "code": code, "fbtrace_id": "AbCdEf"}
    if details:
        error["error_data"] = {"messaging_product": "whatsapp", "details": details}
    return error


RE_ENGAGEMENT = meta_error(
    131047, "Re-engagement message", "More than 24 hours have passed since the customer last replied"
)
INVALID_NUMBER = meta_error(131026, "Message undeliverable", "The recipient is not a WhatsApp user")
INVALID_PARAMETER = meta_error(100, "(#100) Invalid parameter", "Parameter value is not valid")


@dataclass
class Recorded:
    """One POST as the server saw it."""

    path: str
    phone_id: str
    body: dict[str, Any]
    headers: dict[str, str]
    status: int
    wa_message_id: str | None = None
    at: float = field(default_factory=time.time)  # when it arrived (``time.time()``)

    @property
    def to(self) -> str:
        return str(self.body.get("to") or self.body.get("recipient") or "")

    @property
    def type(self) -> str:
        return str(self.body.get("type"))

    @property
    def text(self) -> str:
        """The readable text of any message type (body of text/interactive, template name)."""
        body = self.body
        if body.get("type") == "text":
            return str(body["text"]["body"])
        if body.get("type") == "interactive":
            return str(body["interactive"]["body"]["text"])
        if body.get("type") == "template":
            return str(body["template"]["name"])
        return ""

    @property
    def options(self) -> list[tuple[str, str]]:
        """(id, title) of every reply button or list row offered."""
        if self.body.get("type") != "interactive":
            return []
        action = self.body["interactive"].get("action", {})
        buttons = [(b["reply"]["id"], b["reply"]["title"]) for b in action.get("buttons", [])]
        rows = [(r["id"], r["title"]) for s in action.get("sections", []) for r in s.get("rows", [])]
        return buttons + rows


@dataclass
class _Failure:
    status: int
    error: dict[str, Any] | None
    remaining: int | None  # None: until recover()


@dataclass
class FakeGraphAPI:
    """Start with ``start()`` (the ``graph_api`` fixture does it); ``url`` is what WHATSAPP_API_URL gets."""

    requests: list[Recorded] = field(default_factory=list)
    # The phone number's own fields, as WhatsApp Manager shows them; None leaves the field out.
    display_phone_number: str | None = "+91 98000 11111"
    verified_name: str | None = "Loyalty Test Shop"
    lookups: list[Recorded] = field(default_factory=list)
    lookup_failure: tuple[int, dict[str, Any]] | None = None  # (status, error) for every GET while set
    # Seconds each answer takes (after the request is recorded, as Meta has accepted it by then).
    latency: float = 0.0
    _failure: _Failure | None = None
    _failures_for: dict[str, _Failure] = field(default_factory=dict)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _changed: threading.Condition = field(init=False)
    _server: ThreadingHTTPServer | None = None

    def __post_init__(self) -> None:
        self._changed = threading.Condition(self._lock)

    # -- control -----------------------------------------------------------
    def start(self) -> FakeGraphAPI:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, name="fake-graph-api", daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    @property
    def url(self) -> str:
        assert self._server is not None, "call start() first"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def fail(self, status: int = 500, error: dict[str, Any] | None = None, times: int | None = None) -> None:
        """Answer the next ``times`` requests (or all, until ``recover()``) with ``status`` and ``error``."""
        if error is None:
            error = RATE_LIMITED if status == 429 else SERVER_ERROR
        with self._lock:
            self._failure = _Failure(status, error, times)

    def recover(self) -> None:
        with self._lock:
            self._failure = None

    def fail_for(self, phone: str, error: dict[str, Any], status: int = 400, times: int | None = None) -> None:
        """Answer messages to one number with ``error`` (``times`` times, or always): 131026 and the like."""
        with self._lock:
            self._failures_for[phone.lstrip("+")] = _Failure(status, error, times)

    # -- what arrived ------------------------------------------------------
    @property
    def delivered(self) -> list[Recorded]:
        """Messages the API accepted (200), in arrival order."""
        with self._lock:
            return [r for r in self.requests if r.status == 200]

    def delivered_to(self, phone: str) -> list[Recorded]:
        digits = phone.lstrip("+")
        return [r for r in self.delivered if r.to.lstrip("+") == digits]

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Recorded]:
        """Wait until at least ``count`` messages were accepted; returns them (fails on timeout)."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while sum(r.status == 200 for r in self.requests) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    got = sum(r.status == 200 for r in self.requests)
                    raise AssertionError(f"expected {count} delivered messages, got {got}")
                self._changed.wait(left)
        return self.delivered

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()
            self.lookups.clear()
            self._failure = None

    def _lookup(self, raw_path: str, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
        """``GET /{version}/{phone_id}?fields=display_phone_number,verified_name``: only the fields asked for."""
        url = urlsplit(raw_path)
        match = NUMBER_PATH.match(url.path)
        fields = [f for value in parse_qs(url.query).get("fields", []) for f in value.split(",") if f]
        with self._lock:
            if match is None:
                return 404, {"error": meta_error(100, f"Unknown path {url.path}")}
            failure = self.lookup_failure
            status = failure[0] if failure else 200
            self.lookups.append(Recorded(raw_path, match["phone_id"], {"fields": fields}, headers, status))
            if failure is not None:
                return failure[0], {"error": failure[1]}
            known = {"display_phone_number": self.display_phone_number, "verified_name": self.verified_name}
            answer = {name: value for name, value in known.items() if name in fields and value is not None}
        return 200, {**answer, "id": match["phone_id"]}

    # -- the server side ---------------------------------------------------
    def _answer(self, path: str, body: dict[str, Any], headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
        match = MESSAGES_PATH.match(path)
        with self._changed:
            if match is None:
                return 404, {"error": meta_error(100, f"Unknown path {path}")}
            status, answer, wa_id = self._outcome(body)
            self.requests.append(Recorded(path, match["phone_id"], body, headers, status, wa_id))
            self._changed.notify_all()
        return status, answer

    def _outcome(self, body: dict[str, Any]) -> tuple[int, dict[str, Any], str | None]:
        to = str(body.get("to") or "")
        failure = self._failures_for.get(to.lstrip("+")) or self._failure
        if failure is not None:
            if failure.remaining is not None:
                failure.remaining -= 1
                if failure.remaining <= 0 and failure is self._failure:
                    self._failure = None
                elif failure.remaining <= 0:
                    self._failures_for.pop(to.lstrip("+"), None)
            return failure.status, {"error": failure.error}, None
        wa_id = f"wamid.FAKE{next(self._ids):08d}"
        # Sent to a business-scoped user id (``recipient``), Meta answers with ``user_id`` and no ``wa_id``.
        contact = (
            {"input": to, "wa_id": to.lstrip("+")}
            if to
            else {"input": body.get("recipient"), "user_id": body.get("recipient")}
        )
        return 200, {"messaging_product": "whatsapp", "contacts": [contact], "messages": [{"id": wa_id}]}, wa_id


def _handler_for(api: FakeGraphAPI) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            try:
                body = json.loads(self.rfile.read(length) or b"{}")
            except ValueError:
                body = {}
            status, answer = api._answer(self.path, body, dict(self.headers))
            if api.latency:
                time.sleep(api.latency)
            self._reply(status, answer)

        def do_GET(self) -> None:
            self._reply(*api._lookup(self.path, dict(self.headers)))

        def _reply(self, status: int, answer: dict[str, Any]) -> None:
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            return None

    return Handler
