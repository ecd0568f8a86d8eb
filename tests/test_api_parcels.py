"""Partner API: parcels (announce, read, list, cancel, reserve, redirect, extend, timeline)."""

from __future__ import annotations

import pytest
from django.utils import timezone

from lockers.models import Site
from parcels.lifecycle import Who
from parcels.models import Actor, Parcel, ParcelStatus
from parcels.services import parcel_deposit
from tests.partner_api_fixtures import *  # noqa: F403

pytestmark = pytest.mark.django_db


def test_it_announces_a_parcel(api, parcel_body, carrier):
    response = api.post("/api/v1/parcels/", parcel_body(), format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "announced"
    assert body["tracking_number"] == "NS-API-1"
    parcel = Parcel.objects.get(pk=body["id"])
    assert parcel.partner == carrier
    assert str(parcel.recipient_phone) == "+16125550100"


def test_it_announces_and_reserves_a_door(api, parcel_body, locker):
    response = api.post("/api/v1/parcels/", parcel_body(reserve=True), format="json")
    assert response.status_code == 201, response.content
    assert response.json()["status"] == "reserved"
    assert response.json()["compartment"]


def test_no_free_door_is_a_409_problem_naming_nearby_sites(api, parcel_body, site, make_locker):
    other = Site.objects.create(code="near", name="Near", address_line="2 Elm St", city="Minneapolis",
                                postal_code="55403", latitude="44.970000", longitude="-93.284000")
    make_locker("s", at=other)
    response = api.post("/api/v1/parcels/", parcel_body(reserve=True), format="json")
    assert response.status_code == 409
    assert response["Content-Type"] == "application/problem+json"
    problem = response.json()
    assert problem["type"].endswith("/no_fitting_compartment")
    assert [near["code"] for near in problem["nearby"]] == ["near"]
    assert not Parcel.objects.exists()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"site_id": 999999}, "site_id"),
        ({"site_id": 10**30}, "site_id"),
        ({"site_id": "abc"}, "site_id"),
        ({"tracking_number": "x" * 65}, "tracking_number"),
        ({"recipient": {"name": "A", "phone": "not a phone"}}, "recipient"),
        ({"recipient": {"name": "A"}}, "recipient"),
        ({"item": {"length_mm": 10**12, "width_mm": 1, "height_mm": 1}}, "item"),
        ({"item": {}}, "item"),
        ({"item": {"size_class": "zz"}}, "item"),
        ({"kind": "return"}, "kind"),
    ],
)
def test_bad_fields_are_a_400_problem_with_field_errors(api, parcel_body, change, field):
    response = api.post("/api/v1/parcels/", parcel_body(**change), format="json")
    assert response.status_code == 400, response.content
    problem = response.json()
    assert problem["type"].endswith("/validation_error")
    assert field in problem["errors"]


def test_malformed_json_is_a_400_problem(api):
    response = api.generic("POST", "/api/v1/parcels/", "{not json", content_type="application/json")
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"


def test_a_duplicate_tracking_number_is_a_409(api, parcel_body):
    assert api.post("/api/v1/parcels/", parcel_body(), format="json").status_code == 201
    response = api.post("/api/v1/parcels/", parcel_body(), format="json")
    assert response.status_code == 409
    assert response.json()["type"].endswith("/duplicate_tracking_number")


def test_it_reads_a_parcel_by_id_and_by_reference(api, announce):
    parcel = announce(external_reference="order-77")
    assert api.get(f"/api/v1/parcels/{parcel.pk}/").json()["id"] == parcel.pk
    assert api.get("/api/v1/parcels/by-reference/order-77/").json()["id"] == parcel.pk
    assert api.get("/api/v1/parcels/by-reference/nope/").status_code == 404


def test_another_partners_parcel_is_404_everywhere(other_api, announce, other_partner, site):
    parcel = announce(external_reference="order-9")
    for url in (f"/api/v1/parcels/{parcel.pk}/", f"/api/v1/parcels/{parcel.pk}/timeline/",
                "/api/v1/parcels/by-reference/order-9/"):
        assert other_api.get(url).status_code == 404
    for action in ("cancel", "reserve", "extend"):
        assert other_api.post(f"/api/v1/parcels/{parcel.pk}/{action}/", {}, format="json").status_code == 404
    response = other_api.post(f"/api/v1/parcels/{parcel.pk}/redirect/", {"site_id": site.pk}, format="json")
    assert response.status_code == 404
    assert other_api.get("/api/v1/parcels/").json()["results"] == []
    parcel.refresh_from_db()
    assert parcel.status == ParcelStatus.ANNOUNCED


