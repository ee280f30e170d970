"""``@writes``: every POST in one unit of work, with its ``Idempotency-Key`` answer and its audit entry.

With an ``Idempotency-Key`` header (at most 255 visible ASCII characters) the first request with that
key claims it (``domain.idempotency``); its answer is stored in the same transaction as its effect.
A retry with the same key and body gets that answer again, same status and body, with
``Idempotent-Replayed: true``; the same key with another body is ``idempotency_key_reused`` (422);
a retry while the first is still running is ``request_in_progress`` (409). Refusals (4xx) are stored
and replayed too; a failure on our side (5xx, a lost race) forgets the claim so the retry does the work.
Keys belong to the caller (API key or person) and are kept at least 24 hours.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from copy import deepcopy
from functools import wraps
from typing import Any, TypeVar

from flask import Response, g, make_response, request
from flask_smorest.utils import deepupdate
from sqlalchemy.orm import Session

from api import security
from api.errors import PROBLEM_JSON, ApiProblem, from_domain, invalid, problem_response
from api.parsing import parse_body
from domain import audit, idempotency
from domain.errors import DomainError
from domain.idempotency import Claimed
from runtime import services

F = TypeVar("F", bound=Callable[..., Any])
HEADER = "Idempotency-Key"
REPLAYED = "Idempotent-Replayed"
_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")
# Refusals that say "not now" rather than "no": a retry must be able to do the work.
_NOT_STORED = {"rate_limited", "request_in_progress", "conflict", "unavailable", "internal_error"}


def writes(view: F) -> F:
    """Wrap a write route (below ``@blp.arguments``, above ``@blp.response``)."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Response:
        raw_key = request.headers.get(HEADER)
        if raw_key is None:
            return _run(view, args, kwargs, None, None)
        key = raw_key.strip()
        if not _KEY.match(key):
            raise invalid(HEADER, "1 to 255 visible ASCII characters")
        holder = security.current().holder
        db = services.database()
        with db.unit_of_work() as session:
            claim = idempotency.claim(session, holder, key, _fingerprint(), services.now())
        if claim.outcome is Claimed.REPLAY:
            return _replay(claim.response_status or 200, claim.response_body or "{}")
        if claim.outcome is Claimed.REUSED:
            raise ApiProblem("idempotency_key_reused", f"the {HEADER} {key!r} was used for another request")
        if claim.outcome is Claimed.IN_PROGRESS:
            raise ApiProblem(
                "request_in_progress",
                f"the first request with {HEADER} {key!r} has not finished; retry shortly",
                headers={"Retry-After": "1"},
            )
        return _run_claimed(view, args, kwargs, claim.row_id, key)

    apidoc = deepcopy(getattr(wrapper, "_apidoc", {}))
    apidoc["manual_doc"] = deepupdate(deepcopy(apidoc.get("manual_doc", {})), {"x-idempotent": True})
    wrapper._apidoc = apidoc  # type: ignore[attr-defined]
    return wrapper  # type: ignore[return-value]


def _run_claimed(view: Callable[..., Any], args: Any, kwargs: Any, claim_id: int, key: str) -> Response:
    db = services.database()
    try:
        return _run(view, args, kwargs, claim_id, key)
    except (ApiProblem, DomainError) as exc:
        problem = exc if isinstance(exc, ApiProblem) else from_domain(exc)
        if problem.code in _NOT_STORED:
            with db.unit_of_work() as session:
                idempotency.release(session, claim_id)
            raise
        response = problem_response(problem)
        with db.unit_of_work() as session:
            idempotency.complete(session, claim_id, response.status_code, response.get_data(as_text=True))
        return response
    except BaseException:
        with db.unit_of_work() as session:
            idempotency.release(session, claim_id)
        raise


def _run(view: Callable[..., Any], args: Any, kwargs: Any, claim_id: int | None, key: str | None) -> Response:
    """The view, its audit entry and its stored answer in one transaction."""
    with services.database().unit_of_work() as session:
        g.api_session = session
        try:
            response = make_response(view(*args, **kwargs))
            if response.status_code < 400:
                _audit(session, response, key)
            if claim_id is not None:
                idempotency.complete(session, claim_id, response.status_code, response.get_data(as_text=True))
        finally:
            g.api_session = None
    return response


def _replay(status: int, body: str) -> Response:
    response = Response(body, status=status, mimetype=PROBLEM_JSON if status >= 400 else "application/json")
    response.headers[REPLAYED] = "true"
    return response


def _fingerprint() -> str:
    """Method, path and the body as canonical JSON: the same request however its JSON is spaced."""
    canonical = json.dumps(parse_body(request.get_data(cache=True)), sort_keys=True, default=str)
    return hashlib.sha256(f"{request.method} {request.path}\n{canonical}".encode()).hexdigest()


def _audit(session: Session, response: Response, key: str | None) -> None:
    """Every successful write names its caller: the API key's name or the person's email."""
    entity = next(iter((request.view_args or {}).values()), None)
    if entity is None and response.is_json:
        payload = response.get_json(silent=True)
        entity = payload.get("id") if isinstance(payload, dict) else None
    details: dict[str, Any] = {"method": request.method, "path": request.path, "status": response.status_code}
    if key is not None:
        details["idempotency_key"] = key
    audit.record(
        session,
        actor=security.current().actor,
        action=f"api.{request.endpoint or 'unknown'}"[:64],
        entity_type=(request.blueprint or "api")[:32],
        entity_id=entity,
        now=services.now(),
        details=details,
    )
