"""The hot paths answer with a fixed, small number of queries, whatever the size of the data.

Counted in the test database, where every atomic block inside the test's transaction
is a savepoint (two more queries each); the benchmark reports the production counts
(`manage.py bench`, X-Bench-Queries). A change in a count here is a change in the cost
of the busiest requests of the network: look at docs/performance.md before updating one.
"""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from carriers.services import courier_credential_create
from lockers.models import Site
from parcels.services import Recipient, code_secrets
from tests.device_support import deposited
from tests.partner_api_fixtures import *  # noqa: F403

pytest_plugins = ["tests.device_support"]
pytestmark = pytest.mark.django_db

# PostgreSQL, a right code at a clean keypad: one statement, its own transaction, looks the
# code up with its parcels and doors, tests the keypad guard, uses the code and writes the
# custody events. SQLite: one transaction (a savepoint here) of the guard, the code's look-up,
# the code used up, the custody event. Plus the credential and the nonce.
CODE_VALIDATION_QUERIES = {"postgresql": 5, "sqlite": 10}[connection.vendor]
# PostgreSQL: one statement (a savepoint around it here) writes the last-seen time, the report and
# the changed doors, marks queued commands sent, and answers the last event stored, the waiting
# commands and the bundle digest. SQLite: one transaction (a savepoint here) of last seen with the
# report and the last event, changed doors and commands, then the bundle digest.
# Plus the credential and the nonce.
HEARTBEAT_QUERIES = {"postgresql": 7, "sqlite": 10}
# What authenticating costs: the database store reads the credential and inserts the nonce
# (in a savepoint here, as the test holds a transaction: three queries); with Redis
# (production) the credential and the nonce cost no query.
STORE_QUERIES = {"database store": 4, "redis store": 0}
# An announcement with a reservation and an idempotency key: 22 statements in production,
# and the savepoints of the test's own transaction and the new key's first-use mark, less
# the question whether the partner has a webhook endpoint, asked once the announcement has
# committed, which the test's transaction never does.
ANNOUNCE_WITH_RESERVATION_QUERIES = 26
# A courier's deposit of an announced parcel: 13 statements in production (the session's badge,
# the parcel with its site, partner and size, the sizes, the free door, the transition's
# read and write, its custody and partner events, two savepoints set and released, and
# whether the partner has a webhook endpoint, asked after the commit, which the test's
# transaction never does); here the deposit's own transaction is a savepoint too (two more).
# Plus the credential and the nonce.
COURIER_DEPOSIT_QUERIES = 18
# Sites near the point, their count, and their doors and free doors in one grouped query.
SITE_SEARCH_QUERIES = 4

HEARTBEAT = {
    "firmware_version": "3.4.2",
    "doors": [{"door": "A1", "state": "closed"}, {"door": "A2", "state": "open"}],
    "sensors": [{"zone": "ambient", "temperature_c": 21.5}],
    "last_event_sequence": 0,
    "bundle_version": "",
}


def _ready_parcels(announce, device, count: int) -> list:
    """`count` parcels waiting in the device's locker, each for another recipient (so each has its own code)."""
    return [
        deposited(announce, device, tracking_number=f"HOT{n:05d}",
                  recipient=Recipient(name=f"Recipient {n}", email=f"r{n}@example.com"))
        for n in range(count)
    ]


@pytest.fixture(params=list(STORE_QUERIES))
def store_queries(request) -> int:
    """The queries a signed request's authentication costs with each device store."""
    if request.param == "redis store":
        request.getfixturevalue("redis_settings")
    return STORE_QUERIES[request.param]


@pytest.mark.parametrize("waiting", [1, 6])
def test_a_pickup_code_is_checked_in_a_fixed_number_of_queries(device, announce, django_assert_num_queries, waiting,
                                                               store_queries):
    parcel, *_, first = _ready_parcels(announce, device, waiting + 1)
    pin, _ = code_secrets(parcel.pickup_code)
    device.post("codes/pickup", {"pin": code_secrets(first.pickup_code)[0]})  # creates the keypad guard

    with django_assert_num_queries(CODE_VALIDATION_QUERIES - STORE_QUERIES["database store"] + store_queries):
        answer = device.post("codes/pickup", {"pin": pin})

    assert answer.status_code == 200, answer.content


@pytest.mark.parametrize("waiting", [1, 6])
def test_a_heartbeat_is_answered_in_a_fixed_number_of_queries(device, announce, django_assert_num_queries, waiting,
                                                              store_queries):
    _ready_parcels(announce, device, waiting)
    device.post("heartbeat", HEARTBEAT)  # the first one also creates what later ones update

    expected = HEARTBEAT_QUERIES[connection.vendor] - STORE_QUERIES["database store"] + store_queries
    with django_assert_num_queries(expected):
        answer = device.post("heartbeat", HEARTBEAT)

    assert answer.status_code == 200, answer.content


def test_a_courier_deposit_takes_a_fixed_number_of_queries(device, announce, carrier, django_assert_num_queries,
                                                           store_queries):
    courier_credential_create(partner=carrier, courier_name="Cory Courier", badge_number="B-1001", pin="4711")
    session = device.post("courier/sign-in", {"badge_number": "B-1001", "pin": "4711"}).json()["session"]
    parcel = announce()

    with django_assert_num_queries(COURIER_DEPOSIT_QUERIES - STORE_QUERIES["database store"] + store_queries):
        answer = device.post("courier/deposit", {"session": session, "tracking_number": parcel.tracking_number})

    assert answer.status_code == 200, answer.content
    assert answer.json()["parcel_id"] == parcel.pk


@pytest.mark.postgres
def test_on_postgresql_a_heartbeats_own_work_is_one_statement(device, announce):
    _ready_parcels(announce, device, 2)

    with CaptureQueriesContext(connection) as captured:
        answer = device.post("heartbeat", HEARTBEAT)

    assert answer.status_code == 200, answer.content
    own = [query["sql"] for query in captured.captured_queries
           if any(table in query["sql"] for table in ("lockers_compartment", "lockers_lockercommand", "parcels_"))]
    assert len(own) == 1 and own[0].startswith("WITH seen AS (UPDATE"), own


def test_an_announce_with_a_reservation_takes_a_fixed_number_of_queries(api, parcel_body, locker,
                                                                           django_assert_num_queries):
    with django_assert_num_queries(ANNOUNCE_WITH_RESERVATION_QUERIES):
        answer = api.post("/api/v1/parcels/", parcel_body(reserve=True), format="json",
                          headers={"Idempotency-Key": "hot-path-1"})

    assert answer.status_code == 201, answer.content
    assert answer.json()["status"] == "reserved"


@pytest.mark.parametrize("sites", [1, 8])
def test_a_site_search_near_a_point_takes_a_fixed_number_of_queries(api, site, make_locker,
                                                                     django_assert_num_queries, sites):
    for number in range(sites):
        nearby = Site.objects.create(code=f"near-{number}", name=f"Near {number}", address_line="1 Main St",
                                     city="Minneapolis", postal_code="55403", latitude=f"44.97{number}",
                                     longitude="-93.2831")
        make_locker(at=nearby)

    with django_assert_num_queries(SITE_SEARCH_QUERIES):
        answer = api.get("/api/v1/sites/?lat=44.9694&lon=-93.2831&radius_km=5")

    assert answer.status_code == 200, answer.content
    assert len(answer.json()["results"]) == sites + 1
