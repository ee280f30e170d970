"""``flask --app wsgi chat PHONE``: the simulator from a pipe, in-process and as a real subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import select

from domain.customers import Customer
from loyalty.migrate import upgrade
from runtime import services

ROOT = Path(__file__).resolve().parents[2]


def test_chat_from_piped_input_walks_onboarding_and_the_menu(app: Flask, runner: Any) -> None:
    script = "hi\n2\n1\n2\n2\n1\nरेफर\n"  # Hindi, yes to updates, no offers, no code, "My points"
    result = runner.invoke(args=["chat", "+919812345678"], input=script)
    assert result.exit_code == 0, result.output
    out = result.output
    assert "you>" not in out  # no prompt noise without a terminal
    assert "  1. English\n  2. हिन्दी" in out
    assert "  1. हाँ, ज़रूर" in out
    assert "  1. हाँ\n  2. नहीं, शुक्रिया" in out  # the offers question, its own
    assert "  1. मेरे अंक — बैलेंस, टियर और समाप्ति" in out
    assert "आपके पास 0 अंक है।" in out  # "1" picked "My points" from the menu
    assert "wa.me" not in out and "इसी WhatsApp नंबर पर JOIN " in out  # no number known: the code, no broken link
    with services.database(app).unit_of_work() as session:
        customer = session.scalar(select(Customer).where(Customer.phone == "+919812345678"))
        assert customer is not None and customer.language == "hi" and customer.opted_in


def test_chat_accepts_a_local_number_and_empty_input(runner: Any) -> None:
    result = runner.invoke(args=["chat", "98123 45678"], input="")
    assert result.exit_code == 0 and result.output == ""


def test_chat_with_an_invalid_phone_is_one_line_and_exit_1(runner: Any) -> None:
    result = runner.invoke(args=["chat", "not-a-phone"], input="hi\n")
    assert result.exit_code == 1
    assert result.output.strip().count("\n") == 0 and "not a phone number" in result.output


def test_chat_while_handed_off_says_so(runner: Any) -> None:
    result = runner.invoke(args=["chat", "+919812345678"], input="hi\n1\n1\n2\nagent\npoints\n")
    assert result.exit_code == 0
    assert "A member of our team will reply here soon." in result.output
    assert result.output.rstrip().endswith("(no reply: the conversation is with staff)")


def test_flask_chat_subprocess_against_a_migrated_sqlite_database(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'chat.db'}"
    upgrade(url)
    env = {**os.environ, "DATABASE_URL": url, "APP_ENV": "development"}
    flask = str(Path(sys.executable).with_name("flask"))
    done = subprocess.run(
        [flask, "--app", "wsgi", "chat", "+919812345678"],
        input="hello\n1\n1\n2\n2\npoints\nhistory\nSTOP\n",
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "Which language do you prefer?" in done.stdout
    assert "You have 0 points." in done.stdout
    assert "No points activity yet." in done.stdout
    assert "You will no longer get loyalty updates" in done.stdout
    assert "Traceback" not in done.stderr


def test_flask_chat_subprocess_with_a_bad_phone_exits_1(tmp_path: Path) -> None:
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}", "WHATSAPP_APP_SECRET": "s"}
    flask = str(Path(sys.executable).with_name("flask"))
    done = subprocess.run(
        [flask, "--app", "wsgi", "chat", "12"],
        input="",
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 1
    errors = [line for line in done.stderr.splitlines() if "Error" in line or "Traceback" in line]
    assert errors == ["Error: '12' is not a valid phone number: too few digits"]
