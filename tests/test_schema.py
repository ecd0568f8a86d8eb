"""The generated OpenAPI schema, checked against the running API with schemathesis.

Every operation is called in process (through the WSGI app, inside the test's
database transaction) with generated data: no answer may be a 5xx, and every answer
must conform to the schema (status code, content type, headers and body).
"""

from __future__ import annotations

import json
import re

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, Phase, settings
from rest_framework.test import APIClient
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from carriers.keys import api_key_create
from tests.partner_api_fixtures import *  # noqa: F403

schema = schemathesis.openapi.from_wsgi("/api/schema/", get_wsgi_application()).include(path_regex="^/api/v1/")
# Valid and invalid data alike: a client's mistake must be a 4xx problem, never a 500.
schema.config.generation.update(modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE], deterministic=True)
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


@pytest.fixture
def in_test_transaction():
    """Keep the test's database connection across WSGI calls, as Django's test client does.

    A request's end closes "old" connections; inside the test's transaction that would
    close the connection that holds it (on PostgreSQL).
    """
    signals = (request_started, request_finished)
    for signal in signals:
        signal.disconnect(close_old_connections)
    yield
    for signal in signals:
        signal.connect(close_old_connections)


@pytest.fixture
def network(carrier, locker, announce, in_test_transaction):
    """A site with doors, parcels in two states, and a key with every scope."""
    announce(external_reference="order-1")
    announce(reserve=True)
    return api_key_create(partner=carrier, name="schemathesis", scopes=["read", "write", "webhooks"]).plain


@pytest.mark.django_db
@schema.parametrize()
@settings(
    max_examples=15, deadline=None, derandomize=True, database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_every_operation_answers_within_its_schema(case, network):
    case.call_and_validate(headers={"Authorization": f"Bearer {network}"}, checks=CHECKS)


def test_the_schema_and_docs_are_served(db):
    client = APIClient()
    schema_response = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert schema_response.status_code == 200
    document = schema_response.json()
    operation_ids = {op["operationId"] for path in document["paths"].values() for op in path.values()}
    assert {"parcels_announce", "parcels_cancel", "sites_search", "webhooks_create", "statuses_list"} <= operation_ids
    announce = document["paths"]["/api/v1/parcels/"]["post"]
    assert "examples" in announce["requestBody"]["content"]["application/json"]
    assert any(p["name"] == "Idempotency-Key" for p in announce["parameters"])
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            if path.startswith("/api/v1/") and method != "delete":
                assert "examples" in json.dumps(operation), f"{method} {path} has no example"
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    assert b"swagger-ui" in docs.content
    # Every script, style sheet and icon from our own static files, none from a CDN. (The
    # page's random CSRF token once held the letters "cdn", so the text alone is no test.)
    assets = re.findall(rb'(?:src|href)="([^"]*)"', docs.content)
    assert assets and all(url.startswith(b"/static/") for url in assets), assets
