"""Booting: the database URL forms hosts hand out, APP_ENV values, blank secrets, gunicorn's stop on a refusal.

Each refusal is one line naming the problem, from ``flask --app wsgi`` and from gunicorn alike.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.engine import make_url

from domain.db import BadDatabaseUrl, database_url, make_engine
from runtime.config import ConfigError, check

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
GOOD = {
    "APP_ENV": "production",
    "SECRET_KEY": "s" * 40,
    "WHATSAPP_APP_SECRET": "app-secret",
    "WHATSAPP_VERIFY_TOKEN": "verify-me",
    "WHATSAPP_TOKEN": "token",
    "WHATSAPP_PHONE_ID": "12345",
    "DATABASE_URL": "postgresql://loyalty@db/loyalty",
}


def bare_env(**extra: str) -> dict[str, str]:
    """The environment without any of the app's settings, plus ``extra``."""
    prefixes = ("APP_", "WHATSAPP_", "SECRET_", "DATABASE_", "ERP_", "TRUSTED_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}
    env.update(extra)
    return env


def flask(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "flask"), "--app", str(ROOT / "wsgi.py"), *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def one_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    (line,) = result.stderr.strip().splitlines()
    return line


@pytest.fixture
def empty_pg_url(pg_server: str) -> Iterator[str]:
    """A fresh database, as a plain ``postgresql://`` URL (the form hosts hand out)."""
    name = f"loyalty_boot_{uuid.uuid4().hex[:8]}"
    engine = make_engine(pg_server, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(pg_server).set(database=name, drivername="postgresql")
    yield url.render_as_string(hide_password=False)
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


# DATABASE_URL


@pytest.mark.parametrize("scheme", ["postgresql", "postgres"])
def test_the_plain_forms_mean_psycopg2(scheme: str) -> None:
    assert database_url(f"{scheme}://loyalty:pw@db:5432/loyalty").drivername == "postgresql+psycopg2"
    assert database_url("postgresql+psycopg2://db/x").drivername == "postgresql+psycopg2"
    assert database_url("sqlite:///instance/loyalty.db").drivername == "sqlite"


@pytest.mark.parametrize("scheme", ["postgresql", "postgres"])
def test_db_upgrade_with_the_plain_url_form(scheme: str, empty_pg_url: str, tmp_path: Path) -> None:
    url = empty_pg_url.replace("postgresql://", f"{scheme}://", 1)
    result = flask(["db", "upgrade"], bare_env(DATABASE_URL=url), tmp_path)
    assert result.returncode == 0, result.stderr
    assert "latest revision" in result.stdout
    engine = make_engine(url)
    assert "customers" in inspect(engine).get_table_names()
    engine.dispose()


@pytest.mark.parametrize(
    ("url", "phrase"),
    [
        ("postgresql+psycopg://loyalty:secret-pw@db/loyalty", "'postgresql+psycopg', whose module 'psycopg' is not"),
        ("mysql://loyalty:secret-pw@db/loyalty", "is not installed"),
        ("nosuchdb://loyalty:secret-pw@db/loyalty", "'nosuchdb', which is not a known database"),
        ("not a url with secret-pw", "does not parse"),
        ("   ", "is empty"),
    ],
)
def test_a_url_that_cannot_work_is_refused_in_one_line(url: str, phrase: str, tmp_path: Path) -> None:
    with pytest.raises(BadDatabaseUrl, match=phrase.replace("(", r"\(").replace("+", r"\+")):
        database_url(url)
    line = one_line(flask(["db", "upgrade"], bare_env(DATABASE_URL=url), tmp_path))
    assert line.startswith("Error: DATABASE_URL: ")
    assert phrase in line
    assert "secret-pw" not in line


# APP_ENV and secrets


@pytest.mark.parametrize("value", ["Production", "prod", "PRODUCTION", "production ", "staging", ""])
def test_an_unknown_app_env_is_refused(value: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="APP_ENV must be one of development, production"):
        check({**GOOD, "APP_ENV": value})
    line = one_line(flask(["routes"], bare_env(**{**GOOD, "APP_ENV": value}), tmp_path))
    assert line.startswith("Error: APP_ENV must be one of development, production")


@pytest.mark.parametrize("key", ["SECRET_KEY", "WHATSAPP_APP_SECRET", "WHATSAPP_VERIFY_TOKEN", "WHATSAPP_TOKEN"])
def test_a_secret_of_spaces_is_missing(key: str) -> None:
    with pytest.raises(ConfigError, match=f"variables: {key}"):
        check({**GOOD, key: " " * 40})


def test_a_secret_key_padded_with_spaces_is_still_short() -> None:
    with pytest.raises(ConfigError, match=r"SECRET_KEY \(at least 32 characters\)"):
        check({**GOOD, "SECRET_KEY": "short" + " " * 40})


def test_good_production_settings_pass() -> None:
    check(GOOD)
    check({"APP_ENV": "development", "DATABASE_URL": "sqlite:///instance/loyalty.db"})


# gunicorn


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def gunicorn(workers: int, cwd: Path, env: dict[str, str]) -> tuple[int, str]:
    """Run gunicorn on ``wsgi:app`` until it stops by itself; its exit code and standard error."""
    cmd = [str(BIN / "gunicorn"), "--workers", str(workers), "--bind", f"127.0.0.1:{free_port()}"]
    proc = subprocess.Popen(
        [*cmd, "--chdir", str(ROOT), "wsgi:app"], env=env, cwd=cwd, stderr=subprocess.PIPE, text=True
    )
    try:
        _, stderr = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGKILL)
        _, stderr = proc.communicate()
        pytest.fail(f"gunicorn kept running (restarting its workers?):\n{stderr[-3000:]}")
    return proc.returncode, stderr


def assert_reason(stderr: str) -> None:
    reasons = [line for line in stderr.splitlines() if line.startswith("Error: ")]
    assert len(reasons) == 1, stderr
    assert reasons[0].startswith("Error: APP_ENV=production refuses to start; set these environment variables: ")
    assert "WHATSAPP_APP_SECRET" in reasons[0] and "SECRET_KEY" not in reasons[0].split(": ", 2)[2]
    assert "Traceback" not in stderr


def test_gunicorn_as_the_procfile_runs_it_stops_with_the_reason() -> None:
    """From the project root (gunicorn.conf.py): refused in the master, before any worker boots."""
    code, stderr = gunicorn(4, ROOT, bare_env(APP_ENV="production", SECRET_KEY="x" * 40))
    assert code == 3, stderr
    assert_reason(stderr)
    assert "Booting worker" not in stderr


@pytest.mark.parametrize("workers", [1, 3])
def test_gunicorn_without_its_config_file_stops_on_the_workers_boot_error(tmp_path: Path, workers: int) -> None:
    """Started elsewhere (no gunicorn.conf.py): the first worker to fail stops the master, once."""
    code, stderr = gunicorn(workers, tmp_path, bare_env(APP_ENV="production", SECRET_KEY="x" * 40))
    assert code == 3, stderr
    assert_reason(stderr)
    assert "Worker failed to boot." in stderr
    assert stderr.count("Booting worker") <= 2 * workers, stderr


def test_gunicorn_serves_a_good_configuration(tmp_path: Path) -> None:
    """The same command with nothing refused serves requests (so the test above fails for its reason)."""
    port = free_port()
    env = bare_env(DATABASE_URL=f"sqlite:///{tmp_path}/dev.db")
    cmd = [str(BIN / "gunicorn"), "--workers", "1", "--bind", f"127.0.0.1:{port}", "--chdir", str(ROOT), "wsgi:app"]
    proc = subprocess.Popen(cmd, env=env, cwd=tmp_path, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert proc.poll() is None, "gunicorn exited"
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1) as conn:
                    conn.sendall(b"GET /health HTTP/1.0\r\nHost: x\r\n\r\n")
                    assert conn.recv(64).startswith(b"HTTP/1.")
                    return
            except OSError:
                time.sleep(0.2)
        pytest.fail("gunicorn never answered")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
