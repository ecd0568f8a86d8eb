"""Races on the real PostgreSQL server: threads hit the services at the same moment."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable

import pytest
from django.db import connection

from parcels import codes, services
from parcels.errors import CodeRefused, KeypadLocked, NoFittingCompartment
from parcels.models import KeypadGuard, Parcel, ParcelStatus
from tests import parcel_states as states
from tests.parcel_states import COURIER

THREADS = 32
pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def race(work: Callable[[int], object], count: int = THREADS) -> Counter:
    """Run `work(i)` in `count` threads released together; count outcomes by type."""
    barrier = threading.Barrier(count)
    outcomes: list[object] = [None] * count

    def run(index: int) -> None:
        try:
            barrier.wait()
            outcomes[index] = work(index)
        except Exception as error:  # the outcome, error or not, is what the test counts
            outcomes[index] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return Counter(type(outcome).__name__ for outcome in outcomes)


@pytest.mark.parametrize("round_number", range(3))
def test_exactly_one_of_many_wins_the_last_free_door(announce, make_locker, round_number):
    make_locker("s")  # one small door at the site, nothing else
    parcels = [announce() for _ in range(THREADS)]

    outcomes = race(lambda i: services.parcel_reserve(parcel_id=parcels[i].pk, who=COURIER))

    assert outcomes == Counter({"Parcel": 1, "NoFittingCompartment": THREADS - 1})
    assert Parcel.objects.filter(status=ParcelStatus.RESERVED).count() == 1
    assert Parcel.objects.exclude(compartment=None).count() == 1


def test_a_door_freed_by_a_cancel_goes_to_exactly_one_of_the_next_racers(announce, make_locker):
    make_locker("s")
    winner = announce(reserve=True)
    waiting = [announce() for _ in range(THREADS)]
    services.parcel_cancel(parcel_id=winner.pk, who=COURIER)

    outcomes = race(lambda i: services.parcel_reserve(parcel_id=waiting[i].pk, who=COURIER))

    assert outcomes["Parcel"] == 1
    assert outcomes["NoFittingCompartment"] == THREADS - 1


def test_the_same_code_sent_by_many_opens_the_door_once(announce, locker):
    parcel = states.ready(announce)
    pin, _ = services.code_secrets(parcel.pickup_code)

    outcomes = race(lambda _: services.pickup_code_verify(locker=locker, pin=pin))

    assert outcomes["list"] == 1
    assert outcomes["CodeRefused"] + outcomes["KeypadLocked"] == THREADS - 1
    assert Parcel.objects.get(pk=parcel.pk).events.filter(type="door_opened_for_pickup").count() == 1


def test_the_same_code_sent_by_many_at_a_clean_keypad_opens_the_door_once_and_counts_the_rest(announce, locker):
    parcel = states.ready(announce)
    other = states.ready(announce, recipient=services.Recipient(name="Bo"))  # another code
    services.pickup_code_verify(locker=locker, pin=services.code_secrets(other.pickup_code)[0])  # the guard, clean
    pin, _ = services.code_secrets(parcel.pickup_code)

    # Every request's peek may find the code live and the keypad clean: one use wins, and
    # each loser, its use finding the code used, takes the locked turn and is a wrong code.
    outcomes = race(lambda _: services.pickup_code_verify(locker=locker, pin=pin))

    assert outcomes["list"] == 1
    assert outcomes["CodeRefused"] + outcomes["KeypadLocked"] == THREADS - 1
    assert Parcel.objects.get(pk=parcel.pk).events.filter(type="door_opened_for_pickup").count() == 1
    guard = KeypadGuard.objects.get(locker=locker)
    assert (guard.failures_today, guard.refused_today) == (outcomes["CodeRefused"], outcomes["KeypadLocked"])


def test_wrong_codes_sent_at_once_are_all_counted_and_never_exceed_the_cap(announce, locker):
    states.ready(announce)

    outcomes = race(lambda i: services.pickup_code_verify(locker=locker, pin=f"{i:08d}"[::-1]))

    guard = KeypadGuard.objects.get(locker=locker)
    assert guard.failures_today + guard.refused_today == THREADS
    assert guard.failures_today <= codes.KEYPAD_DAILY_WRONG_CAP
    assert outcomes[CodeRefused.__name__] == guard.failures_today
    assert outcomes[KeypadLocked.__name__] == guard.refused_today


def test_racing_wrong_codes_at_the_edge_of_the_daily_cap_test_exactly_the_cap(announce, locker):
    states.ready(announce)
    services.pickup_code_verify(locker=locker, pin=services.code_secrets(states.ready(announce).pickup_code)[0])
    KeypadGuard.objects.filter(locker=locker).update(failures_today=codes.KEYPAD_DAILY_WRONG_CAP - 2)

    outcomes = race(lambda i: services.pickup_code_verify(locker=locker, pin=f"{i:08d}"[::-1]))

    guard = KeypadGuard.objects.get(locker=locker)
    assert guard.failures_today == codes.KEYPAD_DAILY_WRONG_CAP  # two more tested, never a third
    assert outcomes[CodeRefused.__name__] == 2
    assert outcomes[KeypadLocked.__name__] == guard.refused_today == THREADS - 2


def test_expiry_run_twice_at_once_expires_each_parcel_once(announce, locker):
    parcels = [states.ready(announce, recipient=services.Recipient(name=f"R{i}", phone=f"+1612555{i:04d}"))
               for i in range(6)]
    deadline = max(p.pickup_deadline for p in parcels)

    outcomes = race(lambda _: services.parcels_expire_due(now=deadline), count=4)

    assert outcomes == Counter({"int": 4})  # every run finished without an error
    assert Parcel.objects.filter(status=ParcelStatus.EXPIRED).count() == 6
    for parcel in parcels:
        assert parcel.events.filter(type="expire").count() == 1


def test_racing_changes_at_one_site_are_each_logged_once_for_the_bundles_while_the_log_folds(announce, locker):
    from django.db.models import Sum

    from lockers.models import BundleChange

    parcels = [states.ready(announce) for _ in range(8)]
    logged_before = BundleChange.objects.filter(site_id=locker.site_id).aggregate(total=Sum("weight"))["total"]
    changes_each = 6

    def move_deadline(index: int) -> int:
        for _ in range(changes_each):
            with connection.cursor() as cursor:
                cursor.execute("UPDATE parcels_parcel SET pickup_deadline = pickup_deadline + interval '1 minute' "
                               "WHERE id = %s", [parcels[index % len(parcels)].pk])
        return changes_each

    outcomes = race(move_deadline, 16)

    assert outcomes == Counter({"int": 16})  # every change logged, folding or not
    found = BundleChange.objects.filter(site_id=locker.site_id)
    assert found.aggregate(total=Sum("weight"))["total"] == logged_before + 16 * changes_each
    assert found.count() < 16 * changes_each  # it folded on the way


def test_code_checks_extensions_and_the_expiry_job_racing_leave_the_heartbeat_the_full_digest(announce, locker):
    """The bundle log's triggers and folds inside the transactions that race in production:
    nothing fails but the refusals a race may give, and the kept version is still exact."""
    from datetime import timedelta

    from lockers.device.bundle import bundle_version
    from lockers.device.credentials import device_provisioning_exchange, device_provisioning_issue
    from lockers.device.heartbeat import HeartbeatIn, device_heartbeat_record
    from lockers.models import DeviceCredential
    from parcels.lifecycle import Who
    from parcels.models import Actor

    device_provisioning_exchange(serial_number=locker.serial_number,
                                 token=device_provisioning_issue(locker=locker))
    credential = DeviceCredential.objects.get(locker=locker)
    parcels = [states.ready(announce) for _ in range(8)]
    pins = [services.code_secrets(parcel.pickup_code)[0] for parcel in parcels]
    late = max(parcel.pickup_deadline for parcel in parcels) + timedelta(days=30)
    kept = device_heartbeat_record(locker=locker, credential=credential, report=HeartbeatIn()).bundle_version

    def work(index: int) -> object:
        if index < 4:
            return services.pickup_code_verify(locker=locker, pin=pins[index])
        if index < 6:
            return services.parcel_extend(parcel_id=parcels[index].pk, who=Who(Actor.OPERATOR))
        if index < 8:
            return services.parcels_expire_due(now=late)
        with connection.cursor() as cursor:
            cursor.execute("UPDATE parcels_parcel SET pickup_deadline = pickup_deadline + interval '1 minute' "
                           "WHERE id = %s", [parcels[6 + index % 2].pk])
            return cursor.rowcount

    outcomes = race(work, 12)

    # Codes of parcels the expiry job took first are refused; an extension of an expired
    # parcel too. Nothing else: no deadlock, no integrity error.
    assert set(outcomes) <= {"list", "Parcel", "int", "CodeRefused", "ExtensionNotAllowed"}
    assert not Parcel.objects.filter(status=ParcelStatus.READY_FOR_PICKUP).exists()  # the expiry job ran
    answer = device_heartbeat_record(locker=locker, credential=credential, report=HeartbeatIn())
    assert answer.bundle_version == bundle_version(locker) != kept


def test_no_fitting_compartment_is_a_clean_refusal(announce, make_locker):
    make_locker("s")
    announce(reserve=True)
    with pytest.raises(NoFittingCompartment):
        announce(reserve=True)


def test_a_burst_gets_a_door_for_every_parcel_while_doors_are_free(announce, make_locker):
    make_locker("\n".join(["s s s s s s s s"] * 5))  # 40 small doors
    parcels = [announce() for _ in range(THREADS)]

    outcomes = race(lambda i: services.parcel_reserve(parcel_id=parcels[i].pk, who=COURIER))

    assert outcomes == Counter({"Parcel": THREADS})  # no false "full" answer
    held = list(Parcel.objects.exclude(compartment=None).values_list("compartment", flat=True))
    assert len(held) == len(set(held)) == THREADS


def test_of_racing_requests_with_one_nonce_exactly_one_is_let_through(locker):
    from django.utils import timezone

    from lockers.device.credentials import Secrets
    from lockers.device.store import DatabaseVisit, Found
    from lockers.models import DeviceCredential, DeviceNonce

    found = Found(credential=DeviceCredential(locker=locker), secrets=Secrets(None, None, None))
    now = timezone.now()

    outcomes = race(lambda i: DatabaseVisit(found=found, nonce="r" * 24, seen_at=now).accept())

    assert outcomes == Counter({"NoneType": 1, "NonceReused": THREADS - 1})
    assert DeviceNonce.objects.filter(locker=locker).count() == 1
