"""Behaviour of the lifecycle services: allocation, codes, keypad limits, time rules,
returns, and the outbox rows each change leaves behind."""

from __future__ import annotations

import contextlib
from datetime import timedelta

import pytest
import time_machine
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from carriers.models import PartnerEvent
from lockers.models import Compartment, Locker, Site
from notifications.messages import message_render
from notifications.models import Notification
from parcels import codes, services
from parcels.allocation import DoorScope, _lock_first_free, fitting_free_compartments, fitting_size_classes
from parcels.errors import (
    CodeRefused,
    DuplicateTrackingNumber,
    ExtensionNotAllowed,
    KeypadLocked,
    NoFittingCompartment,
    ParcelTooBig,
    SiteUnavailable,
)
from parcels.models import KeypadGuard, Parcel, ParcelStatus, PickupCode
from parcels.selectors import parcel_by_page_token, parcel_timeline, status_catalogue
from parcels.services import ParcelSpec, Recipient
from tests import parcel_states as states
from tests.parcel_states import COURIER, DEVICE, RECIPIENT


def test_it_reserves_the_smallest_fitting_door(announce, locker, sizes):
    parcel = announce(spec=ParcelSpec(length_mm=300, width_mm=150, height_mm=150, weight_g=2000), reserve=True)
    assert parcel.compartment.size_class == sizes["m"]
    assert parcel.hold_expires_at is not None


@pytest.mark.parametrize("scope_by", ["site", "locker"])
def test_the_written_out_door_search_takes_the_door_the_orms_definition_of_free_puts_first(
    announce, site, make_locker, sizes, scope_by
):
    """`allocation._lock_first_free` spells out `fitting_free_compartments` in SQL: both, on doors of
    every kind (out of service, held, in a decommissioned locker or a site under maintenance,
    chilled, low, of each size), for parcels of every need, give the same door, and none once
    the doors run out; and the same next door when the first was lost to a racing transaction."""
    # Row 1 is too low to reach from a wheelchair: B1 is the one small door that is not accessible.
    first, second = make_locker("l m s s\ns l m"), make_locker("chilled: s m\nm l")
    retired = make_locker("s s s")
    Locker.objects.filter(pk=retired.pk).update(status=Locker.Status.DECOMMISSIONED)
    Compartment.objects.filter(pk=first.compartments.order_by("column", "row").first().pk).update(
        condition=Compartment.Condition.OUT_OF_SERVICE)
    needs = [ParcelSpec(size_class=sizes["s"], needs_accessible=True), ParcelSpec(size_class=sizes["s"]),
             ParcelSpec(size_class=sizes["s"], temperature_need="chilled"), ParcelSpec(size_class=sizes["l"])]
    scope, orm_scope = ((DoorScope(site_id=site.pk), Q(locker__site=site)) if scope_by == "site"
                        else (DoorScope(locker_id=second.pk), Q(locker=second)))

    def both(parcel: Parcel) -> tuple[Compartment | None, Compartment | None]:
        fitting = fitting_size_classes(parcel)
        with transaction.atomic():
            found = _lock_first_free(parcel, fitting, scope, lost=[])
        expected = fitting_free_compartments(parcel, fitting).filter(orm_scope).first()
        if found is not None:
            assert (found.locker, found.size_class) == (expected.locker, expected.size_class)
            # A door lost to a racing transaction is passed over for the next best.
            with transaction.atomic():
                after_lost = _lock_first_free(parcel, fitting, scope, lost=[found.pk])
            assert after_lost == fitting_free_compartments(parcel, fitting).filter(orm_scope).exclude(
                pk=found.pk).first()
        return found, expected

    parcel = announce(spec=needs[1])
    Site.objects.filter(pk=site.pk).update(status=Site.Status.MAINTENANCE)
    assert both(parcel) == (None, None)
    Site.objects.filter(pk=site.pk).update(status=Site.Status.ACTIVE)
    taken = 0
    for turn in range(30):
        parcel = announce(spec=needs[turn % len(needs)])
        found, expected = both(parcel)
        assert found == expected, (turn, found, expected)
        if found is not None:
            Parcel.objects.filter(pk=parcel.pk).update(status=ParcelStatus.RESERVED, compartment=found)
            taken += 1
    assert 0 < taken < 30  # doors were given, then ran out: "none" was compared as well


