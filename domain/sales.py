"""Sales as the loyalty program sees them: orders, their lines, returns, products.

Rows are written by the ERP sync, the integration API (``domain.direct_sales``) or
the demo seed; ``domain.orders`` turns them into points, referral bonuses and
commissions. An order's ``erp_order_id`` is one key space for all of them.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from domain.db import Base, Money, UTCDateTime, utcnow


class Product(Base):
    __tablename__ = "products"

    id: Mapped[int] = mapped_column(primary_key=True)
    erp_product_id: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    category: Mapped[str | None] = mapped_column(String(120))
    mrp: Mapped[Decimal | None] = mapped_column(Money)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Order(Base):
    __tablename__ = "orders"

    id: Mapped[int] = mapped_column(primary_key=True)
    erp_order_id: Mapped[str] = mapped_column(String(64), unique=True)
    bill_no: Mapped[str | None] = mapped_column(String(64))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    # The till or web shop that posted it through the API (None for orders synced from the ERP).
    store: Mapped[str | None] = mapped_column(String(64))
    order_date: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    net_amount: Mapped[Decimal] = mapped_column(Money)
    returned_amount: Mapped[Decimal] = mapped_column(Money, default=Decimal(0))
    # completed | cancelled
    status: Mapped[str] = mapped_column(String(16), default="completed")
    # What the order has earned so far, net of corrections and returns.
    points_awarded: Mapped[int] = mapped_column(default=0)
    # Points earned before any return: the base for proportional clawback.
    points_earned: Mapped[int] = mapped_column(default=0)
    # The tier the order earned at: corrections re-price it the same way.
    earn_tier: Mapped[str] = mapped_column(String(16), default="silver")
    revision: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    lines: Mapped[list[OrderLine]] = relationship(
        back_populates="order", cascade="all, delete-orphan", order_by="OrderLine.line_no"
    )

    __table_args__ = (
        Index("ix_orders_customer_date", "customer_id", "order_date"),
        Index("ix_orders_order_date", "order_date"),
    )


class OrderLine(Base):
    __tablename__ = "order_lines"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    line_no: Mapped[int]
    erp_product_id: Mapped[str | None] = mapped_column(String(64))
    category: Mapped[str | None] = mapped_column(String(120))
    qty: Mapped[Decimal] = mapped_column(Money, default=Decimal(1))
    amount: Mapped[Decimal] = mapped_column(Money)

    order: Mapped[Order] = relationship(back_populates="lines")

    __table_args__ = (UniqueConstraint("order_id", "line_no"),)


class OrderReturn(Base):
    __tablename__ = "order_returns"

    id: Mapped[int] = mapped_column(primary_key=True)
    erp_return_id: Mapped[str] = mapped_column(String(64), unique=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    return_date: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    amount: Mapped[Decimal] = mapped_column(Money)
    points_clawed: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
