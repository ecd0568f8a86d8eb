"""Partner API: Idempotency-Key semantics (IETF draft) on every write."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from carriers.idempotency import idempotency_keys_purge
from carriers.models import IdempotencyKey, WebhookEndpoint
from parcels.models import Parcel
from tests.partner_api_fixtures import *  # noqa: F403


@pytest.mark.django_db
def test_the_same_key_and_body_replays_the_first_answer(api, parcel_body):
    first = api.post("/api/v1/parcels/", parcel_body(), format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    second = api.post("/api/v1/parcels/", parcel_body(), format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert first.status_code == second.status_code == 201
    assert second.json() == first.json()
    assert second["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first
    assert Parcel.objects.count() == 1


@pytest.mark.django_db
def test_the_same_key_with_another_body_is_422(api, parcel_body):
    api.post("/api/v1/parcels/", parcel_body(), format="json", HTTP_IDEMPOTENCY_KEY="k-2")
    response = api.post("/api/v1/parcels/", parcel_body(tracking_number="OTHER"), format="json",
                        HTTP_IDEMPOTENCY_KEY="k-2")
    assert response.status_code == 422
    assert response.json()["type"].endswith("/idempotency_key_reused")
    assert Parcel.objects.count() == 1


@pytest.mark.django_db
def test_the_same_key_on_another_path_is_422(api, announce):
    first, second = announce(), announce()
    assert api.post(f"/api/v1/parcels/{first.pk}/cancel/", HTTP_IDEMPOTENCY_KEY="k-3").status_code == 200
    response = api.post(f"/api/v1/parcels/{second.pk}/cancel/", HTTP_IDEMPOTENCY_KEY="k-3")
    assert response.status_code == 422


@pytest.mark.django_db
def test_a_key_still_in_progress_is_409(api, parcel_body, carrier):
    from carriers.idempotency import request_fingerprint

    body = b'{"tracking_number":"X"}'
    fingerprint = request_fingerprint(method="POST", path="/api/v1/parcels/", body=body)
    IdempotencyKey.objects.create(partner=carrier, key="k-4", fingerprint=fingerprint)
    response = api.generic("POST", "/api/v1/parcels/", body, content_type="application/json",
                           HTTP_IDEMPOTENCY_KEY="k-4")
    assert response.status_code == 409
    assert response.json()["type"].endswith("/idempotency_key_in_use")


@pytest.mark.django_db
def test_errors_are_replayed_too(api, parcel_body):
    bad = parcel_body(site_id=999999)
    first = api.post("/api/v1/parcels/", bad, format="json", HTTP_IDEMPOTENCY_KEY="k-5")
    second = api.post("/api/v1/parcels/", bad, format="json", HTTP_IDEMPOTENCY_KEY="k-5")
    assert first.status_code == second.status_code == 400
    assert second["Content-Type"] == "application/problem+json"
    assert second.json() == first.json()


@pytest.mark.django_db
def test_keys_belong_to_one_partner(api, other_api, parcel_body):
    assert api.post("/api/v1/parcels/", parcel_body(), format="json", HTTP_IDEMPOTENCY_KEY="k-6").status_code == 201
    other = other_api.post("/api/v1/parcels/", parcel_body(), format="json", HTTP_IDEMPOTENCY_KEY="k-6")
    assert other.status_code == 201
    assert "Idempotent-Replayed" not in other
    assert Parcel.objects.count() == 2


@pytest.mark.django_db
def test_deletes_and_webhook_creation_are_idempotent(api):
    created = api.post("/api/v1/webhooks/", {"url": "https://hooks.example.com/x"}, format="json",
                       HTTP_IDEMPOTENCY_KEY="w-1")
    replay = api.post("/api/v1/webhooks/", {"url": "https://hooks.example.com/x"}, format="json",
                      HTTP_IDEMPOTENCY_KEY="w-1")
    assert replay.json() == created.json()
    assert WebhookEndpoint.objects.count() == 1
    url = f"/api/v1/webhooks/{created.json()['id']}/"
    assert api.delete(url, HTTP_IDEMPOTENCY_KEY="d-1").status_code == 204
    again = api.delete(url, HTTP_IDEMPOTENCY_KEY="d-1")
    assert again.status_code == 204
    assert again["Idempotent-Replayed"] == "true"


@pytest.mark.django_db
@pytest.mark.parametrize("key", ["", "x" * 256, "caf\u00e9"])
def test_an_invalid_key_is_400(api, parcel_body, key):
    response = api.post("/api/v1/parcels/", parcel_body(), format="json", HTTP_IDEMPOTENCY_KEY=key)
    assert response.status_code == 400
    assert not Parcel.objects.exists()


@pytest.mark.django_db
def test_keys_live_24_hours_then_are_purged_or_reclaimed(api, parcel_body):
    api.post("/api/v1/parcels/", parcel_body(), format="json", HTTP_IDEMPOTENCY_KEY="k-7")
    assert idempotency_keys_purge(now=timezone.now() + timedelta(hours=23)) == 0
    IdempotencyKey.objects.update(created_at=timezone.now() - timedelta(hours=25))
    again = api.post("/api/v1/parcels/", parcel_body(tracking_number="NEW"), format="json",
                     HTTP_IDEMPOTENCY_KEY="k-7")
    assert again.status_code == 201  # the expired key was taken over lazily
    IdempotencyKey.objects.update(created_at=timezone.now() - timedelta(hours=25))
    assert idempotency_keys_purge() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_with_one_key_make_one_parcel(key_for, carrier, parcel_body):
    """Threads race one key: one parcel; every other answer is a 409 or the replayed 201."""
    clients = [key_for(carrier)[0] for _ in range(6)]
    barrier = threading.Barrier(len(clients))
    answers: list[tuple[int, dict]] = []

    def post(client: APIClient) -> None:
        try:
            barrier.wait()
            response = client.post("/api/v1/parcels/", parcel_body(), format="json", HTTP_IDEMPOTENCY_KEY="race")
            answers.append((response.status_code, response.json()))
        finally:
            connection.close()

    threads = [threading.Thread(target=post, args=(client,)) for client in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert Parcel.objects.count() == 1
    parcel_id = Parcel.objects.get().pk
    assert {status for status, _ in answers} <= {201, 409}
    assert all(body["id"] == parcel_id for status, body in answers if status == 201)