def test_it_keeps_low_doors_for_those_who_need_them(announce, locker):
    plain = announce(reserve=True)
    needs = announce(spec=ParcelSpec(size_class=plain.size_class, needs_accessible=True), reserve=True)
    assert not plain.compartment.accessible
    assert needs.compartment.accessible


def test_it_honours_a_chilled_need(announce, make_locker, sizes):
    make_locker("chilled: m m")
    parcel = announce(spec=ParcelSpec(size_class=sizes["s"], temperature_need="chilled"), reserve=True)
    assert parcel.compartment.temperature_zone == "chilled"
    assert parcel.compartment.size_class == sizes["m"]


def test_it_skips_doors_out_of_service(announce, locker):
    small = locker.compartments.filter(size_class__code="s")
    first = small.order_by("accessible", "column", "row").first()
    Compartment.objects.filter(pk=first.pk).update(condition=Compartment.Condition.OUT_OF_SERVICE)
    parcel = announce(reserve=True)
    assert parcel.compartment_id != first.pk


def test_a_full_site_names_nearby_sites_with_room_and_creates_nothing(announce, site, make_locker, sizes):
    make_locker("s")
    nearby = Site.objects.create(
        code="stevens-sq", name="Stevens Square", address_line="1 Stevens Sq", city="Minneapolis",
        postal_code="55403", latitude="44.962000", longitude="-93.274000",
    )
    make_locker("l", at=nearby, serial="SN-STEVENS")
    with pytest.raises(NoFittingCompartment) as refusal:
        announce(spec=ParcelSpec(size_class=sizes["l"]), reserve=True)
    assert [row["code"] for row in refusal.value.nearby] == ["stevens-sq"]
    assert 0 < refusal.value.nearby[0]["distance_km"] < 2
    assert not Parcel.objects.exists()


def test_it_refuses_a_parcel_no_door_can_take(announce, locker):
    with pytest.raises(ParcelTooBig):
        announce(spec=ParcelSpec(length_mm=2000, width_mm=500, height_mm=500))
    with pytest.raises(ParcelTooBig):
        announce(spec=ParcelSpec(weight_g=40000))


def test_it_refuses_an_inactive_site_and_a_duplicate_tracking_number(announce, site, locker):
    announce(tracking_number="DUP1")
    with pytest.raises(DuplicateTrackingNumber):
        announce(tracking_number="DUP1")
    Site.objects.filter(pk=site.pk).update(status=Site.Status.MAINTENANCE)
    with pytest.raises(SiteUnavailable):
        announce(site=Site.objects.get(pk=site.pk))


def test_click_and_collect_only_at_the_retailers_own_store(announce, site, locker, carrier):
    with pytest.raises(SiteUnavailable):
        announce(kind=Parcel.Kind.CLICK_AND_COLLECT)
    carrier.stores.add(site)
    assert announce(kind=Parcel.Kind.CLICK_AND_COLLECT).kind == Parcel.Kind.CLICK_AND_COLLECT


def test_an_expired_hold_releases_the_door(announce, locker):
    parcel = announce(reserve=True)
    assert services.holds_release_expired(now=parcel.hold_expires_at - timedelta(seconds=1)) == 0
    assert services.holds_release_expired(now=parcel.hold_expires_at + timedelta(seconds=1)) == 1
    parcel.refresh_from_db()
    assert (parcel.status, parcel.compartment_id, parcel.status_reason) == ("announced", None, "hold_expired")
    assert services.holds_release_expired(now=parcel.created_at + timedelta(days=9)) == 0


