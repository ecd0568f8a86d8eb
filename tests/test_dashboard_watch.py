"""Watch and act: what is in the locker, picked up today, overdue and expired; search,
timeline, resend the customer's message, extend, unload."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from notifications.models import Notification
from parcels import services
from parcels.lifecycle import Who
from parcels.models import Actor, Parcel, ParcelStatus
from tests.dashboard_fixtures import *  # noqa: F403

pytestmark = pytest.mark.django_db
STAFF = Who(Actor.PARTNER, "test")


def loaded(order: Parcel, locker) -> Parcel:
    door = services.deposit_door_assign(parcel_id=order.pk, locker=locker, who=STAFF)
    assert door
    return services.parcel_deposit(parcel_id=order.pk, who=STAFF)


def picked_up(order: Parcel, locker) -> Parcel:
    order = loaded(order, locker)
    pin, _ = services.code_secrets(order.pickup_code)
    services.pickup_code_verify(locker=locker, pin=pin)
    return services.parcel_pick_up(parcel_id=order.pk, who=Who(Actor.DEVICE))


def expired(order: Parcel, locker) -> Parcel:
    order = loaded(order, locker)
    services.parcels_expire_due(now=order.pickup_deadline + timedelta(seconds=1))
    return Parcel.objects.get(pk=order.pk)


def section(page: str, heading_id: str) -> str:
    start = page.index(f'id="{heading_id}"')
    end = page.find("</section>", start)
    return page[start:end]


def test_the_overview_sorts_orders_into_queue_locker_picked_up_and_to_unload(
    client_of, associate, store_a, locker, make_order, store_url
):
    now = timezone.now()
    later = make_order(store_a, number="NW-LATER", promised_at=now + timedelta(hours=5))
    make_order(store_a, number="NW-SOON", promised_at=now - timedelta(hours=1))
    make_order(store_a, number="NW-NOPROMISE")
    expired(make_order(store_a, number="NW-STALE"), locker)  # first: the sweep expires every due order
    picked_up(make_order(store_a, number="NW-GONE"), locker)
    loaded(make_order(store_a, number="NW-WAITING"), locker)
    assert later

    page = client_of(associate).get(store_url("home", store_a)).content.decode()

    queue = section(page, "to-load")
    assert queue.index("NW-SOON") < queue.index("NW-LATER") < queue.index("NW-NOPROMISE")
    assert "(late)" in queue
    waiting = section(page, "in-locker")
    assert "NW-WAITING" in waiting and "left)" in waiting
    assert "NW-GONE" in section(page, "picked")
    assert "NW-STALE" in section(page, "overdue")
    counts = client_of(associate).get(store_url("home", store_a)).context["counts"]
    assert (counts.to_load, counts.late_to_load, counts.in_locker, counts.picked_up_today,
            counts.overdue_or_expired) == (3, 1, 1, 1, 1)


def test_an_order_past_its_deadline_shows_as_overdue_before_the_sweep_expires_it(
    client_of, associate, store_a, locker, make_order, store_url
):
    order = loaded(make_order(store_a, number="NW-LATE"), locker)

    with time_machine.travel(order.pickup_deadline + timedelta(minutes=1)):
        page = client_of(associate).get(store_url("home", store_a)).content.decode()

    assert "NW-LATE" in section(page, "overdue") and "NW-LATE" not in section(page, "in-locker")


def test_search_finds_orders_by_number_or_customer_and_only_this_stores(
    client_of, associate, store_a, store_b, make_order, store_url
):
    make_order(store_a, number="NW-4711")
    make_order(store_b, number="NW-4712")
    client = client_of(associate)

    by_number = client.get(store_url("search", store_a), {"q": "4711"}).content.decode()
    by_name = client.get(store_url("search", store_a), {"q": "cora cust"}).content.decode()

    assert "NW-4711" in by_number and "NW-4712" not in by_number
    assert "NW-4711" in by_name and "NW-4712" not in by_name


def test_the_order_page_shows_the_timeline_with_who_did_what(
    client_of, associate, store_a, locker, make_order, store_url
):
    order = loaded(make_order(store_a, number="NW-T"), locker)

    page = client_of(associate).get(store_url("order-detail", store_a, order_id=order.pk)).content.decode()

    for event in ("Order received", "Door held for loading", "Loaded; customer told"):
        assert event in page
    assert "Northwind Market store staff" in page


def test_resend_queues_the_latest_pickup_message_again_on_each_channel(
    client_of, associate, store_a, locker, make_order, store_url
):
    order = loaded(make_order(store_a), locker)
    Notification.objects.filter(parcel=order).update(status=Notification.Status.SENT, next_attempt_at=None)

    client_of(associate).post(store_url("order-notify", store_a, order_id=order.pk))

    again = Notification.objects.filter(parcel=order, kind="parcel_ready")
    assert again.count() == 2 and all(n.status == Notification.Status.PENDING for n in again)


def test_resend_for_an_order_not_in_the_locker_is_refused(client_of, associate, store_a, make_order, store_url):
    order = make_order(store_a)

    answer = client_of(associate).post(store_url("order-notify", store_a, order_id=order.pk), follow=True)

    assert "not waiting for its customer" in answer.content.decode()


def test_extend_pushes_the_deadline_back_and_may_be_repeated_by_staff(
    client_of, associate, store_a, locker, make_order, store_url, settings
):
    order = loaded(make_order(store_a), locker)
    client = client_of(associate)

    client.post(store_url("order-extend", store_a, order_id=order.pk))
    client.post(store_url("order-extend", store_a, order_id=order.pk))

    after = Parcel.objects.get(pk=order.pk)
    assert after.pickup_deadline == order.pickup_deadline + 2 * settings.PICKUP_EXTENSION
    assert after.extensions_used == 2


def test_unload_takes_an_expired_order_out_and_frees_its_door(
    client_of, associate, store_a, locker, make_order, store_url
):
    order = expired(make_order(store_a, number="NW-X"), locker)
    door = order.compartment

    answer = client_of(associate).post(store_url("order-unload", store_a, order_id=order.pk), follow=True)

    after = Parcel.objects.get(pk=order.pk)
    assert after.status == ParcelStatus.RETURNED_TO_SENDER and after.compartment is None
    assert f"taken out of door {door.label}" in answer.content.decode()
    event = after.events.get(type="collect")
    assert event.actor == "partner" and event.user_id == associate.pk


def test_unload_of_an_order_still_waiting_for_its_customer_is_refused(
    client_of, associate, store_a, locker, make_order, store_url
):
    order = loaded(make_order(store_a), locker)

    client_of(associate).post(store_url("order-unload", store_a, order_id=order.pk))

    assert Parcel.objects.get(pk=order.pk).status == ParcelStatus.READY_FOR_PICKUP
