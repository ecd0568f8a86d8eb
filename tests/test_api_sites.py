"""Partner API: site search with live free doors, site detail, and the status catalogue."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from lockers.models import Compartment, Site
from tests.partner_api_fixtures import *  # noqa: F403

pytestmark = pytest.mark.django_db


def _site(code: str, lat: str, lon: str, **extra) -> Site:
    fields = {"name": code.title(), "address_line": "1 Main St", "city": "Minneapolis", "postal_code": "55401"}
    fields.update(extra)
    return Site.objects.create(code=code, latitude=lat, longitude=lon, **fields)


def test_it_finds_sites_near_a_point_nearest_first_with_free_doors(api, site, locker, announce):
    announce(reserve=True)
    far = _site("far", "44.990000", "-93.283100")
    _site("too-far", "45.500000", "-93.283100")
    response = api.get("/api/v1/sites/", {"lat": "44.969400", "lon": "-93.283100", "radius_km": 10})
    assert response.status_code == 200, response.content
    results = response.json()["results"]
    assert [r["code"] for r in results] == [site.code, far.code]
    assert results[0]["distance_km"] == 0
    assert results[0]["free_by_size"] == {"s": 2, "m": 3, "l": 2}
    assert results[1]["free_by_size"] == {}  # no lockers there


def test_free_doors_cost_a_fixed_number_of_queries(api, make_locker):
    for n in range(6):
        make_locker("s m", at=_site(f"site-{n}", "44.97", f"-93.2{n}"))
    api.get("/api/v1/sites/")  # the key's first use writes last_used_at: keep it out of the count
    with CaptureQueriesContext(connection) as few:
        api.get("/api/v1/sites/", {"city": "minneapolis"})
    for n in range(6, 12):
        make_locker("s m", at=_site(f"site-{n}", "44.97", f"-93.3{n}"))
    with CaptureQueriesContext(connection) as many:
        results = api.get("/api/v1/sites/", {"city": "minneapolis"}).json()["results"]
    assert len(results) == 13  # with the fixture's own site
    assert len(many) == len(few)


def test_it_filters_by_postal_code_accessible_zone_and_open_now(api, site, make_locker):
    chilled = _site("chilled", "44.96", "-93.28", postal_code="55404", always_open=False,
                    time_zone="America/Chicago", opening_hours={"mon": [["08:00", "20:00"]]})
    make_locker("chilled: m m", at=chilled)
    make_locker("s m l")
    Compartment.objects.update(accessible=False)
    Compartment.objects.filter(locker__site=site).update(accessible=True)
    assert [r["code"] for r in api.get("/api/v1/sites/?postal_code=55404").json()["results"]] == ["chilled"]
    assert [r["code"] for r in api.get("/api/v1/sites/?accessible=true").json()["results"]] == [site.code]
    zone = api.get("/api/v1/sites/?temperature_zone=chilled").json()["results"]
    assert [r["code"] for r in zone] == ["chilled"]
    monday_night = datetime(2026, 11, 23, 22, 0, tzinfo=ZoneInfo("America/Chicago"))
    with time_machine.travel(monday_night, tick=False):
        open_now = api.get("/api/v1/sites/?open_now=true").json()["results"]
    assert [r["code"] for r in open_now] == [site.code]


@pytest.mark.parametrize(
    "query",
    ["lat=44.9", "lat=91&lon=0", "lat=abc&lon=1", "radius_km=100000&lat=1&lon=1", "temperature_zone=hot", "limit=0"],
)
def test_bad_search_parameters_are_400(api, query, sizes):
    response = api.get(f"/api/v1/sites/?{query}")
    assert response.status_code == 400
    assert response.json()["type"].endswith("/validation_error")


def test_site_detail_and_unknown_site(api, site, locker):
    body = api.get(f"/api/v1/sites/{site.pk}/").json()
    assert body["code"] == site.code
    assert body["free_by_size"]["s"] == 3
    assert api.get("/api/v1/sites/999999/").status_code == 404


def test_the_status_catalogue_is_public(db):
    from rest_framework.test import APIClient

    response = APIClient().get("/api/v1/statuses/")
    assert response.status_code == 200
    codes = [status["code"] for status in response.json()]
    assert "ready_for_pickup" in codes


def test_sites_need_a_key(db):
    from rest_framework.test import APIClient

    assert APIClient().get("/api/v1/sites/").status_code == 401