def test_a_door_too_small_moves_the_parcel_to_a_larger_one(announce, locker, sizes):
    parcel = announce(reserve=True)
    door = services.deposit_door_problem(parcel_id=parcel.pk, problem="too_small", who=COURIER)
    assert door.size_class == sizes["m"]
    assert Compartment.objects.get(pk=parcel.compartment_id).condition == "ok"


def test_too_small_at_the_largest_size_gives_the_parcel_back_to_the_courier(announce, locker, sizes):
    parcel = announce(spec=ParcelSpec(size_class=sizes["l"]), reserve=True)
    with pytest.raises(ParcelTooBig):
        services.deposit_door_problem(parcel_id=parcel.pk, problem="too_small", who=COURIER)
    parcel.refresh_from_db()
    assert (parcel.status, parcel.compartment_id, parcel.status_reason) == ("announced", None, "parcel_too_big")


def test_a_broken_door_leaves_service_and_another_is_offered(announce, locker):
    parcel = announce(reserve=True)
    door = services.deposit_door_problem(parcel_id=parcel.pk, problem="broken", who=COURIER)
    assert door.pk != parcel.compartment_id
    assert Compartment.objects.get(pk=parcel.compartment_id).condition == "broken"
    assert Parcel.objects.get(pk=parcel.pk).compartment_id == door.pk


def test_deposit_sets_the_deadline_from_the_site_then_partner_then_default(announce, site, carrier, locker):
    parcel = states.ready(announce)
    assert parcel.pickup_deadline - parcel.deposited_at == timedelta(hours=72)
    carrier.pickup_window_hours = 48
    carrier.save()
    assert states.ready(announce).pickup_deadline - timezone.now() < timedelta(hours=48, seconds=5)
    Site.objects.filter(pk=site.pk).update(pickup_window_hours=24)
    parcel = states.ready(announce, site=Site.objects.get(pk=site.pk))
    assert parcel.pickup_deadline - parcel.deposited_at == timedelta(hours=24)


def test_codes_are_never_stored_and_open_only_their_parcels(announce, locker):
    parcel = states.ready(announce)
    pin, qr = services.code_secrets(parcel.pickup_code)
    assert len(pin) == codes.PIN_DIGITS and pin.isdigit()
    assert len(qr) >= 22  # >= 128 bits in base64url
    row = PickupCode.objects.filter(pk=parcel.pickup_code_id).values().get()
    assert pin not in str(row) and qr not in str(row)
    assert [p.pk for p in services.pickup_code_verify(locker=locker, qr_token=qr)] == [parcel.pk]


def test_a_code_opens_once(announce, locker):
    parcel = states.ready(announce)
    pin, qr = services.code_secrets(parcel.pickup_code)
    services.pickup_code_verify(locker=locker, pin=pin)
    with pytest.raises(CodeRefused):
        services.pickup_code_verify(locker=locker, pin=pin)
    with pytest.raises(CodeRefused):
        services.pickup_code_verify(locker=locker, qr_token=qr)


def test_a_code_dies_on_expiry(announce, locker):
    parcel = states.expired(announce)
    pin, _ = services.code_secrets(parcel.pickup_code)
    assert PickupCode.objects.get(pk=parcel.pickup_code_id).state == "revoked"
    with pytest.raises(CodeRefused):
        services.pickup_code_verify(locker=locker, pin=pin)


def test_one_code_opens_all_of_a_recipients_parcels_in_a_locker_and_the_old_code_dies(announce, locker):
    first = states.ready(announce)
    old_pin, _ = services.code_secrets(first.pickup_code)
    second = states.ready(announce)
    first.refresh_from_db()
    assert first.pickup_code_id == second.pickup_code_id
    with pytest.raises(CodeRefused):
        services.pickup_code_verify(locker=locker, pin=old_pin)
    pin, _ = services.code_secrets(second.pickup_code)
    opened = services.pickup_code_verify(locker=locker, pin=pin)
    assert {p.pk for p in opened} == {first.pk, second.pk}
    ready_messages = Notification.objects.filter(kind="parcel_ready", dedupe_key=f"code-{second.pickup_code_id}")
    assert sorted(ready_messages.values_list("parcel_id", "channel")) == [(second.pk, "email"), (second.pk, "sms")]
    sms = message_render(ready_messages.get(channel="sms"))
    assert f"Your 2 parcels are ready at {second.site.name}. Code {pin}" in sms.text


