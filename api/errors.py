"""Every error the API answers is RFC 9457 problem details, ``application/problem+json``.

``{"type", "title", "status", "detail", "code"}`` plus ``"errors": [{"field", "message"}]`` for bad
fields and the few extras a code carries (``voucher_status``, ``hold_status``, ...). The handlers here
cover whatever can go wrong under ``/api``: a route that does not exist, a method it does not take, a
body that is not JSON, a refused domain rule, a race lost to another request, the database being
down, and any bug (a 500 that says nothing of the code). Outside ``/api`` they leave Flask's own
answers alone.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from typing import Any

from flask import Flask, Response, request
from sqlalchemy.exc import IntegrityError, OperationalError, SQLAlchemyError
from werkzeug.exceptions import HTTPException

from domain.errors import DomainError

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "urn:loyalty-bot:problem:"

# What each code is called, and the HTTP status it always comes with.
CODES: dict[str, tuple[int, str]] = {
    "validation_error": (400, "The request is not valid"),
    "unauthorized": (401, "Authentication required"),
    "forbidden": (403, "Not allowed for these credentials"),
    "not_found": (404, "Not found"),
    "method_not_allowed": (405, "Method not allowed"),
    "payload_too_large": (413, "Request body too large"),
    "unsupported_media_type": (415, "Unsupported media type"),
    "insufficient_points": (422, "Not enough points"),
    "idempotency_key_reused": (422, "Idempotency key already used for another request"),
    "wrong_code": (422, "Wrong code"),
    "referral_refused": (422, "Referral code refused"),
    "parental_consent_required": (422, "A parent's consent is needed first"),
    "voucher_not_valid": (409, "Voucher cannot be used"),
    "hold_not_open": (409, "Hold is not open"),
    "request_in_progress": (409, "A request with this idempotency key is in progress"),
    "out_of_stock": (409, "Out of stock"),
    "limit_reached": (409, "Per-member limit reached"),
    "reward_unavailable": (409, "Reward not available"),
    "invalid_transition": (409, "Not possible in the current state"),
    "limit_exceeded": (409, "Over the number's 24-hour messaging limit"),
    "campaign_blocked": (409, "WhatsApp flagged the number or refused the template"),
    "order_conflict": (409, "Order belongs to another member"),
    "conflict": (409, "Conflicting concurrent change"),
    "rate_limited": (429, "Too many requests"),
    "internal_error": (500, "Internal error"),
    "unavailable": (503, "Temporarily unavailable"),
}
_BY_STATUS = {
    400: "validation_error",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
}
_BY_STATUS |= {409: "conflict", 413: "payload_too_large", 415: "unsupported_media_type", 429: "rate_limited"}
# Domain error details worth passing on to a client, under the name the client sees.
_DETAIL_FIELDS = {"status": "hold_status", "voucher_status": "voucher_status", "needed": "needed"}
_DETAIL_FIELDS |= {"balance": "available", "short": "short", "attempts_left": "attempts_left"}
_DETAIL_FIELDS |= {"audience": "audience", "limit_left": "limit_left", "campaign_status": "campaign_status"}


class ApiProblem(Exception):
    """Raise anywhere under ``/api`` to answer a problem; ``problem_response`` builds the same answer."""

    def __init__(
        self,
        code: str,
        detail: str,
        *,
        errors: Iterable[tuple[str, str]] = (),
        headers: Mapping[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.code, self.detail = code, detail
        self.status = CODES.get(code, (400, ""))[0]
        self.errors = [{"field": field, "message": message} for field, message in errors]
        self.headers = dict(headers or {})
        self.extra = extra


def invalid(field: str, message: str, detail: str | None = None) -> ApiProblem:
    """400 ``validation_error`` naming one field."""
    return ApiProblem("validation_error", detail or f"{field}: {message}", errors=[(field, message)])


def body(problem: ApiProblem) -> dict[str, Any]:
    status, title = CODES.get(problem.code, (problem.status, "Error"))
    out: dict[str, Any] = {
        "type": TYPE_BASE + problem.code,
        "title": title,
        "status": status,
        "detail": problem.detail,
        "code": problem.code,
        **problem.extra,
    }
    if problem.errors:
        out["errors"] = problem.errors
    return out


def problem_response(problem: ApiProblem) -> Response:
    content = json.dumps(body(problem), separators=(",", ":"), default=str)
    response = Response(content, status=problem.status, mimetype=PROBLEM_JSON)
    response.headers.update(problem.headers)
    return response


def from_domain(error: DomainError) -> ApiProblem:
    """A refused domain rule as the problem a client can act on."""
    code = error.code if error.code in CODES else "validation_error"
    if error.code == "invalid_phone":
        return invalid(str(error.details.get("field", "phone")), error.reason, error.reason)
    extra = {_DETAIL_FIELDS[k]: v for k, v in error.details.items() if k in _DETAIL_FIELDS}
    field = error.details.get("field")
    if code == "not_found":
        field = None
    errors = [(str(field), error.reason)] if field and code == "validation_error" else []
    if code == "validation_error" and not errors:
        errors = [("body", error.reason)]
    return ApiProblem(code, error.reason, errors=errors, **extra)


def is_api_request() -> bool:
    return request.path == "/api" or request.path.startswith("/api/")


def init_app(app: Flask) -> None:
    app.register_error_handler(ApiProblem, _on_problem)
    app.register_error_handler(DomainError, _on_domain_error)
    app.register_error_handler(HTTPException, _on_http_exception)
    app.register_error_handler(SQLAlchemyError, _on_database_error)


def _on_problem(problem: ApiProblem) -> Response:
    return problem_response(problem)


def _on_domain_error(error: DomainError) -> Response:
    if not is_api_request():
        raise error
    return problem_response(from_domain(error))


def _on_http_exception(error: HTTPException) -> Response | HTTPException:
    if not is_api_request():
        return error
    status = error.code or 500
    if status >= 500:
        log.error("API %s %s failed: %s", request.method, request.path, error)
        return problem_response(ApiProblem("internal_error", "something went wrong on our side; retry later"))
    code = _BY_STATUS.get(status, "validation_error")
    headers: dict[str, str] = {}
    detail = error.description or CODES[code][1]
    if code == "rate_limited":
        headers["Retry-After"] = "60"
        detail = f"rate limit {getattr(error, 'description', '')} exceeded; retry after the Retry-After seconds"
    elif code == "method_not_allowed":
        allowed = getattr(error, "valid_methods", None)
        if allowed:
            headers["Allow"] = ", ".join(allowed)
        detail = f"{request.method} is not allowed on {request.path}"
    elif code == "not_found":
        detail = f"nothing at {request.path}"
    if code == "unauthorized":
        headers["WWW-Authenticate"] = 'Bearer realm="loyalty"'
    return problem_response(ApiProblem(code, detail, headers=headers))


def _on_database_error(error: SQLAlchemyError) -> Response:
    if not is_api_request():
        raise error
    if isinstance(error, IntegrityError):
        log.info("API %s %s lost a race: %s", request.method, request.path, _first_line(error))
        return problem_response(ApiProblem("conflict", "a concurrent request changed the same record; retry"))
    if isinstance(error, OperationalError):
        log.warning(
            "API %s %s: database unavailable: %s: %s",
            request.method,
            request.path,
            type(error.orig).__name__,
            _first_line(error),
        )
        return problem_response(
            ApiProblem("unavailable", "the database is unavailable; retry later", headers={"Retry-After": "5"})
        )
    log.exception("API %s %s: database error", request.method, request.path)
    return problem_response(ApiProblem("internal_error", "something went wrong on our side; retry later"))


def _first_line(error: SQLAlchemyError) -> str:
    """The driver's own message, first line only (the rest repeats the SQL)."""
    lines = str(getattr(error, "orig", error)).strip().splitlines()
    return lines[0] if lines else ""
