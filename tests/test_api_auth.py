"""Partner API: keys (hashed, shown once, revocable), scopes, throttling per key."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from carriers.keys import LAST_USED_PRECISION, InvalidScopes, api_key_authenticate, api_key_create, api_key_revoke
from carriers.models import ApiKey
from tests.partner_api_fixtures import *  # noqa: F403

pytestmark = pytest.mark.django_db


def test_a_key_is_stored_only_as_a_hash_with_a_visible_prefix(carrier):
    issued = api_key_create(partner=carrier, name="checkout", scopes=["read"])
    stored = ApiKey.objects.get()
    assert issued.plain.startswith(f"olk_{stored.prefix}_")
    assert issued.plain not in stored.secret_hash
    assert api_key_authenticate(issued.plain) == stored
    assert ApiKey.objects.get().last_used_at is not None


def test_last_used_is_written_once_a_minute_and_a_fresh_key_costs_one_statement(carrier):
    issued = api_key_create(partner=carrier, name="checkout", scopes=["read"])
    api_key_authenticate(issued.plain)
    first_use = ApiKey.objects.get().last_used_at
    with CaptureQueriesContext(connection) as fresh:
        assert api_key_authenticate(issued.plain) is not None
    assert len(fresh) == 1  # the look-up; the minute-old mark is left as it is
    assert ApiKey.objects.get().last_used_at == first_use

    ApiKey.objects.update(last_used_at=first_use - LAST_USED_PRECISION - timedelta(seconds=1))
    used = api_key_authenticate(issued.plain)
    assert ApiKey.objects.get().last_used_at == used.last_used_at > first_use


def test_unknown_scopes_are_refused(carrier):
    with pytest.raises(InvalidScopes):
        api_key_create(partner=carrier, name="x", scopes=["admin"])
    with pytest.raises(InvalidScopes):
        api_key_create(partner=carrier, name="x", scopes=[])


@pytest.mark.parametrize("header", [None, "Bearer", "Bearer nope", "Bearer a b", "Token abc", "Bearer \u00e9"])
def test_missing_or_bad_keys_are_401_problems(header):
    client = APIClient()
    if header:
        client.credentials(HTTP_AUTHORIZATION=header)
    response = client.get("/api/v1/parcels/")
    assert response.status_code == 401
    assert response["Content-Type"] == "application/problem+json"
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_a_revoked_key_is_401(key_for, carrier):
    client, api_key = key_for(carrier)
    assert client.get("/api/v1/parcels/").status_code == 200
    assert api_key_revoke(api_key=api_key) is True
    assert api_key_revoke(api_key=api_key) is False
    assert client.get("/api/v1/parcels/").status_code == 401
    assert client.post("/api/v1/parcels/", {}, format="json").status_code == 401


def test_an_inactive_partners_key_is_401(api, carrier):
    carrier.is_active = False
    carrier.save()
    assert api.get("/api/v1/parcels/").status_code == 401


def test_webhooks_need_the_webhooks_scope(key_for, carrier):
    client, _ = key_for(carrier, scopes=["read", "write"])
    assert client.get("/api/v1/webhooks/").status_code == 403


@override_settings(PARTNER_API_RATE="3/min")
def test_it_throttles_per_key_with_retry_after(key_for, carrier, other_partner):
    client, _ = key_for(carrier)
    second_key_client, _ = key_for(other_partner)
    for _ in range(3):
        assert client.get("/api/v1/parcels/").status_code == 200
    response = client.get("/api/v1/parcels/")
    assert response.status_code == 429
    assert response["Content-Type"] == "application/problem+json"
    assert 0 < int(response["Retry-After"]) <= 60
    assert second_key_client.get("/api/v1/parcels/").status_code == 200


@override_settings(PARTNER_API_RATE="1/min")
def test_writes_are_throttled_too(api, parcel_body):
    assert api.post("/api/v1/parcels/", parcel_body(), format="json").status_code == 201
    response = api.post("/api/v1/parcels/", parcel_body(tracking_number="NS-2"), format="json")
    assert response.status_code == 429
    assert "Retry-After" in response
