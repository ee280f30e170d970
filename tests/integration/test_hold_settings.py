"""``HOLD_MINUTES`` comes from the environment and sets a new hold's ``expires_at``; a bad value stops the start."""

from __future__ import annotations

import datetime as dt

import pytest

from domain.db import Database
from loyalty import create_app
from runtime.config import ConfigError, check, from_environment
from tests.conftest import app_config
from tests.domain_factories import give_points, make_customer
from tests.fakes import FrozenClock


def test_hold_minutes_from_the_environment(database: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOLD_MINUTES", "5")
    app = create_app(app_config(database.url))
    clock = FrozenClock()
    app.extensions["loyalty.clock"] = clock
    try:
        with database.unit_of_work() as s:
            cid = make_customer(s).id
            give_points(s, cid, 500)
        made = app.test_cli_runner().invoke(args=["apikeys", "create", "till", "--scopes", "holds:write"])
        auth = {"Authorization": f"Bearer {made.output.strip().splitlines()[-1]}"}
        answer = app.test_client().post("/api/v1/holds", json={"member_id": cid, "points": 100}, headers=auth)
        assert answer.status_code == 201, answer.get_json()
        expires = dt.datetime.fromisoformat(answer.get_json()["expires_at"].replace("Z", "+00:00"))
        assert expires == clock.now() + dt.timedelta(minutes=5)
    finally:
        app.extensions["loyalty.db"].dispose()


@pytest.mark.parametrize("bad", ["0", "-5", "ten", "1.5", "1441"])
def test_a_hold_time_that_is_not_whole_minutes_up_to_a_day_is_refused(bad: str) -> None:
    with pytest.raises(ConfigError, match="HOLD_MINUTES must be a whole number of minutes from 1 to 1440"):
        check(from_environment({"HOLD_MINUTES": bad}))


def test_the_default_hold_time() -> None:
    config = from_environment({})
    check(config)
    assert config["HOLD_MINUTES"] == "15" and config["RATELIMIT_STORAGE_URI"] == "memory://"
