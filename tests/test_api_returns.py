"""Partner API: announcing a return and reading its drop-off code."""

from __future__ import annotations

import pytest

from parcels.models import Parcel, ParcelStatus
from parcels.services import code_secrets
from tests.partner_api_fixtures import *  # noqa: F403

pytestmark = pytest.mark.django_db


def test_it_announces_a_return_with_its_dropoff_code(api, parcel_body, locker):
    body = parcel_body(tracking_number="RET-1")
    response = api.post("/api/v1/returns/", body, format="json")
    assert response.status_code == 201, response.content
    answer = response.json()
    parcel = Parcel.objects.get(pk=answer["parcel"]["id"])
    assert parcel.status == ParcelStatus.RETURN_ANNOUNCED
    pin, qr = code_secrets(parcel.pickup_code)
    assert answer["dropoff_code"] == {"parcel_id": parcel.pk, "site_id": parcel.site_id, "pin": pin, "qr_token": qr}
    again = api.get(f"/api/v1/returns/{parcel.pk}/dropoff-code/")
    assert again.status_code == 200
    assert again.json()["pin"] == pin


def test_a_return_needs_a_valid_body(api, parcel_body):
    response = api.post("/api/v1/returns/", parcel_body(item={"weight_g": -1}), format="json")
    assert response.status_code == 400
    assert "item" in response.json()["errors"]


def test_no_dropoff_code_for_a_delivery_or_another_partners_return(api, other_api, announce, parcel_body, locker):
    delivery = announce()
    assert api.get(f"/api/v1/returns/{delivery.pk}/dropoff-code/").status_code == 404
    created = api.post("/api/v1/returns/", parcel_body(tracking_number="RET-2"), format="json").json()
    assert other_api.get(f"/api/v1/returns/{created['parcel']['id']}/dropoff-code/").status_code == 404


def test_a_cancelled_return_has_no_code(api, parcel_body, locker):
    created = api.post("/api/v1/returns/", parcel_body(tracking_number="RET-3"), format="json").json()
    parcel_id = created["parcel"]["id"]
    assert api.post(f"/api/v1/parcels/{parcel_id}/cancel/").status_code == 200
    assert api.get(f"/api/v1/returns/{parcel_id}/dropoff-code/").status_code == 404
