"""Partner API: webhook endpoints (create with a secret shown once, list, delete, deliveries)."""

from __future__ import annotations

import uuid

import pytest
from django.db import transaction
from django.test import override_settings
from django.utils import timezone

from carriers.models import PartnerEvent, WebhookEndpoint
from carriers.webhooks import webhook_deliveries_fan_out
from tests.partner_api_fixtures import *  # noqa: F403

pytestmark = pytest.mark.django_db


def test_it_registers_an_endpoint_and_shows_the_secret_once(api, carrier):
    response = api.post("/api/v1/webhooks/", {"url": "https://hooks.example.com/ol",
                                              "event_types": ["parcel.picked_up"]}, format="json")
    assert response.status_code == 201, response.content
    created = response.json()
    assert created["secret"].startswith("whsec_")
    assert WebhookEndpoint.objects.get(pk=created["id"]).partner == carrier
    listed = api.get("/api/v1/webhooks/").json()
    assert [e["id"] for e in listed] == [created["id"]]
    assert "secret" not in listed[0]
    assert "secret" not in api.get(f"/api/v1/webhooks/{created['id']}/").json()


@pytest.mark.parametrize(
    "body",
    [{"url": "not a url"}, {"url": "ftp://x.example/"}, {"url": "https://x.example/", "event_types": ["nope"]},
     {"url": "https://x.example/", "event_types": "parcel.picked_up"}, {}],
)
def test_bad_endpoints_are_400(api, body):
    response = api.post("/api/v1/webhooks/", body, format="json")
    assert response.status_code == 400
    assert response.json()["type"].endswith("/validation_error")


@override_settings(WEBHOOK_ALLOW_HTTP=False)
def test_plain_http_is_refused_in_production(api):
    response = api.post("/api/v1/webhooks/", {"url": "http://hooks.example.com/"}, format="json")
    assert response.status_code == 400
    assert "url" in response.json()["errors"]


def test_it_deletes_an_endpoint_and_hides_others(api, other_api):
    created = api.post("/api/v1/webhooks/", {"url": "https://hooks.example.com/"}, format="json").json()
    url = f"/api/v1/webhooks/{created['id']}/"
    assert other_api.get(url).status_code == 404
    assert other_api.delete(url).status_code == 404
    assert other_api.get("/api/v1/webhooks/").json() == []
    assert api.delete(url).status_code == 204
    assert api.get(url).status_code == 404


def test_it_lists_an_endpoints_deliveries(api, announce):
    created = api.post("/api/v1/webhooks/", {"url": "https://hooks.example.com/"}, format="json").json()
    announce()
    webhook_deliveries_fan_out()
    deliveries = api.get(f"/api/v1/webhooks/{created['id']}/deliveries/").json()
    assert [(d["event_type"], d["status"]) for d in deliveries] == [("parcel.announced", "pending")]


def test_webhooks_need_a_key(client):
    assert client.get("/api/v1/webhooks/").status_code == 401


@pytest.mark.django_db(transaction=True)
def test_a_broker_outage_after_commit_does_not_fail_the_write(api, parcel_body, monkeypatch):
    from django_q import tasks

    from parcels.models import Parcel

    def broker_down(*args, **kwargs):
        raise ConnectionError("broker unreachable")

    api.post("/api/v1/webhooks/", {"url": "https://hooks.example.com/"}, format="json")
    monkeypatch.setattr(tasks, "async_task", broker_down)
    response = api.post("/api/v1/parcels/", parcel_body(), format="json")
    assert response.status_code == 201, response.content
    assert Parcel.objects.filter(pk=response.json()["id"]).exists()


@pytest.fixture
def queued_dispatches(monkeypatch) -> list[str]:
    """The task names handed to the broker (the broker itself is not this test's business)."""
    from django_q import tasks

    queued: list[str] = []
    monkeypatch.setattr(tasks, "async_task", lambda name, *args, **kwargs: queued.append(name))
    return queued


@pytest.mark.django_db(transaction=True)
def test_an_announcement_with_a_reservation_hands_its_two_events_to_the_worker_once(
    api, parcel_body, locker, queued_dispatches
):
    api.post("/api/v1/webhooks/", {"url": "https://hooks.example.com/"}, format="json")
    response = api.post("/api/v1/parcels/", parcel_body(reserve=True), format="json")
    assert response.status_code == 201, response.content
    assert sorted(PartnerEvent.objects.values_list("type", flat=True)) == ["parcel.announced", "parcel.reserved"]
    assert queued_dispatches == ["carriers.tasks.webhooks_dispatch"]


@pytest.mark.django_db(transaction=True)
def test_a_partner_without_an_active_endpoint_queues_nothing(api, parcel_body, locker, queued_dispatches):
    created = api.post("/api/v1/webhooks/", {"url": "https://hooks.example.com/"}, format="json").json()
    WebhookEndpoint.objects.filter(pk=created["id"]).update(is_active=False)
    assert api.post("/api/v1/parcels/", parcel_body(reserve=True), format="json").status_code == 201
    assert queued_dispatches == []


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_events_hand_off_does_not_stand_in_for_the_next_transactions(carrier, queued_dispatches):
    WebhookEndpoint.objects.create(partner=carrier, url="https://hooks.example.com/", secret="whsec_test")

    def event() -> PartnerEvent:
        return PartnerEvent.objects.create(id=uuid.uuid4(), partner=carrier, type="parcel.announced",
                                           occurred_at=timezone.now(), payload={})

    with pytest.raises(RuntimeError), transaction.atomic():
        event()
        raise RuntimeError("the write fails after its event")
    with transaction.atomic():
        with pytest.raises(RuntimeError), transaction.atomic():  # a savepoint rolled back, its hand-off too
            event()
            raise RuntimeError("the inner write fails")
        assert queued_dispatches == []
        event()
    assert queued_dispatches == ["carriers.tasks.webhooks_dispatch"]
