"""The ERP sync's share of erasure: quarantined rows that hold the erased person's data go.

A quarantined row keeps the ERP's raw values (a customer row has the phone and the name), so a
row naming the person's ERP id or phone is deleted; later rows of theirs are *suppressed*
(``erp.apply``), never quarantined again. A person the ERP knew also sends the customers' watermark
back to the start: the next sync reads their (unchanged) row again and counts it as suppressed, so
the operator sees the erasure hold. Re-reading is harmless (the sync is idempotent) and erasures are rare.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from domain import erasure
from domain.erasure import Erased
from erp import watermarks
from erp.models import QuarantinedRow


def register() -> None:
    erasure.register("erp", forget)


def forget(session: Session, person: Erased) -> None:
    national = person.phone.lstrip("+")[-10:]
    for row in session.scalars(select(QuarantinedRow).where(QuarantinedRow.entity.in_(("customers", "orders")))):
        if _mentions(row.raw or {}, national, person.erp_customer_id):
            session.delete(row)
    if person.erp_customer_id:
        watermarks.reset(session, "customers")


def _mentions(raw: dict[str, Any], national: str, erp_id: str | None) -> bool:
    for value in raw.values():
        text = str(value).strip() if value is not None else ""
        if erp_id and text == erp_id:
            return True
        digits = "".join(ch for ch in text if ch.isdigit())
        if len(digits) >= 10 and digits.endswith(national):
            return True
    return False


register()  # on import, like the bot's (``erp.init_app`` imports this module)
