"""Console pieces that need no database: safe redirects, throttling, lock-out, charts, month arithmetic."""

from __future__ import annotations

import datetime as dt

import pytest

from admin.charts import PALETTE, Series, bar_chart, line_chart, nice_max, short_number
from admin.security import safe_next
from domain import reports
from domain.users import StaffUser, is_locked, record_failure, record_success

NOW = dt.datetime(2026, 6, 15, 10, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/admin/customers?q=asha", "/admin/customers?q=asha"),
        ("/admin/", "/admin/"),
        ("//evil.example/", None),
        ("https://evil.example/admin", None),
        ("/\\evil.example", None),
        ("admin/customers", None),
        ("javascript:alert(1)", None),
        ("/admin/\x00", None),
        ("", None),
        (None, None),
    ],
)
def test_safe_next_allows_only_relative_paths_on_this_host(target: str | None, expected: str | None) -> None:
    assert safe_next(target) == expected


def test_five_failures_lock_for_fifteen_minutes_and_success_resets() -> None:
    user = StaffUser(email="a@b.co", role="admin", password_hash="x", failed_logins=0)
    for _ in range(4):
        record_failure(user, NOW)
    assert not is_locked(user, NOW)
    record_failure(user, NOW)
    assert is_locked(user, NOW + dt.timedelta(minutes=14))
    assert not is_locked(user, NOW + dt.timedelta(minutes=15, seconds=1))
    record_success(user, NOW)
    assert user.failed_logins == 0 and user.locked_until is None and user.last_login_at == NOW


def test_axis_numbers_are_short_and_bounds_are_round() -> None:
    assert short_number(1_500_000) == "1.5M"
    assert short_number(2500) == "2.5k"
    assert short_number(3.75) == "3.8"
    assert short_number(40) == "40"
    assert [nice_max(v) for v in (0, 7, 13, 240, 999, 1001)] == [1.0, 10, 20, 250, 1000, 2000]


def test_bar_chart_draws_one_bar_per_value_with_tooltips() -> None:
    svg = bar_chart("Points", ["01", "02"], [Series("Issued", [10, 20], PALETTE[0]), Series("Spent", [5, 0], "#000")])
    assert svg.count("<rect") == 4
    assert "Issued 02: 20" in svg
    assert "<svg" in svg and "legend" in svg


def test_stacked_bars_scale_to_the_column_total() -> None:
    svg = bar_chart("Sources", ["a"], [Series("x", [30], "#111"), Series("y", [70], "#222")], stacked=True)
    assert ">100</text>" in svg  # the axis top is the stack's total, not the largest part


def test_chart_text_is_escaped() -> None:
    svg = line_chart("<script>", ["<b>"], [Series("<i>", [1], "#000")])
    assert "<script>" not in svg and "&lt;script&gt;" in svg


def test_last_months_runs_oldest_first_across_a_year_end() -> None:
    assert reports.last_months(dt.datetime(2026, 2, 3, tzinfo=dt.UTC), 4) == [
        "2025-11",
        "2025-12",
        "2026-01",
        "2026-02",
    ]


def test_month_key_reads_datetimes_and_strings() -> None:
    assert reports.month_key(dt.datetime(2026, 3, 1)) == "2026-03"
    assert reports.month_key("2026-04") == "2026-04"


def test_month_key_reads_a_position_in_the_window_and_months_roll_over() -> None:
    keys = ["2025-12", "2026-01"]
    assert [reports.month_key(n, keys) for n in (0, 1, 2, 3)] == ["", "2025-12", "2026-01", ""]
    assert reports.next_month("2025-12") == "2026-01" and reports.next_month("2026-01") == "2026-02"


def test_outstanding_history_works_back_from_today() -> None:
    months = [reports.MonthPoints("2026-04", net=100), reports.MonthPoints("2026-05", net=-30)]
    assert reports.outstanding_history(500, months) == [("2026-04", 530), ("2026-05", 500)]


def test_month_points_net_refunds_against_redemptions() -> None:
    month = reports._month_points(
        "2026-05", {"earn": [100, 0], "redeem": [0, 60], "refund": [20, 0], "expire": [0, 5], "adjust": [10, 3]}
    )
    assert (month.issued, month.redeemed, month.expired, month.net) == (110, 40, 5, 62)
