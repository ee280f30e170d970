"""Access to what the factory wired (database, clock), for the edges (``bot``, ``admin``, ``erp``, ``api``, CLI)."""

from __future__ import annotations

import datetime as dt

from flask import Flask, current_app

from domain.clock import Clock
from domain.db import Database


def database(app: Flask | None = None) -> Database:
    db: Database = (app or current_app).extensions["loyalty.db"]
    return db


def clock(app: Flask | None = None) -> Clock:
    c: Clock = (app or current_app).extensions["loyalty.clock"]
    return c


def now(app: Flask | None = None) -> dt.datetime:
    return clock(app).now()