def test_a_code_for_another_locker_of_the_site_opens_nothing_here(announce, locker, make_locker):
    parcel = states.ready(announce)
    pin, _ = services.code_secrets(parcel.pickup_code)
    with pytest.raises(CodeRefused):
        services.pickup_code_verify(locker=make_locker("s"), pin=pin)


def test_wrong_codes_back_off_then_lock_the_keypad_for_the_day(announce, locker):
    for _ in range(codes.KEYPAD_FREE_TRIES):
        with pytest.raises(CodeRefused):
            services.pickup_code_verify(locker=locker, pin="00000000")
    with pytest.raises(KeypadLocked):
        services.pickup_code_verify(locker=locker, pin="00000000")
    guard = KeypadGuard.objects.get(locker=locker)
    assert (guard.failures_today, guard.refused_today) == (codes.KEYPAD_FREE_TRIES, 1)

    with time_machine.travel(timezone.now() + timedelta(hours=2), tick=False):
        for _ in range(codes.KEYPAD_DAILY_WRONG_CAP):
            KeypadGuard.objects.filter(locker=locker).update(locked_until=None)
            with contextlib.suppress(CodeRefused, KeypadLocked):
                services.pickup_code_verify(locker=locker, pin="00000000")
        guard.refresh_from_db()
        assert guard.failures_today == codes.KEYPAD_DAILY_WRONG_CAP
        KeypadGuard.objects.filter(locker=locker).update(locked_until=None)
        with pytest.raises(KeypadLocked) as locked:
            services.pickup_code_verify(locker=locker, pin="00000000")
        assert locked.value.until.astimezone(locker.site.tz).hour == 0


def test_a_right_code_is_not_counted_and_clears_the_streak(announce, locker):
    parcel = states.ready(announce)
    with pytest.raises(CodeRefused):
        services.pickup_code_verify(locker=locker, pin="00000000")
    pin, _ = services.code_secrets(parcel.pickup_code)
    services.pickup_code_verify(locker=locker, pin=pin)
    guard = KeypadGuard.objects.get(locker=locker)
    assert (guard.failures_today, guard.consecutive_failures) == (1, 0)


def test_a_new_local_day_resets_the_keypad_but_a_guard_dated_ahead_keeps_its_counts(announce, locker):
    with pytest.raises(CodeRefused):
        services.pickup_code_verify(locker=locker, pin="00000000")
    guard = KeypadGuard.objects.get(locker=locker)
    today = guard.day

    KeypadGuard.objects.filter(pk=guard.pk).update(day=today - timedelta(days=1), failures_today=29,
                                                   consecutive_failures=4)
    with pytest.raises(CodeRefused):
        services.pickup_code_verify(locker=locker, pin="00000000")
    guard.refresh_from_db()
    assert (guard.day, guard.failures_today, guard.consecutive_failures) == (today, 1, 1)

    # Another host whose clock runs ahead already moved the guard to tomorrow: this one
    # must not move it back and clear the counts.
    KeypadGuard.objects.filter(pk=guard.pk).update(day=today + timedelta(days=1), failures_today=7)
    with pytest.raises(CodeRefused):
        services.pickup_code_verify(locker=locker, pin="00000000")
    guard.refresh_from_db()
    assert (guard.day, guard.failures_today) == (today + timedelta(days=1), 8)


def test_the_configured_limits_meet_the_security_target():
    chance = codes.modelled_daily_break_in_chance()
    assert chance <= codes.TARGET_DAILY_BREAK_IN_CHANCE
    assert codes.PIN_DIGITS <= 8  # typed in seconds


