"""Campaign senders as real processes (``flask --app wsgi campaigns send ID``) against the local Graph API.

- kill -9 of the sending process at about 40%, then a restart: every eligible member got the
  message exactly once (SQLite and PostgreSQL);
- two processes sending one campaign at once (two hosts) share the pace, through the database or
  through Redis, and never send one member twice (PostgreSQL).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from domain import campaigns
from domain.campaign_settings import CampaignSettings
from domain.clock import SystemClock
from domain.db import Database
from domain.segments import Segment
from tests.conftest import APP_SECRET
from tests.e2e import meta
from tests.e2e.campaign_seed import Seeded, seed
from tests.e2e.conftest import TOKEN
from tests.e2e.graph_api import FakeGraphAPI
from tests.e2e.test_campaigns_e2e import max_in_one_second, max_in_window

ROOT = Path(__file__).resolve().parents[2]
RATE = 40
WAIT = 120.0


def env_for(database: Database, graph_api: FakeGraphAPI, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "APP_ENV": "development",
        "DATABASE_URL": database.url,
        "SECRET_KEY": "process-test-secret-" + "x" * 32,
        "WHATSAPP_APP_SECRET": APP_SECRET,
        "WHATSAPP_TOKEN": TOKEN,
        "WHATSAPP_PHONE_ID": meta.PHONE_NUMBER_ID,
        "WHATSAPP_API_URL": graph_api.url,
        "QUIET_HOURS": "none",
        "CAMPAIGN_RATE_PER_SECOND": str(RATE),
        "MESSAGING_LIMIT_24H": "100000",
        **extra,
    }


def sender(env: dict[str, str], campaign_id: int) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "flask", "--app", "wsgi", "campaigns", "send", str(campaign_id)]
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def finish(process: subprocess.Popen[bytes]) -> str:
    output, _ = process.communicate(timeout=WAIT)
    text = output.decode()
    assert process.returncode == 0, text
    return text


def campaign_for(database: Database) -> int:
    settings = CampaignSettings(rate_per_second=RATE, quiet_hours="none", messaging_limit_24h=100_000)
    now = SystemClock().now()
    with database.unit_of_work() as session:
        campaign = campaigns.create(
            session,
            name="Kill test",
            template_name="offer",
            parameters=["name"],
            segment=Segment(),
            now=now,
            settings=settings,
        )
        return campaign.id


def members(database: Database, eligible: int) -> Seeded:
    return seed(database, SystemClock().now(), {"eligible": eligible, "no_consent": 20, "stop": 20, "capped": 20})


def each_once(graph_api: FakeGraphAPI, seeded: Seeded) -> Counter[str]:
    got = Counter("+" + r.to for r in graph_api.delivered)
    assert set(got) == set(seeded.of("eligible"))
    return got


def test_kill_9_at_40_percent_and_a_restart_send_everyone_once(database: Database, graph_api: FakeGraphAPI) -> None:
    seeded = members(database, 400)
    campaign_id = campaign_for(database)
    graph_api.latency = 0.05  # requests in flight when the process dies
    env = env_for(database, graph_api)
    first = sender(env, campaign_id)
    graph_api.wait_for(160, timeout=WAIT)
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=10)
    assert first.stdout is not None
    first.stdout.close()
    at_kill = len(graph_api.delivered)
    assert at_kill < 400
    finish(sender(env, campaign_id))
    got = each_once(graph_api, seeded)
    assert set(got.values()) == {1}, [p for p, n in got.items() if n > 1]
    with database.unit_of_work() as session:
        assert session.get(campaigns.MessageCampaign, campaign_id).status == "done"  # type: ignore[union-attr]
        counts = campaigns.counts(session, campaign_id)
    assert counts["sent"] == 400 and counts["pending"] == 0


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    """A real Redis server on a free port, for the shared pace across hosts."""
    binary = shutil.which("redis-server")
    assert binary, "redis-server is needed (apt-get install redis-server)"
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(tmp_path),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.05)
    yield f"redis://127.0.0.1:{port}/0"
    server.terminate()
    server.wait(timeout=10)


def _two_hosts(pg_database: Database, graph_api: FakeGraphAPI, **extra: str) -> None:
    seeded = members(pg_database, 300)
    campaign_id = campaign_for(pg_database)
    graph_api.latency = 0.02
    with pg_database.unit_of_work() as session:
        campaigns.start(session, campaigns.get(session, campaign_id), SystemClock().now(), _settings(), "test")
    env = env_for(pg_database, graph_api, **extra)
    hosts = [sender(env, campaign_id) for _ in range(2)]
    outputs = [finish(host) for host in hosts]
    got = each_once(graph_api, seeded)
    assert set(got.values()) == {1}, outputs
    # The shared pace grants at most RATE slots a second (2.5% under, see bot.campaign_sender.RATE_MARGIN);
    # what arrives here also carries each request's own delay after its slot (its row's commit, the
    # machine's scheduling), so on a loaded machine a second can hold a few more while its neighbours
    # hold fewer. Over any three seconds the rate holds; no second is far over it.
    assert max_in_window(graph_api.requests, 3.0) <= 3 * RATE
    assert max_in_one_second(graph_api.requests) <= RATE * 1.1
    elapsed = graph_api.requests[-1].at - graph_api.requests[0].at
    assert elapsed >= 300 / RATE - 1.5  # together, not twice the rate
    assert all("took=" in out and "took=0 " not in out for out in outputs), outputs  # both hosts sent


def _settings() -> CampaignSettings:
    return CampaignSettings(rate_per_second=RATE, quiet_hours="none", messaging_limit_24h=100_000)


def test_two_hosts_share_the_pace_through_the_database(pg_database: Database, graph_api: FakeGraphAPI) -> None:
    _two_hosts(pg_database, graph_api)


def test_two_hosts_share_the_pace_through_redis(pg_database: Database, graph_api: FakeGraphAPI, redis_url: str) -> None:
    _two_hosts(pg_database, graph_api, REDIS_URL=redis_url)


def test_restarting_send_on_a_done_campaign_sends_nothing(database: Database, graph_api: FakeGraphAPI) -> None:
    members(database, 5)
    campaign_id = campaign_for(database)
    env = env_for(database, graph_api)
    finish(sender(env, campaign_id))
    again = sender(env, campaign_id)
    output, _ = again.communicate(timeout=WAIT)
    assert again.returncode == 1 and b"is done" in output
    assert len(graph_api.delivered) == 5
