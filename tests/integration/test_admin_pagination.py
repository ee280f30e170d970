"""The short lists paginate too: rewards, waiting conversations, staff accounts and campaigns.

Each list gets 30 rows (25 fit on a page): page 1 links to page 2, and page 2 holds exactly the last 5
rows in the list's order and links back.
"""

from __future__ import annotations

import datetime as dt
import re

from flask import Flask

from bot.models import Conversation
from domain.db import Database
from domain.earning import Campaign
from domain.rewards import Reward
from domain.users import StaffUser
from tests.fakes import FrozenClock
from tests.integration.test_admin_security import staff_client

ROWS = 30


def names_on(page: str, pattern: str) -> list[str]:
    """What matches ``pattern`` on a page, in the order it appears."""
    return re.findall(pattern, page)


def both_pages(client: object, url: str, pattern: str) -> tuple[list[str], list[str]]:
    first = client.get(url).get_data(as_text=True)  # type: ignore[attr-defined]
    second = client.get(url, query_string={"page": 2}).get_data(as_text=True)  # type: ignore[attr-defined]
    assert 'rel="next"' in first and 'rel="prev"' not in first
    assert 'rel="prev"' in second and 'rel="next"' not in second
    return names_on(first, pattern), names_on(second, pattern)


def test_rewards_list_paginates_by_cost(app: Flask, database: Database) -> None:
    with database.unit_of_work() as session:
        for n in range(ROWS):
            session.add(Reward(name=f"Prize {n:02d}", points_cost=100 + n, active=True))
    first, second = both_pages(staff_client(app, database, "manager"), "/admin/rewards", r"Prize \d\d")
    assert first == [f"Prize {n:02d}" for n in range(25)]
    assert second == [f"Prize {n:02d}" for n in range(25, ROWS)]


def test_waiting_conversations_paginate_longest_waiting_first(
    app: Flask, database: Database, clock: FrozenClock
) -> None:
    with database.unit_of_work() as session:
        for n in range(ROWS):
            at = clock.now() - dt.timedelta(minutes=ROWS - n)
            session.add(
                Conversation(phone=f"+9198100{n:05d}", updated_at=at, last_inbound_at=at, handoff=True, handoff_at=at)
            )
    client = staff_client(app, database, "support")
    first, second = both_pages(client, "/admin/conversations", r'class="mono">(\+\d+)<')
    assert first == [f"+9198100{n:05d}" for n in range(25)]
    assert second == [f"+9198100{n:05d}" for n in range(25, ROWS)]


def test_staff_accounts_paginate_by_email(app: Flask, database: Database) -> None:
    with database.unit_of_work() as session:
        for n in range(ROWS):
            session.add(
                StaffUser(email=f"clerk{n:02d}@example.com", name=f"Clerk {n:02d}", password_hash="x", role="support")
            )
    client = staff_client(app, database, "admin")  # admin@example.com sorts first
    first, second = both_pages(client, "/admin/users", r"Clerk \d\d")
    assert first == [f"Clerk {n:02d}" for n in range(24)]
    assert second == [f"Clerk {n:02d}" for n in range(24, ROWS)]


def test_campaigns_paginate_newest_first(app: Flask, database: Database) -> None:
    start = dt.date(2026, 1, 1)
    with database.unit_of_work() as session:
        for n in range(ROWS):
            day = start + dt.timedelta(days=n)
            session.add(Campaign(name=f"Drive {n:02d}", starts_on=day, ends_on=day, bonus_points=10))
    first, second = both_pages(staff_client(app, database, "admin"), "/admin/settings", r"Drive \d\d")
    assert first == [f"Drive {n:02d}" for n in reversed(range(5, ROWS))]
    assert second == [f"Drive {n:02d}" for n in reversed(range(5))]
