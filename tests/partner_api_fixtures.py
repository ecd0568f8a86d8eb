"""Fixtures of the partner API tests: keys, authenticated clients, a second partner.

Test modules take them with `from tests.partner_api_fixtures import *`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

__all__ = ["api", "fresh_throttles", "key_for", "other_api", "other_partner", "parcel_body"]


@pytest.fixture(autouse=True)
def fresh_throttles() -> None:
    """Throttle counters live in the cache: start every test with none."""
    cache.clear()


@pytest.fixture
def key_for(db) -> Callable[..., tuple[APIClient, Any]]:
    from carriers.keys import api_key_create

    def make(partner, scopes=("read", "write", "webhooks")) -> tuple[APIClient, Any]:
        issued = api_key_create(partner=partner, name="test", scopes=list(scopes))
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {issued.plain}")
        return client, issued.api_key

    return make


@pytest.fixture
def api(key_for, carrier) -> APIClient:
    return key_for(carrier)[0]


@pytest.fixture
def other_partner(db):
    from carriers.models import Partner

    return Partner.objects.create(name="Lakes Express", slug="lakes", kind=Partner.Kind.CARRIER)


@pytest.fixture
def other_api(key_for, other_partner) -> APIClient:
    return key_for(other_partner)[0]


@pytest.fixture
def parcel_body(site, sizes) -> Callable[..., dict[str, Any]]:
    def make(**overrides: Any) -> dict[str, Any]:
        body = {
            "tracking_number": "NS-API-1",
            "external_reference": "order-1",
            "site_id": site.pk,
            "recipient": {"name": "Ada Recipient", "phone": "+16125550100", "email": "ada@example.com"},
            "item": {"size_class": "s"},
        }
        body.update(overrides)
        return body

    return make
