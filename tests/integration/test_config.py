"""Configuration: production refuses to boot without real secrets and names each one; /health."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from domain.db import Database
from domain.system import beat
from loyalty import create_app
from runtime.config import REQUIRED_IN_PRODUCTION, ConfigError, check_production, country_code, from_environment

ROOT = Path(__file__).resolve().parents[2]
GOOD = {
    "APP_ENV": "production",
    "SECRET_KEY": "s" * 40,
    "WHATSAPP_APP_SECRET": "app-secret",
    "WHATSAPP_VERIFY_TOKEN": "verify-me",
    "WHATSAPP_TOKEN": "token",
    "WHATSAPP_PHONE_ID": "12345",
    "DATABASE_URL": "postgresql+psycopg2://loyalty@db/loyalty",
}


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for key in list(os.environ):
        if key.startswith(("APP_", "WHATSAPP_", "SECRET_", "DATABASE_", "ERP_")):
            monkeypatch.delenv(key)
    return monkeypatch


def test_development_defaults_boot(clean_env: pytest.MonkeyPatch) -> None:
    config = from_environment({})
    check_production(config)
    assert config["APP_ENV"] == "development" and config["DEFAULT_COUNTRY_CODE"] == "91"
    assert country_code({"DEFAULT_COUNTRY_CODE": "+44"}) == 44


def test_production_without_secrets_names_every_missing_variable(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("APP_ENV", "production")
    with pytest.raises(ConfigError) as info:
        create_app()
    message = str(info.value)
    for key in REQUIRED_IN_PRODUCTION:
        assert key in message
    assert "\n" not in message


@pytest.mark.parametrize("missing", REQUIRED_IN_PRODUCTION)
def test_each_missing_secret_is_named_alone(missing: str) -> None:
    config = {**GOOD, missing: ""}
    with pytest.raises(ConfigError, match=f"variables: {missing}$"):
        check_production(config)


def test_development_placeholders_are_not_secrets() -> None:
    config = {**GOOD, "SECRET_KEY": from_environment({})["SECRET_KEY"], "DATABASE_URL": "sqlite:///instance/loyalty.db"}
    with pytest.raises(ConfigError, match="SECRET_KEY, DATABASE_URL"):
        check_production(config)


def test_short_secret_key_is_refused() -> None:
    with pytest.raises(ConfigError, match="at least 32 characters"):
        check_production({**GOOD, "SECRET_KEY": "short"})


def test_production_with_real_secrets_boots(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for key, value in {**GOOD, "DATABASE_URL": f"sqlite:///{tmp_path}/prod.db"}.items():
        clean_env.setenv(key, value)
    app = create_app()
    assert app.config["APP_ENV"] == "production"
    app.extensions["loyalty.db"].dispose()


def test_flask_command_line_refuses_production_in_one_line(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("APP_", "WHATSAPP_", "SECRET_", "DATABASE_"))}
    env["APP_ENV"] = "production"
    flask = str(Path(sys.executable).parent / "flask")
    result = subprocess.run(
        [flask, "--app", str(ROOT / "wsgi.py"), "routes"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("Error: APP_ENV=production refuses to start")
    for key in REQUIRED_IN_PRODUCTION:
        assert key in line


def test_health_reports_database_scheduler_and_sync(client: Any, database: Database) -> None:
    first = client.get("/health")
    assert first.status_code == 200
    body = first.get_json()
    assert body["database"]["status"] == "ok"
    assert body["database"]["backend"] in ("sqlite", "postgresql")
    assert body["scheduler"]["status"] == "never_seen"
    assert body["status"] == "degraded"
    assert "erp_sync" in body
    clock = client.application.extensions["loyalty.clock"]
    with database.unit_of_work() as s:
        beat(s, "scheduler", clock.now() - dt.timedelta(seconds=30))
    body = client.get("/health").get_json()
    assert body["status"] == "ok"
    assert body["scheduler"]["status"] == "ok" and body["scheduler"]["age_seconds"] == 30
