"""Rate limits per caller: ``memory://`` by default, and shared by every instance through a real Redis.

Redis is not optional, like PostgreSQL: ``make test`` starts (or installs) it, ``TEST_REDIS_URL``
(default ``redis://127.0.0.1:6379/15``) points elsewhere, and when it is unreachable these tests fail.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from flask import Flask

from api.limits import LocalCounters
from domain.db import Database
from tests.conftest import app_config
from tests.fakes import FrozenClock
from tests.integration.api_support import api_key, problem

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def require_redis(url: str) -> str:
    try:
        redis.Redis.from_url(url, socket_connect_timeout=3).ping()
    except redis.RedisError as exc:
        pytest.fail(
            f"Redis is required and unreachable at {url}: {exc}. "
            "Run `make test` (it starts or installs it) or set TEST_REDIS_URL.",
            pytrace=False,
        )
    return url


@pytest.fixture(scope="session")
def redis_url() -> str:
    """The Redis server, checked once: a clear failure, never a skip, when it cannot be reached."""
    return require_redis(REDIS_URL)


def test_an_unreachable_redis_fails_the_tests_rather_than_skipping_them() -> None:
    with pytest.raises(pytest.fail.Exception, match="Redis is required and unreachable"):
        require_redis("redis://127.0.0.1:1/0")


def assert_limited(answer: Any) -> dict[str, Any]:
    body = problem(answer, 429, "rate_limited")
    wait = int(answer.headers["Retry-After"])
    assert 1 <= wait <= 3600 and body["retry_after"] == wait
    return body


def test_the_default_store_is_memory_and_a_key_has_its_own_rate(app: Flask, client: Any) -> None:
    assert app.config["RATELIMIT_STORAGE_URI"] == "memory://"
    slow, other = api_key(app, "members:read", "slow-till", rate="3/hour"), api_key(app, "members:read", "other")
    for left in (2, 1, 0):
        answer = client.get("/api/v1/rewards", headers=slow)
        assert answer.status_code == 200 and answer.headers["X-RateLimit-Remaining"] == str(left)
        assert answer.headers["X-RateLimit-Limit"] == "3"
    assert_limited(client.get("/api/v1/rewards", headers=slow))
    assert_limited(client.get("/api/v1/members/1", headers=slow))
    fine = client.get("/api/v1/rewards", headers=other)
    assert fine.status_code == 200 and fine.headers["X-RateLimit-Limit"] == "600"


def test_api_rate_limit_from_the_environment_sets_the_default(
    database: Database, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    from loyalty import create_app

    monkeypatch.setenv("API_RATE_LIMIT", "2/hour")
    app = create_app(app_config(database.url))
    app.extensions["loyalty.clock"] = clock
    client, headers = app.test_client(), api_key(app, "members:read")
    assert [client.get("/api/v1/rewards", headers=headers).status_code for _ in range(2)] == [200, 200]
    assert_limited(client.get("/api/v1/rewards", headers=headers))
    own = api_key(app, "members:read", "own", rate="5/hour")
    assert client.get("/api/v1/rewards", headers=own).headers["X-RateLimit-Limit"] == "5"
    app.extensions["loyalty.db"].dispose()


@pytest.fixture
def shared_apps(
    database: Database, clock: FrozenClock, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Flask, Flask]]:
    """Two instances of the app (two hosts) told by the environment to count in one Redis, under a
    prefix of this test's own."""
    from loyalty import create_app

    monkeypatch.setenv("RATELIMIT_STORAGE_URI", redis_url)
    config = app_config(database.url, RATELIMIT_KEY_PREFIX=f"t{uuid.uuid4().hex}")
    apps = (create_app(config), create_app(config))
    assert apps[0].config["RATELIMIT_STORAGE_URI"] == redis_url
    for app in apps:
        app.extensions["loyalty.clock"] = clock
    yield apps
    for app in apps:
        app.extensions["loyalty.db"].dispose()
    prefix = config["RATELIMIT_KEY_PREFIX"]
    store = redis.Redis.from_url(redis_url)
    for key in store.scan_iter(f"*{prefix}*"):
        store.delete(key)


def test_two_instances_share_one_limit_through_redis(shared_apps: tuple[Flask, Flask], redis_url: str) -> None:
    first, second = shared_apps
    headers = api_key(first, "members:read", "shared-till", rate="4/hour")
    answers = [app.test_client().get("/api/v1/rewards", headers=headers) for app in (first, second, first, second)]
    assert [a.status_code for a in answers] == [200] * 4
    assert [a.headers["X-RateLimit-Remaining"] for a in answers] == ["3", "2", "1", "0"]
    assert_limited(first.test_client().get("/api/v1/rewards", headers=headers))
    assert_limited(second.test_client().get("/api/v1/rewards", headers=headers))
    keys = list(redis.Redis.from_url(redis_url).scan_iter(f"*{first.config['RATELIMIT_KEY_PREFIX']}*"))
    assert keys, "the counts were not kept in Redis"
    other = api_key(first, "members:read", "another-till")
    assert second.test_client().get("/api/v1/rewards", headers=other).status_code == 200


def test_failed_sign_ins_from_one_address_are_limited(app: Flask, client: Any) -> None:
    for n in range(30):
        attempt = client.post("/api/v1/auth/token", json={"email": f"nobody{n}@shop.example", "password": "x"})
        problem(attempt, 401, "unauthorized")
    problem(client.post("/api/v1/auth/token", json={"email": "a@shop.example", "password": "x"}), 429, "rate_limited")


def test_an_unreachable_store_lets_requests_through(database: Database, clock: FrozenClock) -> None:
    from loyalty import create_app

    app = create_app(app_config(database.url, RATELIMIT_STORAGE_URI="redis://127.0.0.1:1/0"))
    app.extensions["loyalty.clock"] = clock
    headers = api_key(app, "members:read", rate="1/minute")
    assert [app.test_client().get("/api/v1/rewards", headers=headers).status_code for _ in range(3)] == [200] * 3
    app.extensions["loyalty.db"].dispose()


def test_local_counters_count_every_thread_and_expire() -> None:
    counters = LocalCounters()
    threads = [threading.Thread(target=lambda: [counters.incr("k", 60) for _ in range(200)]) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert counters.get("k") == 4000 and counters.get("other") == 0
    assert counters.incr("short", 0) == 1 and counters.incr("short", 0) == 1  # an expired window starts again
    time.sleep(0.01)
    assert counters.get("short") == 0
