"""Public pages of the privacy room: the notice (``GET /privacy``, ``?lang=hi``) and export downloads.

Both are open to anyone on the internet, so they show nothing that is not public (the notice) or
that the signed link does not prove the right to (one member's own export).
"""

from __future__ import annotations

import csv
import io
import json

from flask import Blueprint, Flask, Response, abort, current_app, render_template, request
from flask.typing import ResponseReturnValue

from bot import export_links, notice
from bot.texts import LANGUAGES, language_or_default, texts_for
from domain import data_export, privacy_settings
from domain.customers import Customer
from runtime import services

bp = Blueprint("privacy", __name__, template_folder="templates")


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)


@bp.get("/privacy")
def privacy_notice() -> ResponseReturnValue:
    lang = language_or_default(request.args.get("lang"))
    with services.database().unit_of_work() as session:
        shown = notice.current(session, lang)
    t = texts_for(lang, current_app.config)
    others = [(code, texts_for(code, {})._("English")) for code in LANGUAGES if code != lang]
    labels = {
        "title": t._("Privacy notice"),
        "version": t._("Version {version}", version=shown.label),
        "published": t._("published {date}", date=t.date(shown.published_at)) if shown.published_at else "",
        "others": t._("Other languages"),
    }
    html = render_template("privacy/notice.html", notice=shown, labels=labels, others=others)
    return Response(html, headers={"Content-Language": lang, "Cache-Control": "public, max-age=300"})


@bp.get("/privacy/export/<token>")
def export_download(token: str) -> ResponseReturnValue:
    with services.database().unit_of_work() as session:
        settings = privacy_settings.load(session)
        found = export_links.read_token(current_app.config, token, settings.export_link_hours * 3600)
        if found is None:
            abort(404)
        customer = session.get(Customer, found[0])
        if customer is None or customer.is_erased:
            abort(410)
        document = data_export.export(session, customer, services.now())
    reference = found[1]
    headers = {"Cache-Control": "no-store", "X-Robots-Tag": "noindex"}
    if request.args.get("format") == "csv":
        out = io.StringIO()
        csv.writer(out).writerows(data_export.csv_rows(document))
        headers["Content-Disposition"] = f'attachment; filename="my-data-{reference}.csv"'
        return Response(out.getvalue(), mimetype="text/csv", headers=headers)
    headers["Content-Disposition"] = f'attachment; filename="my-data-{reference}.json"'
    body = json.dumps(document, ensure_ascii=False, indent=2)
    return Response(body, mimetype="application/json", headers=headers)
