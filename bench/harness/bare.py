"""Bare Flask endpoints: what a request costs with nothing behind it.

A bench serves one of these under the same gunicorn settings as the real app and reports the real
endpoint's throughput as a share of it, which is steadier on a shared machine than either figure alone.
Each factory is a gunicorn app spec, e.g. ``bench.harness.bare:webhook_app()``.
"""

from __future__ import annotations

import os

from flask import Flask, Response, request


def webhook_app() -> Flask:
    """Checks ``X-Hub-Signature-256`` (secret ``WHATSAPP_APP_SECRET``) exactly like the real one, then answers 200."""
    from pywa.utils import webhook_updates_validator

    app = Flask("bare")
    secret = os.environ["WHATSAPP_APP_SECRET"]

    @app.post("/webhook")
    def webhook() -> Response:
        body = request.get_data()
        signature = request.headers.get("X-Hub-Signature-256")
        if not signature:
            return Response("Unauthorized", 401)
        if not webhook_updates_validator(secret, body, signature):
            return Response("Forbidden", 403)
        return Response('{"status":"ok"}', 200, content_type="application/json")

    return app


def lookup_app() -> Flask:
    """``GET /bare/members?phone=`` answers one indexed SELECT on ``customers`` (``DATABASE_URL``) as JSON.

    What a member look-up costs with no authentication, rate limit, schema or phone parsing around it.
    """
    import json

    from sqlalchemy import text

    from domain.db import make_engine  # the app's driver (psycopg2) and pool settings

    app = Flask("bare")
    engine = make_engine(os.environ["DATABASE_URL"])
    query = text("SELECT id, phone, name, tier, points_balance FROM customers WHERE phone = :phone")

    @app.get("/bare/members")
    def member() -> Response:
        with engine.connect() as conn:
            row = conn.execute(query, {"phone": request.args.get("phone", "")}).first()
        if row is None:
            return Response('{"code":"not_found"}', 404, content_type="application/json")
        body = {"id": row.id, "phone": row.phone, "name": row.name, "tier": row.tier, "points": row.points_balance}
        return Response(json.dumps(body), 200, content_type="application/json")

    return app
