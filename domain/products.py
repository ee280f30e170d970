"""Products as the ERP lists them: kept so that order lines can be weighted by category."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from domain.db import money
from domain.errors import ValidationError
from domain.orders import Outcome
from domain.sales import Product


@dataclass(frozen=True)
class ProductData:
    erp_product_id: str
    name: str
    category: str | None = None
    mrp: Decimal | None = None


def validate_product(data: ProductData) -> None:
    if not data.erp_product_id.strip():
        raise ValidationError("a product needs an ERP id")
    if data.mrp is not None and data.mrp < 0:
        raise ValidationError(f"product {data.erp_product_id} has a negative MRP")


def upsert_products(session: Session, items: Sequence[ProductData], now: dt.datetime) -> list[Outcome]:
    """Create or update each product; one look-up for the whole batch. Invalid items raise before any write."""
    for item in items:
        validate_product(item)
    ids = [item.erp_product_id for item in items]
    existing = {p.erp_product_id: p for p in session.scalars(select(Product).where(Product.erp_product_id.in_(ids)))}
    return [_upsert(session, existing, item, now) for item in items]


def _upsert(session: Session, existing: dict[str, Product], item: ProductData, now: dt.datetime) -> Outcome:
    mrp = None if item.mrp is None else money(item.mrp)
    product = existing.get(item.erp_product_id)
    if product is None:
        product = Product(erp_product_id=item.erp_product_id, name=item.name, category=item.category, mrp=mrp)
        product.updated_at = now
        session.add(product)
        existing[item.erp_product_id] = product
        return Outcome.CREATED
    if (product.name, product.category, product.mrp) == (item.name, item.category, mrp):
        return Outcome.UNCHANGED
    product.name, product.category, product.mrp, product.updated_at = item.name, item.category, mrp, now
    return Outcome.UPDATED
