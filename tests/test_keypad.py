"""The keypad guard's turn: its lock, the code look-up it carries, and what a refused turn keeps."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from lockers_site import rows
from parcels import services
from parcels.errors import CodeRefused, KeypadLocked
from parcels.keypad import keypad_turn_settle, keypad_turn_take
from parcels.models import KeypadGuard, ParcelEvent, PickupCode
from tests import parcel_states as states

pytestmark = pytest.mark.django_db

LOOKUP = rows.Sql("SELECT %s, %s", ("found", 7))


def test_the_first_typed_code_at_a_locker_creates_its_guard_and_opens(announce, locker):
    parcel = states.ready(announce)
    pin, _ = services.code_secrets(parcel.pickup_code)

    opened = services.pickup_code_verify(locker=locker, pin=pin)

    assert [found.pk for found in opened] == [parcel.pk]
    guard = KeypadGuard.objects.get(locker=locker)
    assert (guard.failures_today, guard.consecutive_failures, guard.refused_today) == (0, 0, 0)


def test_the_first_typed_code_at_a_locker_if_wrong_is_counted(announce, locker):
    states.ready(announce)

    with pytest.raises(CodeRefused):
        services.pickup_code_verify(locker=locker, pin="00000000")

    guard = KeypadGuard.objects.get(locker=locker)
    assert (guard.failures_today, guard.consecutive_failures) == (1, 1)


def test_a_turn_carries_the_rows_of_its_look_up(locker):
    with transaction.atomic():
        turn = keypad_turn_take(locker=locker, lookup=LOOKUP)
        keypad_turn_settle(turn=turn, right=True)

    assert not turn.refused
    assert [tuple(row) for row in turn.looked_up] == [("found", 7)]


def test_a_refused_turn_carries_nothing_of_its_look_up(locker):
    with transaction.atomic():
        keypad_turn_take(locker=locker)  # creates the guard
    until = timezone.now() + timedelta(minutes=5)
    KeypadGuard.objects.filter(locker=locker).update(locked_until=until, consecutive_failures=5)

    with transaction.atomic():
        turn = keypad_turn_take(locker=locker, lookup=LOOKUP)
        keypad_turn_settle(turn=turn, right=None)

    assert turn.refused and turn.looked_up == []
    assert KeypadGuard.objects.get(locker=locker).refused_today == 1


@pytest.mark.parametrize("typed", ["the right code", "a wrong code"])
def test_a_locked_keypad_refuses_a_right_code_exactly_as_a_wrong_one(announce, locker, typed):
    parcel = states.ready(announce)
    with pytest.raises(CodeRefused):
        services.pickup_code_verify(locker=locker, pin="00000000")
    until = timezone.now() + timedelta(minutes=5)
    KeypadGuard.objects.filter(locker=locker).update(locked_until=until, consecutive_failures=5)
    pin = services.code_secrets(parcel.pickup_code)[0] if typed == "the right code" else "99999999"

    with pytest.raises(KeypadLocked) as locked:
        services.pickup_code_verify(locker=locker, pin=pin)

    assert locked.value.until == until
    guard = KeypadGuard.objects.get(locker=locker)
    assert (guard.failures_today, guard.consecutive_failures, guard.refused_today) == (1, 5, 1)
    assert guard.locked_until == until
    assert PickupCode.objects.get(pk=parcel.pickup_code_id).state == PickupCode.State.LIVE
    assert not ParcelEvent.objects.filter(type="door_opened_for_pickup").exists()