def test_a_recipient_extends_once(announce, locker):
    parcel = states.ready(announce)
    extended = services.parcel_extend(parcel_id=parcel.pk, who=RECIPIENT)
    assert extended.pickup_deadline - parcel.pickup_deadline == timedelta(hours=48)
    with pytest.raises(ExtensionNotAllowed):
        services.parcel_extend(parcel_id=parcel.pk, who=RECIPIENT)
    assert Notification.objects.filter(parcel=parcel, kind="extended").count() == 2  # sms + email


def test_expiry_waits_for_the_deadline_and_is_idempotent(announce, locker):
    parcel = states.ready(announce)
    assert services.parcels_expire_due(now=parcel.pickup_deadline - timedelta(minutes=1)) == 0
    assert services.parcels_expire_due(now=parcel.pickup_deadline) == 1
    assert services.parcels_expire_due(now=parcel.pickup_deadline) == 0
    parcel.refresh_from_db()
    assert (parcel.status, parcel.status_reason) == ("expired", "pickup_deadline_passed")
    assert parcel.compartment_id is not None  # it waits in its door for the courier


def test_a_return_is_dropped_off_in_a_fitting_door_and_collected(carrier, site, sizes, locker):
    parcel, issued = states.return_announced(carrier, site, sizes)
    assert Notification.objects.filter(parcel=parcel, kind="return_code").exists()
    assigned = services.dropoff_code_verify(locker=locker, pin=issued.pin)
    assert assigned.compartment.size_class == sizes["m"]
    with pytest.raises(CodeRefused):
        services.dropoff_code_verify(locker=locker, pin=issued.pin)
    dropped = services.parcel_drop_off(parcel_id=parcel.pk, who=DEVICE)
    assert dropped.status == ParcelStatus.DROPPED_OFF
    collected = services.parcel_collect(parcel_id=parcel.pk, who=COURIER)
    assert (collected.status, collected.compartment_id) == ("returned_to_sender", None)


def test_a_change_that_rolls_back_leaves_no_outbox_rows(announce, locker):
    parcel = announce(reserve=True)
    notifications, webhooks = Notification.objects.count(), PartnerEvent.objects.count()
    with pytest.raises(RuntimeError), transaction.atomic():
        services.parcel_deposit(parcel_id=parcel.pk, who=COURIER)
        raise RuntimeError("crash after the deposit, before commit")
    assert Parcel.objects.get(pk=parcel.pk).status == ParcelStatus.RESERVED
    assert (Notification.objects.count(), PartnerEvent.objects.count()) == (notifications, webhooks)


def test_the_timeline_is_one_query_and_names_who_and_where(announce, locker, django_assert_num_queries):
    parcel = states.picked_up(announce, locker)
    with django_assert_num_queries(1):
        timeline = [(e.type, e.actor, e.compartment.label if e.compartment else None) for e in parcel_timeline(parcel)]
    assert timeline[-1][2] is not None  # the door it was picked up from
    assert [row[:2] for row in timeline] == [
        ("announced", "partner"), ("reserve", "partner"), ("deposit", "courier"),
        ("door_opened_for_pickup", "recipient"), ("pick_up", "device"),
    ]


def test_the_status_catalogue_lists_every_status_once():
    catalogue = status_catalogue()
    assert sorted(row["code"] for row in catalogue) == sorted(ParcelStatus.values)
    assert {row["code"] for row in catalogue if row["terminal"]} == {"picked_up", "returned_to_sender", "cancelled"}


def test_the_page_token_finds_its_parcel_only(announce):
    parcel = announce()
    assert parcel_by_page_token(services.page_token(parcel)) == parcel
    assert parcel_by_page_token("not-a-token") is None


def test_recipient_phone_numbers_are_stored_in_e164(announce):
    parcel = announce(recipient=Recipient(name="Bo", phone="(612) 555-0123"))
    assert Parcel.objects.get(pk=parcel.pk).recipient_phone.as_e164 == "+16125550123"