def test_a_nul_byte_or_a_long_reference_in_the_path_is_a_400(api):
    assert api.get("/api/v1/parcels/by-reference/a%00b/").status_code == 400
    assert api.get(f"/api/v1/parcels/by-reference/{'r' * 101}/").status_code == 400


def test_a_huge_id_in_the_path_is_a_404(api):
    assert api.get("/api/v1/parcels/99999999999999999999999999/").status_code == 404
    assert api.get("/api/v1/parcels/999999999999999999/").status_code == 404


def test_it_lists_with_filters_and_a_cursor(api, announce, locker):
    first = announce()
    second = announce(reserve=True)
    third = announce()
    page = api.get("/api/v1/parcels/?page_size=2").json()
    assert [p["id"] for p in page["results"]] == [third.pk, second.pk]
    rest = api.get(page["next"]).json()
    assert [p["id"] for p in rest["results"]] == [first.pk]
    assert [p["id"] for p in api.get("/api/v1/parcels/?status=reserved").json()["results"]] == [second.pk]
    later = (timezone.now() + timezone.timedelta(hours=1)).isoformat()
    assert api.get("/api/v1/parcels/", {"updated_since": later}).json()["results"] == []
    assert api.get("/api/v1/parcels/?status=lost").status_code == 400
    assert api.get("/api/v1/parcels/?updated_since=yesterday").status_code == 400
    assert api.get("/api/v1/parcels/?cursor=garbage").status_code == 404


def test_it_cancels_a_parcel(api, announce):
    parcel = announce()
    response = api.post(f"/api/v1/parcels/{parcel.pk}/cancel/")
    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    again = api.post(f"/api/v1/parcels/{parcel.pk}/cancel/")
    assert again.status_code == 409
    assert again.json()["type"].endswith("/transition_not_allowed")


def test_it_reserves_then_redirects_with_the_hold(api, announce, make_locker, locker):
    parcel = announce()
    assert api.post(f"/api/v1/parcels/{parcel.pk}/reserve/").json()["status"] == "reserved"
    other = Site.objects.create(code="other", name="Other", address_line="3 Oak St", city="Minneapolis",
                                postal_code="55404", latitude="44.960000", longitude="-93.280000")
    make_locker("s m", at=other)
    response = api.post(f"/api/v1/parcels/{parcel.pk}/redirect/", {"site_id": other.pk}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["site_id"] == other.pk
    assert response.json()["status"] == "reserved"
    assert api.post(f"/api/v1/parcels/{parcel.pk}/redirect/", {"site_id": 0}, format="json").status_code == 400


def test_it_extends_a_waiting_parcel(api, announce, locker):
    parcel = announce(reserve=True)
    parcel = parcel_deposit(parcel_id=parcel.pk, who=Who(Actor.COURIER))
    response = api.post(f"/api/v1/parcels/{parcel.pk}/extend/", {"hours": 24}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["extensions_used"] == 1
    assert api.post(f"/api/v1/parcels/{parcel.pk}/extend/", {"hours": 10**9}, format="json").status_code == 400


def test_extending_a_parcel_not_waiting_is_a_409(api, announce):
    parcel = announce()
    response = api.post(f"/api/v1/parcels/{parcel.pk}/extend/", {}, format="json")
    assert response.status_code == 409
    assert response.json()["type"].endswith("/extension_not_allowed")


def test_the_timeline_lists_custody_events(api, announce, locker):
    parcel = announce(reserve=True)
    events = api.get(f"/api/v1/parcels/{parcel.pk}/timeline/").json()
    assert [e["type"] for e in events] == ["announced", "reserve"]
    assert events[1]["actor"] == "partner"


def test_it_needs_the_write_scope_to_announce(key_for, carrier, parcel_body):
    client, _ = key_for(carrier, scopes=["read"])
    response = client.post("/api/v1/parcels/", parcel_body(), format="json")
    assert response.status_code == 403
    assert client.get("/api/v1/parcels/").status_code == 200
