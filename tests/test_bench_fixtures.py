"""The benchmark's fixtures are the steady state of a running network (bench/fixtures.py)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from bench import fixtures
from bench.fixtures import Sizing, bench_fixtures_prepare
from lockers.models import Locker
from parcels import codes
from parcels.allocation import sites_near
from parcels.models import KeypadGuard
from parcels.services import pickup_code_verify

SMALL = Sizing(device_sites=1, announce_sites=1, lockers_per_site=2, ready_per_locker=2, deposits_per_locker=1)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_every_bench_locker_keypad_has_its_guard_so_the_first_code_is_as_cheap_as_the_next():
    plan = bench_fixtures_prepare(tag="t1", sizing=SMALL)
    serials = [locker["serial"] for locker in plan["lockers"]]
    assert KeypadGuard.objects.filter(locker__serial_number__in=serials, failures_today=0).count() == len(serials)

    serial, pin = plan["codes"][0]
    with CaptureQueriesContext(connection) as captured:
        opened = pickup_code_verify(locker=Locker.objects.select_related("site").get(serial_number=serial), pin=pin)

    assert len(opened) == 1
    assert len([query for query in captured.captured_queries if "parcels_" in query["sql"]]) == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_pin_drawn_at_one_locker_of_a_site_is_drawn_again_at_another(monkeypatch):
    # The second locker's first two draws repeat the first locker's PINs.
    drawn = iter(["11111111", "22222222", "11111111", "22222222", "33333333", "44444444"])
    monkeypatch.setattr(codes, "pin_from_seed", lambda seed: next(drawn))

    plan = bench_fixtures_prepare(tag="t2", sizing=Sizing(device_sites=1, announce_sites=0, lockers_per_site=2,
                                                          ready_per_locker=2, deposits_per_locker=0))

    assert sorted(pin for _, pin in plan["codes"]) == ["11111111", "22222222", "33333333", "44444444"]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_device_sites_beyond_the_searched_ones_stand_outside_the_search_radius(monkeypatch):
    """More codes for the hot paths must not change the neighbourhood the site search measures."""
    monkeypatch.setattr(fixtures, "SEARCHED_DEVICE_SITES", 1)
    plan = bench_fixtures_prepare(tag="t3", sizing=Sizing(device_sites=3, announce_sites=0, lockers_per_site=1,
                                                          ready_per_locker=1, deposits_per_locker=0))

    latitude, longitude = plan["search_point"]
    seen = {site.code for site, _ in sites_near(latitude, longitude, 5.0)}
    assert {"bench-t3-device-0", "bench-t3-burst-0"} <= seen
    assert not seen & {"bench-t3-device-1", "bench-t3-device-2"}
    assert len(plan["codes"]) == 3  # the far sites' codes are in the plan all the same
