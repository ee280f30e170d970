"""Domain errors: each carries a short machine code and a human reason.

Edges translate them: a WhatsApp reply in ``bot``, a flash message in ``admin``,
a quarantined row in ``erp``, a one-line exit in the CLI.
"""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    code = "domain_error"

    def __init__(self, reason: str, **details: Any) -> None:
        super().__init__(reason)
        self.reason = reason
        self.details = details


class InvalidPhone(DomainError):
    code = "invalid_phone"


class NotFound(DomainError):
    code = "not_found"


class InsufficientPoints(DomainError):
    code = "insufficient_points"


class OutOfStock(DomainError):
    code = "out_of_stock"


class LimitReached(DomainError):
    code = "limit_reached"


class RewardUnavailable(DomainError):
    code = "reward_unavailable"


class InvalidTransition(DomainError):
    code = "invalid_transition"


class ReferralRefused(DomainError):
    code = "referral_refused"


class ValidationError(DomainError):
    code = "validation_error"


class ParentalConsentRequired(DomainError):
    """A member under 18: their marketing consent counts only after a parent's (DPDP Act s.9)."""

    code = "parental_consent_required"
