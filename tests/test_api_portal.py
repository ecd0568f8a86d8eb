"""Partner portal: partner admins and retail managers manage keys and webhook endpoints."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from carriers.keys import api_key_authenticate
from carriers.models import ApiKey, PartnerMember, WebhookEndpoint
from tests.partner_api_fixtures import *  # noqa: F403

pytestmark = pytest.mark.django_db


@pytest.fixture
def member_client(client, carrier):
    def login(role: str = PartnerMember.Role.ADMIN, partner=None):
        user = get_user_model().objects.create_user(username=f"u-{role}", password="x")
        PartnerMember.objects.create(partner=partner or carrier, user=user, role=role)
        client.force_login(user)
        return client

    return login


def test_the_portal_needs_a_login(client, carrier):
    response = client.get(f"/partners/{carrier.slug}/")
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_a_dispatcher_or_another_partners_admin_is_refused(member_client, carrier, other_partner):
    assert member_client(PartnerMember.Role.DISPATCHER).get(f"/partners/{carrier.slug}/").status_code == 403


def test_an_admin_of_another_partner_cannot_see_this_one(member_client, carrier, other_partner):
    client = member_client(partner=other_partner)
    assert client.get(f"/partners/{carrier.slug}/").status_code == 403
    assert client.get("/partners/").status_code == 302


def test_an_admin_creates_a_key_shown_once_and_revokes_it(member_client, carrier):
    client = member_client()
    response = client.post(f"/partners/{carrier.slug}/keys/", {"name": "checkout", "scopes": ["read", "write"]})
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    plain = response.context["new_key"].plain
    assert plain in response.content.decode()
    assert api_key_authenticate(plain).partner == carrier
    page = client.get(f"/partners/{carrier.slug}/").content.decode()
    assert plain not in page
    key = ApiKey.objects.get()
    assert key.prefix in page
    client.post(f"/partners/{carrier.slug}/keys/{key.pk}/revoke/")
    assert api_key_authenticate(plain) is None


def test_a_retail_manager_adds_and_deletes_a_webhook(member_client, carrier):
    client = member_client(PartnerMember.Role.RETAIL_MANAGER)
    response = client.post(f"/partners/{carrier.slug}/webhooks/",
                           {"url": "https://shop.example.com/hook", "event_types": ["parcel.picked_up"]})
    assert response.status_code == 200
    secret = response.context["new_endpoint"].secret
    assert secret in response.content.decode()
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.partner == carrier
    assert endpoint.event_types == ["parcel.picked_up"]
    assert secret not in client.get(f"/partners/{carrier.slug}/").content.decode()
    client.post(f"/partners/{carrier.slug}/webhooks/{endpoint.pk}/delete/")
    assert not WebhookEndpoint.objects.exists()


def test_invalid_forms_are_shown_again_with_errors(member_client, carrier):
    client = member_client()
    response = client.post(f"/partners/{carrier.slug}/keys/", {"name": "", "scopes": ["root"]})
    assert response.status_code == 200
    assert response.context["key_form"].errors
    assert not ApiKey.objects.exists()
    response = client.post(f"/partners/{carrier.slug}/webhooks/", {"url": "ftp://x"})
    assert response.context["webhook_form"].errors


def test_one_partner_cannot_revoke_anothers_key(member_client, carrier, other_partner, key_for):
    _client, other_key = key_for(other_partner)
    client = member_client()
    assert client.post(f"/partners/{carrier.slug}/keys/{other_key.pk}/revoke/").status_code == 404
    other_key.refresh_from_db()
    assert other_key.revoked_at is None


def test_an_operator_creates_a_key_in_the_admin_and_revokes_it(admin_client, carrier):
    response = admin_client.post(
        "/admin/carriers/apikey/add/", {"partner": carrier.pk, "name": "ops", "scopes": ["read"]}, follow=True
    )
    assert response.status_code == 200
    shown = [str(m) for m in response.context["messages"]]
    plain = next(word for text in shown for word in text.split() if word.startswith("olk_"))
    key = ApiKey.objects.get()
    assert api_key_authenticate(plain) == key
    admin_client.post("/admin/carriers/apikey/", {"action": "revoke", "_selected_action": [key.pk]})
    assert api_key_authenticate(plain) is None


def test_an_operator_replays_a_delivery_from_the_admin(admin_client, carrier, announce):
    from carriers.models import WebhookDelivery
    from carriers.webhooks import webhook_deliveries_fan_out, webhook_endpoint_create

    webhook_endpoint_create(partner=carrier, url="https://a.example/h", event_types=[])
    announce()
    webhook_deliveries_fan_out()
    WebhookDelivery.objects.update(status=WebhookDelivery.Status.FAILED, attempts=8, next_attempt_at=None)
    delivery = WebhookDelivery.objects.get()
    admin_client.post("/admin/carriers/webhookdelivery/", {"action": "replay", "_selected_action": [delivery.pk]})
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (WebhookDelivery.Status.PENDING, 0)
    assert admin_client.get(f"/admin/carriers/webhookdelivery/{delivery.pk}/change/").status_code == 200
