"""Who actually talks to WhatsApp: pywa's client, or a log-only stand-in when there are no credentials.

Both satisfy ``Sender``: ``send(phone, message)`` returns WhatsApp's message id or raises
``SendError`` saying whether trying again later could help. ``deliver`` does one
attempt for one outbox row; ``Dispatcher`` runs it off the request path after commit.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Protocol

import httpx
from flask import Flask
from pywa.client import WhatsApp
from pywa.errors import WhatsAppError
from pywa.types.callback import Button, Section, SectionList, SectionRow
from pywa.types.sent_update import RecipientType
from pywa.types.templates import TemplateLanguage
from sqlalchemy.orm import Session

from bot import business_number, fast_retry, outbox, privacy_data, retry
from bot.lanes import PhoneLanes
from bot.messages import Reply, Template
from bot.models import OutboxMessage
from domain.db import Database

log = logging.getLogger(__name__)

# Errors worth retrying even though Graph answered 4xx: rate limits and "try again later".
BATCH = 50  # outbox rows per claim when a sender thread's queue has backed up
MARK_EVERY = 0.2  # seconds of sending before the WhatsApp ids so far are written
TRANSIENT_CODES = frozenset({1, 2, 4, 17, 32, 613, 80007, 130429, 131000, 131016, 131048, 131056, 133004})


class SendError(Exception):
    def __init__(self, reason: str, *, code: str | None = None, transient: bool) -> None:
        super().__init__(reason)
        self.reason, self.code, self.transient = reason, code, transient


class Sender(Protocol):
    def send(self, phone: str, message: Reply | Template) -> str: ...


class LogSender:
    """Without ``WHATSAPP_TOKEN``/``WHATSAPP_PHONE_ID`` nothing leaves the machine: each message is
    marked sent with a ``local.`` id, so ``make run`` and the simulator work without credentials."""

    def send(self, phone: str, message: Reply | Template) -> str:
        kind = "template" if isinstance(message, Template) else message.kind
        log.info("no WhatsApp credentials: %s message kept locally", kind)
        return f"local.{uuid.uuid4().hex}"


class PywaSender:
    """The Cloud API through pywa, at ``WHATSAPP_API_URL`` instead of the public Graph host."""

    def __init__(self, token: str, phone_id: str, api_url: str, api_version: str, timeout: float = 10.0) -> None:
        # Connections kept alive for every sender thread: a new one per message would cost a handshake each.
        limits = httpx.Limits(max_connections=100, max_keepalive_connections=64)
        session = httpx.Client(transport=RebasingTransport(api_url), timeout=timeout, limits=limits)
        self.http = session
        self.client = WhatsApp(phone_id=phone_id, token=token, session=session, api_version=api_version)
        self.phone_id = phone_id

    def close(self) -> None:
        """Close the kept-alive connections (a campaign's sender threads open several)."""
        self.http.close()

    def send(self, phone: str, message: Reply | Template) -> str:
        to = recipient(phone)
        try:
            return self._send(to, message)
        except WhatsAppError as exc:
            raise classify(exc) from exc
        except httpx.HTTPError as exc:
            raise SendError(f"network: {type(exc).__name__}", transient=True) from exc

    def business_number(self) -> dict[str, Any]:
        """``GET /{version}/{phone_id}?fields=display_phone_number,verified_name`` (``bot.business_number``)."""
        fields = ("display_phone_number", "verified_name")
        try:
            found: dict[str, Any] = self.client.api.get_business_phone_number(self.phone_id, fields=fields)
        except WhatsAppError as exc:
            raise classify(exc) from exc
        except httpx.HTTPError as exc:
            raise SendError(f"network: {type(exc).__name__}", transient=True) from exc
        return found

    def _send(self, to: str, message: Reply | Template) -> str:
        if isinstance(message, Template):
            return self._send_template(to, message)
        header, footer = message.header, message.footer
        if message.kind == "buttons":
            buttons = [Button(title=b.title, callback_data=b.id) for b in message.buttons]
            return self.client.send_message(to, message.body, header, footer, buttons).id
        if message.kind == "list":
            sections = [
                Section(s.title, [SectionRow(r.title, r.id, r.description) for r in s.rows]) for s in message.sections
            ]
            listing = SectionList(button_title=message.list_button or "Menu", sections=sections)
            return self.client.send_message(to, message.body, header, footer, listing).id
        return self.client.send_message(to, message.body, preview_url=message.preview_url).id

    def _send_template(self, to: str, template: Template) -> str:
        components: list[dict[str, Any]] | None = template.extra.get("components")
        if components is None and template.params:
            parameters = [{"type": "text", "text": p} for p in template.params]
            components = [{"type": "body", "parameters": parameters}]
        language = TemplateLanguage(template.language)
        # A tracker comes back in the message's status webhooks (``biz_opaque_callback_data``).
        tracker: str | None = template.extra.get("tracker")
        return self.client.send_template(to, template.name, language, components, tracker=tracker).id


def recipient(address: str) -> str:
    """What pywa is given for a chat's address: a number's digits (the wa_id form, sent as ``to``), or
    a username-only sender's business-scoped user id as it came, which pywa sends as ``recipient``."""
    digits = address.lstrip("+")
    if digits.isdigit():
        return digits
    if RecipientType.from_recipient(address) not in (RecipientType.BSUID, RecipientType.PARENT_BSUID):
        # pywa would take it for a group id; Meta documents letters too, pywa 4.5 digits only.
        raise SendError("this WhatsApp user id is not in a form pywa can send to", code="recipient", transient=False)
    return address


class RebasingTransport(httpx.HTTPTransport):
    """pywa pins its session's base URL to graph.facebook.com; this moves each request to ``base_url``
    (keeping the ``/v22.0/...`` path), using only httpx's public transport API."""

    def __init__(self, base_url: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.base = httpx.URL(base_url.rstrip("/"))

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.url = request.url.copy_with(
            scheme=self.base.scheme,
            host=self.base.host,
            port=self.base.port,
            raw_path=self.base.raw_path.rstrip(b"/") + request.url.raw_path,
        )
        request.headers["Host"] = self.base.netloc.decode("ascii")
        return super().handle_request(request)


def classify(exc: WhatsAppError) -> SendError:
    """5xx, 429 and Meta's throttling codes are worth a retry; everything else is final, and so are
    131047 (outside the 24-hour window) and 131026 (undeliverable) whatever status came with them."""
    status = exc.raw_response.status_code if exc.raw_response is not None else None
    transient = not retry.is_final(str(exc.code)) and (
        (status is not None and (status >= 500 or status == 429))
        or exc.code in TRANSIENT_CODES
        or bool(exc.is_transient)
    )
    detail = exc.details or exc.message
    reason = f"{exc.message}: {detail}" if detail != exc.message else detail
    return SendError(reason, code=str(exc.code), transient=transient)


def make_sender(config: Mapping[str, Any]) -> Sender:
    token, phone_id = config.get("WHATSAPP_TOKEN"), config.get("WHATSAPP_PHONE_ID")
    if not token or not phone_id:
        return LogSender()
    return PywaSender(
        str(token),
        str(phone_id),
        str(config.get("WHATSAPP_API_URL") or "https://graph.facebook.com"),
        str(config.get("WHATSAPP_API_VERSION") or "22.0"),
    )


def sender_for(app: Flask) -> Sender:
    """The app's sender, built on first use (tests may put their own in ``app.extensions``).

    Building the real one also reads the business number in the background if it is unknown or
    old (``bot.business_number``), so share links work before the scheduler's first run.
    """
    found: Sender | None = app.extensions.get("bot.sender")
    if found is None:
        built = make_sender(app.config)
        found = app.extensions.setdefault("bot.sender", built)
        if found is built and isinstance(built, PywaSender):
            threading.Thread(target=_read_number, args=(app, built), name="business-number", daemon=True).start()
    return found


def _read_number(app: Flask, lookup: PywaSender) -> None:
    from runtime import services

    try:
        with services.database(app).unit_of_work() as session:
            business_number.refresh_if_due(session, lookup, services.now(app), app.config)
    except Exception:  # the scheduler's job reads it again; sending never waits for this
        log.exception("WhatsApp business number: not read at start")


def deliver(
    db: Database, sender: Sender, outbox_id: int, now: Callable[[], Any], *, policy: retry.RetryPolicy = retry.DEFAULT
) -> str:
    """One attempt for one row: ``skipped`` (not ours to send now), ``sent``, ``retry``, ``failed`` or
    ``expired`` (a chat reply too old to send, see ``bot.retry``)."""
    return deliver_many(db, sender, [outbox_id], now, policy=policy).get(outbox_id, "skipped")


def deliver_many(
    db: Database,
    sender: Sender,
    ids: Sequence[int],
    now: Callable[[], Any],
    *,
    policy: retry.RetryPolicy = retry.DEFAULT,
) -> dict[int, str]:
    """Claim a batch in one transaction, send outside any transaction, record the outcomes in one more.

    Under load the sender threads drain their queues in batches, so the database sees
    two short transactions per batch instead of two per message. Chat replies that have
    become stale are expired instead of claimed.
    """
    if not ids:
        return {}
    with db.unit_of_work() as session:
        expired = outbox.expire_stale(session, ids, now(), policy)
        claimed = outbox.claim_many(session, [i for i in ids if i not in expired], now())
        work = [(row.id, row.phone, outbox.message_of(row)) for row in claimed]
    return {**dict.fromkeys(expired, "expired"), **send_claimed(db, sender, work, now, policy=policy)}


def send_claimed(
    db: Database,
    sender: Sender,
    work: Sequence[tuple[int, str, Reply | Template]],
    now: Callable[[], Any],
    *,
    policy: retry.RetryPolicy = retry.DEFAULT,
) -> dict[int, str]:
    """Send rows this process holds the claim on and record the outcomes.

    WhatsApp ids are written as soon as a slow sender has produced some (every
    ``MARK_EVERY`` seconds), so a status webhook for a message finds its row; a fast
    sender's whole batch is recorded in one transaction.
    """
    outcome: dict[int, str] = {}
    sent: list[tuple[int, str]] = []
    errors: list[tuple[int, SendError]] = []
    stopped: set[str] = set()
    last_mark = time.monotonic()
    for outbox_id, phone, message in work:
        if phone in stopped:  # an earlier message to this phone just failed: keep the order
            outcome[outbox_id] = "skipped"
            continue
        try:
            sent.append((outbox_id, sender.send(phone, message)))
            outcome[outbox_id] = "sent"
        except SendError as exc:
            errors.append((outbox_id, exc))
            stopped.add(phone)
        except Exception as exc:  # a message the sender cannot even build: retrying will not help
            log.exception("outbox %d: could not be sent", outbox_id)
            errors.append((outbox_id, SendError(f"{type(exc).__name__}: {exc}", code="internal", transient=False)))
            stopped.add(phone)
        if sent and time.monotonic() - last_mark >= MARK_EVERY:
            with db.unit_of_work() as session:
                outbox.mark_sent_many(session, sent, now())
            sent, last_mark = [], time.monotonic()
    if not work:
        return outcome
    with db.unit_of_work() as session:
        outbox.mark_sent_many(session, sent, now())
        outbox.release(session, [i for i, result in outcome.items() if result == "skipped"], now())
        for outbox_id, failure in errors:
            outcome[outbox_id] = _record_error(session, outbox_id, failure, now(), policy)
        privacy_data.scrub_farewells(session, list(outcome))
    return outcome


def _record_error(session: Session, outbox_id: int, exc: SendError, at: Any, policy: retry.RetryPolicy) -> str:
    if exc.transient:
        outcome = outbox.schedule_retry(session, outbox_id, exc.code, exc.reason, at, policy).outcome
        if outcome == "retry":
            log.warning("outbox %d: transient send error %s, will retry", outbox_id, exc.code)
            return outcome
        if outcome == "expired":
            log.warning("outbox %d: still failing (%s) and too late for a chat reply: expired", outbox_id, exc.code)
            return outcome
    outbox.mark_failed(session, outbox_id, exc.code, exc.reason, at)
    log.warning("outbox %d: failed for good (%s): %s", outbox_id, exc.code, exc.reason)
    return "failed"


class Dispatcher(PhoneLanes[outbox.Outgoing]):
    """A few sender threads per process, fed what a request committed.

    Rows for one phone always go to the same thread, so a customer's replies keep
    their order; different customers don't wait for each other. Rows the request
    created already claimed are sent straight away; others are claimed first.
    """

    thread_name = "outbox-sender"

    def __init__(self, app: Flask, threads: int | None = None) -> None:
        super().__init__(threads or sender_threads(app.config))
        self.app = app

    def _run(self, q: queue.Queue[outbox.Outgoing]) -> None:
        while True:
            batch = self._next_batch(q)
            try:
                self._send(batch)
            except Exception:
                # Claimed rows stay claimed; the scheduler's retry job takes them again when the lease runs out.
                log.exception("outbox %s: sending failed unexpectedly", [item.id for item in batch])
            finally:
                for _ in batch:
                    q.task_done()

    def _send(self, batch: list[outbox.Outgoing]) -> None:
        send_now(self.app, batch)

    @staticmethod
    def _next_batch(q: queue.Queue[outbox.Outgoing]) -> list[outbox.Outgoing]:
        """Wait for one row, then take whatever else is already waiting (up to BATCH)."""
        batch = [q.get()]
        while len(batch) < BATCH:
            try:
                batch.append(q.get_nowait())
            except queue.Empty:
                break
        return batch


DEFAULT_SENDER_THREADS = 16


def sender_threads(config: Any) -> int:
    """``BOT_SENDER_THREADS``: sends waiting on the Graph API at once, per process. Each send waits a
    round trip (about 0.1-0.3 s to Meta), so one thread sends only a few messages a second."""
    value = config.get("BOT_SENDER_THREADS")
    return DEFAULT_SENDER_THREADS if value in (None, "") else max(1, int(value))


def send_now(app: Flask, batch: Sequence[outbox.Outgoing]) -> None:
    """Send committed outbox rows from this thread: rows created claimed for us straight away,
    others after claiming them."""
    from runtime import services

    db, snd = services.database(app), sender_for(app)

    def now() -> Any:
        return services.now(app)

    # A claim is only used well inside its lease: later, the retry job may already be taking the row.
    fresh = now() + outbox.LEASE / 2
    held = [(i.id, i.phone, i.message) for i in batch if i.lease_until is not None and i.lease_until >= fresh]
    policy = fast_retry.retry_policy(app)
    outcome = send_claimed(db, snd, held, now, policy=policy)
    outcome.update(deliver_many(db, snd, [i.id for i in batch if i.lease_until is None], now, policy=policy))
    again = fast_retry.waiting_behind(db, batch, outcome, now())
    if again:  # the customer wrote again while an earlier reply was backing off: try them now
        outcome.update(deliver_many(db, snd, again, now, policy=policy))
    fast_retry.retry_soon(app, outcome, dispatcher(app).submit)


def dispatcher(app: Flask) -> Dispatcher:
    found: Dispatcher | None = app.extensions.get("bot.dispatcher")
    if found is None:
        found = app.extensions.setdefault("bot.dispatcher", Dispatcher(app))
    return found


def send_after_commit(app: Flask, rows: Iterable[OutboxMessage]) -> None:
    """For callers outside the webhook (staff replies in the console): after your transaction
    commits, hand its outbox rows here to send them now instead of at the next retry run."""
    dispatcher(app).submit(outbox.outgoing(row) for row in rows)
