"""Every dashboard page reads a fixed number of queries, whatever the store's history:
the same count with 10 orders as with 1,000."""

from __future__ import annotations

import secrets
from datetime import timedelta
from itertools import cycle

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from parcels.models import Actor, Parcel, ParcelEvent, ParcelStatus
from tests.dashboard_fixtures import *  # noqa: F403

pytestmark = pytest.mark.django_db
PAGES = ("home", "search", "order-detail", "order-load", "import", "order-new", "kpis", "kpis-csv")
HISTORY = cycle([ParcelStatus.PICKED_UP, ParcelStatus.ANNOUNCED, ParcelStatus.RETURNED_TO_SENDER,
                 ParcelStatus.PICKED_UP, ParcelStatus.CANCELLED])


def bulk_orders(retailer, store, size, door, count: int, start: int) -> None:
    """`count` orders written straight to the table (with their deposit events), spread over two weeks."""
    now = timezone.now()
    orders = []
    for number in range(start, start + count):
        status = next(HISTORY)
        loaded_at = now - timedelta(days=number % 14, hours=number % 7 + 1)
        delivered = status in (ParcelStatus.PICKED_UP, ParcelStatus.RETURNED_TO_SENDER)
        orders.append(Parcel(
            partner=retailer, kind=Parcel.Kind.CLICK_AND_COLLECT, tracking_number=f"BULK-{number:05d}",
            status=status, recipient_name=f"Customer {number}", recipient_phone="+16125550199",
            recipient_email=f"c{number}@example.com", size_class=size, site=store,
            promised_at=now + timedelta(hours=number % 48 - 24),
            page_seed=secrets.token_hex(16), page_token_hash=secrets.token_hex(32),
            deposited_at=loaded_at if delivered else None,
            pickup_deadline=loaded_at + timedelta(hours=72) if delivered else None,
            picked_up_at=loaded_at + timedelta(hours=number % 30) if status == ParcelStatus.PICKED_UP else None,
        ))
    created = Parcel.objects.bulk_create(orders)
    ParcelEvent.objects.bulk_create([
        ParcelEvent(parcel=order, type="deposit", from_status=ParcelStatus.RESERVED,
                    to_status=ParcelStatus.READY_FOR_PICKUP, occurred_at=order.deposited_at, site=store,
                    locker_id=door.locker_id, compartment=door, actor=Actor.PARTNER)
        for order in created if order.deposited_at
    ])


def page_queries(client, store_url, store, order_id: int, held_id: int) -> dict[str, int]:
    counts = {}
    for name in PAGES:
        kwargs = {"order_id": held_id if name == "order-load" else order_id} if name.startswith("order-") else {}
        if name == "order-new":
            kwargs = {}
        query = {"q": "Customer"} if name == "search" else {}
        with CaptureQueriesContext(connection) as queries:
            answer = client.get(store_url(name, store, **kwargs), query)
        assert answer.status_code == 200, name
        counts[name] = len(queries)
    return counts


def test_pages_read_as_many_queries_with_1000_orders_as_with_10(
    client_of, associate, retailer, store_a, locker, sizes, make_order, store_url
):
    client = client_of(associate)
    door = locker.compartments.first()
    held = make_order(store_a, number="HELD-1")
    client.post(store_url("order-load", store_a, order_id=held.pk))
    bulk_orders(retailer, store_a, sizes["s"], door, 9, start=0)
    detail = Parcel.objects.get(tracking_number="BULK-00000")

    small = page_queries(client, store_url, store_a, detail.pk, held.pk)
    bulk_orders(retailer, store_a, sizes["s"], door, 990, start=9)
    assert Parcel.objects.filter(site=store_a).count() == 1000
    large = page_queries(client, store_url, store_a, detail.pk, held.pk)

    assert small == large
    assert max(large.values()) <= 15, large
