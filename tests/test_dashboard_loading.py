"""The loading workflow on a store tablet: hold a door, open it, confirm it closed, or
move to another door when it is too small or broken."""

from __future__ import annotations

import pytest

from lockers.device.commands import RATE_LIMITS
from lockers.models import Compartment, LockerCommand
from notifications.models import Notification
from parcels.models import Parcel, ParcelEvent, ParcelStatus
from tests.dashboard_fixtures import *  # noqa: F403

pytestmark = pytest.mark.django_db


def fresh(order: Parcel) -> Parcel:
    return Parcel.objects.select_related("compartment__size_class").get(pk=order.pk)


def messages_of(answer) -> list[str]:
    return [str(message) for message in answer.context["messages"]] if answer.context else []


def test_the_normal_path_holds_a_door_opens_it_and_on_close_the_customer_is_told(
    client_of, associate, store_a, make_order, store_url
):
    order = make_order(store_a, size="s")
    client = client_of(associate)

    held = client.post(store_url("order-load", store_a, order_id=order.pk))
    assert held.status_code == 302 and held.url == store_url("order-load", store_a, order_id=order.pk)
    door = fresh(order).compartment
    assert fresh(order).status == ParcelStatus.RESERVED and door.size_class.code == "s"

    page = client.get(held.url)
    assert page.status_code == 200
    text = page.content.decode()
    assert f">{door.label}<" in text and f"Open door {door.label}" in text

    client.post(store_url("door-open", store_a, order_id=order.pk))
    command = LockerCommand.objects.get()
    assert (command.kind, command.compartment, command.requested_by) == ("open_door_to_load", door, associate)
    assert order.tracking_number in command.reason

    closed = client.post(store_url("door-closed", store_a, order_id=order.pk), follow=True)
    loaded = fresh(order)
    assert loaded.status == ParcelStatus.READY_FOR_PICKUP and loaded.compartment == door
    assert loaded.deposited_at is not None and loaded.pickup_code_id is not None
    assert set(Notification.objects.filter(parcel=order, kind="parcel_ready").values_list("channel", flat=True)) == {
        "sms", "email"
    }
    assert any("the customer is told" in message for message in messages_of(closed))
    deposit = ParcelEvent.objects.get(parcel=order, type="deposit")
    assert deposit.actor == "partner" and deposit.user_id == associate.pk


def test_door_too_small_moves_the_order_to_a_larger_door_in_one_tap(
    client_of, associate, store_a, make_order, store_url
):
    order = make_order(store_a, size="s")
    client = client_of(associate)
    client.post(store_url("order-load", store_a, order_id=order.pk))
    small = fresh(order).compartment

    answer = client.post(store_url("door-problem", store_a, order_id=order.pk), {"problem": "too_small"})

    moved = fresh(order)
    assert answer.url == store_url("order-load", store_a, order_id=order.pk)
    assert moved.status == ParcelStatus.RESERVED
    assert moved.compartment.size_class.code == "m"
    small.refresh_from_db()
    assert small.condition == Compartment.Condition.OK  # the door is fine, just small
    client.post(store_url("door-closed", store_a, order_id=order.pk))
    assert fresh(order).status == ParcelStatus.READY_FOR_PICKUP and fresh(order).compartment == moved.compartment


def test_door_broken_takes_the_door_out_of_service_and_gives_another_of_the_size(
    client_of, associate, store_a, make_order, store_url
):
    order = make_order(store_a, size="s")
    client = client_of(associate)
    client.post(store_url("order-load", store_a, order_id=order.pk))
    broken = fresh(order).compartment

    client.post(store_url("door-problem", store_a, order_id=order.pk), {"problem": "broken"})

    moved = fresh(order).compartment
    broken.refresh_from_db()
    assert broken.condition == Compartment.Condition.BROKEN
    assert moved != broken and moved.size_class.code == "s"


def test_when_no_other_door_fits_the_order_goes_back_to_the_queue_with_a_message(
    client_of, associate_b, store_b, make_order, store_url
):
    order, large = make_order(store_b, size="m"), make_order(store_b, size="l")  # store B: one door of each size
    client = client_of(associate_b)
    client.post(store_url("order-load", store_b, order_id=large.pk))
    client.post(store_url("order-load", store_b, order_id=order.pk))

    answer = client.post(store_url("door-problem", store_b, order_id=order.pk), {"problem": "too_small"}, follow=True)

    assert fresh(order).status == ParcelStatus.ANNOUNCED and fresh(order).compartment is None
    assert fresh(order).status_reason == "parcel_too_big"
    assert any("keep it aside" in message for message in messages_of(answer))
    assert answer.redirect_chain[-1][0] == store_url("home", store_b)


def test_too_small_for_the_largest_door_is_answered_with_the_reason_not_an_error(
    client_of, associate_b, store_b, make_order, store_url
):
    order = make_order(store_b, size="l")
    client = client_of(associate_b)
    client.post(store_url("order-load", store_b, order_id=order.pk))

    answer = client.post(store_url("door-problem", store_b, order_id=order.pk), {"problem": "too_small"}, follow=True)

    assert answer.status_code == 200
    assert any("fits no compartment size" in message for message in messages_of(answer))


def test_a_full_store_refuses_to_hold_a_door_and_says_why(client_of, associate_b, store_b, make_order, store_url):
    first, second = make_order(store_b, size="l"), make_order(store_b, size="l")
    client = client_of(associate_b)
    client.post(store_url("order-load", store_b, order_id=first.pk))

    answer = client.post(store_url("order-load", store_b, order_id=second.pk), follow=True)

    assert fresh(second).status == ParcelStatus.ANNOUNCED
    assert answer.status_code == 200 and messages_of(answer)


def test_opening_doors_too_often_is_refused_with_a_message_not_an_error(
    client_of, associate, store_a, make_order, store_url
):
    order = make_order(store_a)
    client = client_of(associate)
    client.post(store_url("order-load", store_a, order_id=order.pk))
    per_person = RATE_LIMITS[LockerCommand.Kind.OPEN_DOOR_FOR_LOADING][1]
    for _ in range(per_person):
        client.post(store_url("door-open", store_a, order_id=order.pk))

    answer = client.post(store_url("door-open", store_a, order_id=order.pk), follow=True)

    assert answer.status_code == 200
    assert LockerCommand.objects.count() == per_person
    assert any("per hour" in message for message in messages_of(answer))


def test_confirming_a_door_for_an_order_that_holds_none_changes_nothing(
    client_of, associate, store_a, make_order, store_url
):
    order = make_order(store_a)

    answer = client_of(associate).post(store_url("door-closed", store_a, order_id=order.pk), follow=True)

    assert fresh(order).status == ParcelStatus.ANNOUNCED
    assert any("not awaiting deposit" in message for message in messages_of(answer))


def test_the_load_page_of_an_order_without_a_held_door_leads_to_the_order(
    client_of, associate, store_a, make_order, store_url
):
    order = make_order(store_a)

    answer = client_of(associate).get(store_url("order-load", store_a, order_id=order.pk))

    assert answer.url == store_url("order-detail", store_a, order_id=order.pk)


def test_a_loading_open_is_refused_for_a_door_that_holds_a_parcel(announce, locker):
    from lockers.device.commands import locker_command_queue
    from lockers.device.errors import CommandRefused
    from tests.parcel_states import ready

    door = ready(announce).compartment
    with pytest.raises(CommandRefused):
        locker_command_queue(locker=locker, kind=LockerCommand.Kind.OPEN_DOOR_FOR_LOADING, compartment=door,
                             reason="load", requested_by=None)
    assert not LockerCommand.objects.exists()
