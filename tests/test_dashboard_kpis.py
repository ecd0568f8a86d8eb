"""KPIs from a known set of orders: counts, median and 90th percentile, share within
24 h, overdue rate and occupancy, on the page, in the CSV and in the charts."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine

from carriers.dashboard.kpis import kpi_range, store_kpis
from carriers.dashboard.scope import store_scope
from parcels import services
from parcels.lifecycle import Who
from parcels.models import Actor
from tests.dashboard_fixtures import *  # noqa: F403

pytestmark = pytest.mark.django_db
CHICAGO = ZoneInfo("America/Chicago")
STAFF = Who(Actor.PARTNER, "test")
NOW = datetime(2026, 11, 15, 12, 0, tzinfo=CHICAGO)


def at(day: int, hour: float) -> datetime:
    return datetime(2026, 11, day, tzinfo=CHICAGO) + timedelta(hours=hour)


def load(order, locker, when: datetime):
    with time_machine.travel(when, tick=False):
        services.deposit_door_assign(parcel_id=order.pk, locker=locker, who=STAFF)
        return services.parcel_deposit(parcel_id=order.pk, who=STAFF)


def pick_up(order, when: datetime) -> None:
    with time_machine.travel(when, tick=False):
        services.parcel_pick_up(parcel_id=order.pk, who=Who(Actor.DEVICE))


@pytest.fixture
def history(make_order, store_a, locker):
    """Day 10: four loaded (2 h, 4 h, 30 h, never). Day 11: two loaded (1.5 h, 2.5 h).

    The never-collected one expires on day 13 and is unloaded on day 14 at 09:00.
    """
    orders = {name: make_order(store_a, number=name) for name in ("o1", "o2", "o3", "o4", "o5", "o6")}
    for name, loaded, picked in (
        ("o1", at(10, 9), at(10, 11)), ("o2", at(10, 10), at(10, 14)), ("o3", at(10, 12), at(11, 18)),
        ("o4", at(10, 20), None), ("o5", at(11, 8), at(11, 9.5)), ("o6", at(11, 10), at(11, 12.5)),
    ):
        load(orders[name], locker, loaded)
        if picked:
            pick_up(orders[name], picked)
    with time_machine.travel(at(13, 21), tick=False):
        assert services.parcels_expire_due() == 1
    with time_machine.travel(at(14, 9), tick=False):
        services.parcel_collect(parcel_id=orders["o4"].pk, who=STAFF)
    return orders


@pytest.fixture
def scope(manager, retailer, store_a):
    return store_scope(manager, partner_slug=retailer.slug, site_code=store_a.code)


def test_kpis_per_day_from_a_known_set_of_orders(history, scope):
    with time_machine.travel(NOW, tick=False):
        kpis = store_kpis(scope, start=date(2026, 11, 10), end=date(2026, 11, 14))

    day10, day11, day12, *_ = kpis.days
    assert (day10.loaded, day10.picked_up, day11.loaded, day11.picked_up) == (4, 2, 2, 3)
    assert day10.p50_hours == pytest.approx(4.0)
    assert day10.p90_hours == pytest.approx(4 + 0.8 * 26)  # percentile_cont between 4 h and 30 h
    assert day11.p50_hours == pytest.approx(2.0)
    assert day11.p90_hours == pytest.approx(2.4)
    assert (day10.within_24h, day10.overdue_rate) == (0.5, 0.25)
    assert (day11.within_24h, day11.overdue_rate) == (1.0, 0.0)
    assert (day12.loaded, day12.p50_hours, day12.within_24h, day12.overdue_rate) == (0, None, None, None)
    assert kpis.doors_by_size == {"s": 3, "m": 3, "l": 2}
    # Small doors in use at each day's end: o3 and o4, then o4 until it is unloaded on day 14.
    assert [round(day.occupancy["s"] * 3) for day in kpis.days] == [2, 1, 1, 1, 0]
    assert all(day.occupancy["m"] == 0 for day in kpis.days)


def test_an_order_of_another_retailer_or_store_does_not_count(history, scope, other_retailer, store_a, locker, sizes):
    from parcels.models import Parcel
    from parcels.services import ParcelSpec, Recipient

    theirs = services.parcel_announce(
        partner=other_retailer, tracking_number="SW-1", site=store_a, recipient=Recipient(name="X", email="x@e.com"),
        spec=ParcelSpec(size_class=sizes["s"]), kind=Parcel.Kind.CLICK_AND_COLLECT, who=STAFF,
    )
    load(theirs, locker, at(10, 9))

    with time_machine.travel(NOW, tick=False):
        kpis = store_kpis(scope, start=date(2026, 11, 10), end=date(2026, 11, 10))

    assert kpis.days[0].loaded == 4 and round(kpis.days[0].occupancy["s"] * 3) == 2


def test_the_kpi_page_shows_charts_and_the_csv_has_the_same_figures(history, client_of, manager, store_a, store_url):
    client = client_of(manager)
    query = {"start": "2026-11-10", "end": "2026-11-14"}

    with time_machine.travel(NOW, tick=False):
        page = client.get(store_url("kpis", store_a), query)
        export = client.get(store_url("kpis-csv", store_a), query)

    text = page.content.decode()
    assert text.count("<svg") == 3 and "<polyline" in text and "<rect" in text
    assert "Partner portal" in text  # managers get the link to keys and webhooks
    rows = list(csv.DictReader(io.StringIO(export.content.decode())))
    assert [row["day"] for row in rows] == ["2026-11-10", "2026-11-11", "2026-11-12", "2026-11-13", "2026-11-14"]
    assert rows[0] == {
        "store": store_a.code, "day": "2026-11-10", "loaded": "4", "picked_up": "2", "median_hours": "4.0000",
        "p90_hours": "24.8000", "share_picked_up_within_24h": "0.5000", "overdue_rate": "0.2500",
        "occupancy_s": "0.6667", "occupancy_m": "0.0000", "occupancy_l": "0.0000",
    }
    day10 = page.context["kpis"].days[0]
    assert (day10.loaded, day10.p90_hours) == (4, pytest.approx(24.8))


def test_an_associate_sees_no_portal_link(client_of, associate, store_a, store_url):
    assert "Partner portal" not in client_of(associate).get(store_url("kpis", store_a)).content.decode()


def test_the_range_defaults_to_two_weeks_and_is_capped(scope):
    with time_machine.travel(NOW, tick=False):
        assert kpi_range(scope, None, None) == (date(2026, 11, 2), date(2026, 11, 15))
        assert kpi_range(scope, date(2020, 1, 1), date(2030, 1, 1)) == (date(2026, 8, 16), date(2026, 11, 15))
        assert kpi_range(scope, date(2026, 11, 12), date(2026, 11, 10)) == (date(2026, 11, 10), date(2026, 11, 10))
