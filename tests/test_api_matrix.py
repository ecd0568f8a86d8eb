"""Every partner API operation against the same rules: a key is needed, a revoked key is
401, each key is throttled with Retry-After, and every write replays under its
Idempotency-Key instead of running twice.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import override_settings
from rest_framework.test import APIClient

from carriers.keys import api_key_revoke
from carriers.webhooks import webhook_endpoint_create
from lockers.models import Site
from parcels.lifecycle import Who
from parcels.models import Actor
from parcels.services import ParcelSpec, Recipient, return_announce
from tests.partner_api_fixtures import *  # noqa: F403

pytestmark = pytest.mark.django_db

READS = [
    "/api/v1/sites/",
    "/api/v1/sites/{site}/",
    "/api/v1/parcels/",
    "/api/v1/parcels/{parcel}/",
    "/api/v1/parcels/by-reference/order-1/",
    "/api/v1/parcels/{parcel}/timeline/",
    "/api/v1/returns/{return}/dropoff-code/",
    "/api/v1/webhooks/",
    "/api/v1/webhooks/{webhook}/",
    "/api/v1/webhooks/{webhook}/deliveries/",
]
WRITES = [
    ("post", "/api/v1/parcels/", {"tracking_number": "NEW-1", "site_id": "{site}",
                                  "recipient": {"name": "Bo", "email": "bo@example.com"}, "item": {"size_class": "s"}}),
    ("post", "/api/v1/parcels/{parcel}/cancel/", None),
    ("post", "/api/v1/parcels/{parcel}/reserve/", None),
    ("post", "/api/v1/parcels/{parcel}/redirect/", {"site_id": "{other_site}"}),
    ("post", "/api/v1/parcels/{ready}/extend/", {"hours": 24}),
    ("post", "/api/v1/returns/", {"tracking_number": "RET-9", "site_id": "{site}",
                                  "recipient": {"name": "Bo", "email": "bo@example.com"}, "item": {"size_class": "s"}}),
    ("post", "/api/v1/webhooks/", {"url": "https://hooks.example.com/new"}),
    ("delete", "/api/v1/webhooks/{webhook}/", None),
]
OPERATIONS = [("get", url, None) for url in READS] + WRITES


@pytest.fixture
def ids(carrier, site, locker, make_locker, announce) -> dict[str, int]:
    from parcels.services import parcel_deposit

    other_site = Site.objects.create(code="other", name="Other", address_line="3 Oak St", city="Minneapolis",
                                     postal_code="55404", latitude="44.960000", longitude="-93.280000")
    make_locker("s m", at=other_site)
    ready = parcel_deposit(parcel_id=announce(reserve=True).pk, who=Who(Actor.COURIER))
    returned, _ = return_announce(partner=carrier, tracking_number="RET-1", site=site,
                                  recipient=Recipient(name="Ada", email="ada@example.com"),
                                  spec=ParcelSpec(size_class=ready.size_class), who=Who(Actor.PARTNER))
    webhook = webhook_endpoint_create(partner=carrier, url="https://hooks.example.com/", event_types=[])
    return {
        "site": site.pk, "other_site": other_site.pk, "parcel": announce(external_reference="order-1").pk,
        "ready": ready.pk, "return": returned.pk,
        "webhook": webhook.endpoint.pk,
    }


def _fill(value: Any, ids: dict[str, int]) -> Any:
    if isinstance(value, dict):
        return {key: _fill(item, ids) for key, item in value.items()}
    if isinstance(value, str) and value.startswith("{") and value.endswith("}"):
        return ids[value[1:-1]]
    return value


def _call(client: APIClient, operation: tuple[str, str, Any], ids: dict[str, int], **headers: str):
    method, url, body = operation
    return getattr(client, method)(url.format(**ids), _fill(body, ids), format="json", **headers)


def _label(operation: tuple[str, str, Any]) -> str:
    return f"{operation[0].upper()} {operation[1]}"


@pytest.mark.parametrize("operation", OPERATIONS, ids=_label)
def test_it_answers_for_the_keys_partner(operation, api, ids):
    response = _call(api, operation, ids)
    assert response.status_code in {200, 201, 204}, response.content


@pytest.mark.parametrize("operation", OPERATIONS, ids=_label)
def test_no_key_or_a_revoked_key_is_401(operation, key_for, carrier, ids):
    assert _call(APIClient(), operation, ids).status_code == 401
    client, api_key = key_for(carrier)
    api_key_revoke(api_key=api_key)
    response = _call(client, operation, ids)
    assert response.status_code == 401
    assert response["Content-Type"] == "application/problem+json"


@pytest.mark.parametrize("operation", OPERATIONS, ids=_label)
def test_another_partner_never_reaches_these_resources(operation, other_api, ids):
    response = _call(other_api, operation, ids)
    owned = any(mark in operation[1] for mark in ("{parcel}", "{ready}", "{return}", "{webhook}", "by-reference"))
    if owned:
        assert response.status_code == 404
    else:
        assert response.status_code in {200, 201}  # sites are shared; a collection holds only its own


@override_settings(PARTNER_API_RATE="1/min")
@pytest.mark.parametrize("operation", OPERATIONS, ids=_label)
def test_each_operation_is_throttled_per_key_with_retry_after(operation, api, ids):
    api.get("/api/v1/statuses/")  # keyless: not counted against the key
    api.get("/api/v1/sites/")
    response = _call(api, operation, ids)
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0


@pytest.mark.parametrize("operation", WRITES, ids=_label)
def test_each_write_replays_its_first_answer_under_one_key(operation, api, ids):
    first = _call(api, operation, ids, HTTP_IDEMPOTENCY_KEY="same")
    again = _call(api, operation, ids, HTTP_IDEMPOTENCY_KEY="same")
    assert first.status_code in {200, 201, 204}, first.content
    assert again.status_code == first.status_code
    assert again["Idempotent-Replayed"] == "true"
    assert again.content == first.content


def test_every_api_serializer_is_used_outside_its_module():
    """No dead serializer: each one is named by the views, the schema or another serializer."""
    import ast
    import inspect
    from pathlib import Path

    from carriers.api import serializers

    api_dir = Path(serializers.__file__).parent
    source = inspect.getsource(serializers)
    defined = [node.name for node in ast.parse(source).body if isinstance(node, ast.ClassDef)
               and issubclass(getattr(serializers, node.name), serializers.serializers.BaseSerializer)]
    others = "".join(path.read_text() for path in api_dir.glob("*.py") if path.name != "serializers.py")
    unused = [name for name in defined
              if not re.search(rf"\b{name}\b", others) and len(re.findall(rf"\b{name}\b", source)) == 1]
    assert unused == []
