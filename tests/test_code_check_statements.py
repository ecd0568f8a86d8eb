"""A pickup code's check in few statements: what they write, and the races they must survive.

On PostgreSQL a right code is one statement that locks the keypad guard and looks the
code up, and one that uses the code and writes the custody events; SQLite runs the same
steps one statement at a time (docs/performance.md, *Fifth pass*).
"""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
import time_machine
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from lockers.models import Compartment
from parcels import services
from parcels.errors import CodeRefused
from parcels.lifecycle import Where, Who, record_event
from parcels.models import Actor, KeypadGuard, Parcel, ParcelEvent, ParcelStatus, PickupCode
from tests import parcel_states as states

pytestmark = pytest.mark.django_db

EVENT_COLUMNS = [field.attname for field in ParcelEvent._meta.concrete_fields if not field.primary_key]


def _one_code_for(announce, count: int) -> tuple[list[Parcel], str]:
    """`count` parcels of one recipient in one locker: the last deposit's code opens them all."""
    parcels = [states.ready(announce) for _ in range(count)]
    code = PickupCode.objects.get(pk=parcels[-1].pickup_code_id)
    pin, _ = services.code_secrets(code)
    return parcels, pin


def _opening_events(parcel_ids: list[int]) -> list[dict[str, object]]:
    events = ParcelEvent.objects.filter(parcel_id__in=parcel_ids, type="door_opened_for_pickup")
    return list(events.order_by("parcel_id").values(*EVENT_COLUMNS))


def test_the_events_of_a_code_opening_several_doors_are_those_record_event_writes(announce, locker):
    parcels, pin = _one_code_for(announce, 3)
    ids = [parcel.pk for parcel in parcels]

    with time_machine.travel(timezone.now(), tick=False):
        opened = services.pickup_code_verify(locker=locker, pin=pin)
        written = _opening_events(ids)
        with transaction.atomic():
            ParcelEvent.objects.filter(parcel_id__in=ids, type="door_opened_for_pickup").delete()
            for parcel in Parcel.objects.select_related("compartment__locker").filter(pk__in=ids):
                record_event(
                    parcel,
                    event_type="door_opened_for_pickup",
                    from_status=ParcelStatus.READY_FOR_PICKUP,
                    where=Where(compartment=parcel.compartment),
                    who=Who(Actor.RECIPIENT),
                    occurred_at=timezone.now(),
                )
            expected = _opening_events(ids)
            transaction.set_rollback(True)

    assert len(written) == 3
    assert written == expected  # type, statuses, site, locker, door, actor, label, user, details, both times
    doors = Compartment.objects.filter(parcels__pk__in=ids).order_by("column", "row", "pk")
    assert [parcel.compartment_id for parcel in opened] == [door.pk for door in doors]


@pytest.mark.postgres
def test_on_postgresql_a_right_code_is_one_locking_look_up_and_one_write(announce, locker):
    first, second = states.ready(announce), states.ready(announce, recipient=services.Recipient(name="Bo"))
    services.pickup_code_verify(locker=locker, pin=services.code_secrets(first.pickup_code)[0])  # creates the guard
    pin, _ = services.code_secrets(second.pickup_code)

    with CaptureQueriesContext(connection) as captured:
        services.pickup_code_verify(locker=locker, pin=pin)

    own = [query["sql"] for query in captured.captured_queries if "parcels_" in query["sql"]]
    assert len(own) == 2, own
    assert "parcels_keypadguard" in own[0] and "parcels_pickupcode" in own[0] and own[0].endswith("FOR UPDATE OF g")
    # The parcels still waiting, the code used, the events written: one statement.
    assert own[1].startswith("WITH still AS (SELECT count(*)")
    assert 'used AS (UPDATE "parcels_pickupcode"' in own[1] and 'INSERT INTO "parcels_parcelevent"' in own[1]


def _blocked_on_the_guard(timeout: float = 10) -> None:
    """Return once a session of this database waits for a lock in a statement on the keypad guard."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock' AND query LIKE %s",
                ["%parcels_keypadguard%"],
            )
            if cursor.fetchone()[0]:
                return
        time.sleep(0.01)
    raise AssertionError("The second request never waited for the keypad guard's lock.")


def _waiting_behind(first_request, second_request, meanwhile=lambda: None) -> dict[str, object]:
    """Run `first_request` in a transaction held open after it, `second_request` waiting on the
    keypad guard's lock behind it (its statement, and its snapshot, begun), and `meanwhile`
    while it waits; then let both finish. Returns what each returned or raised."""
    done, go_on = threading.Event(), threading.Event()
    outcomes: dict[str, object] = {}

    def run(name: str, request, hold: bool) -> None:
        try:
            with transaction.atomic():
                try:
                    outcomes[name] = request()
                except Exception as error:  # the outcome under test
                    outcomes[name] = error
                if hold:
                    done.set()
                    go_on.wait(timeout=10)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=("first", first_request, True)),
               threading.Thread(target=run, args=("second", second_request, False))]
    threads[0].start()
    assert done.wait(timeout=10)
    threads[1].start()
    try:
        _blocked_on_the_guard()
        meanwhile()
    finally:
        go_on.set()
        for thread in threads:
            thread.join()
    return outcomes


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_request_that_waited_behind_the_one_using_its_code_is_a_wrong_code_as_before(announce, locker):
    parcel = states.ready(announce)
    pin, _ = services.code_secrets(parcel.pickup_code)
    with pytest.raises(CodeRefused):
        services.pickup_code_verify(locker=locker, pin="00000000")  # a streak of one wrong code

    outcomes = _waiting_behind(lambda: services.pickup_code_verify(locker=locker, pin=pin),
                               lambda: services.pickup_code_verify(locker=locker, pin=pin))

    assert [opened.pk for opened in outcomes["first"]] == [parcel.pk]
    refused = outcomes["second"]
    # Its look-up found the code live, before the wait; its use found it used, wrote nothing,
    # and the code was checked again under the lock: it opens nothing, a wrong code.
    assert isinstance(refused, CodeRefused) and str(refused) == "This code does not open any door at this locker."
    guard = KeypadGuard.objects.get(locker=locker)
    assert (guard.failures_today, guard.consecutive_failures, guard.refused_today) == (2, 1, 0)
    assert ParcelEvent.objects.filter(parcel=parcel, type="door_opened_for_pickup").count() == 1
    assert PickupCode.objects.get(pk=parcel.pickup_code_id).state == PickupCode.State.USED


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_parcel_that_expired_while_its_code_waited_for_the_keypad_is_not_opened(announce, locker):
    late, waiting = states.ready(announce), states.ready(announce)
    late.refresh_from_db()
    waiting.refresh_from_db()
    assert late.pickup_code_id == waiting.pickup_code_id  # one recipient: one code opens both
    Parcel.objects.filter(pk=late.pk).update(pickup_deadline=timezone.now() - timedelta(minutes=1))
    pin, _ = services.code_secrets(PickupCode.objects.get(pk=waiting.pickup_code_id))
    with pytest.raises(CodeRefused):
        services.pickup_code_verify(locker=locker, pin="00000000")  # the guard exists

    def expire() -> None:
        assert services.parcels_expire_due() == 1

    outcomes = _waiting_behind(lambda: services.pickup_code_verify(locker=locker, pin="00000001"),
                               lambda: services.pickup_code_verify(locker=locker, pin=pin), meanwhile=expire)

    assert isinstance(outcomes["first"], CodeRefused)
    assert [parcel.pk for parcel in outcomes["second"]] == [waiting.pk]
    opened = ParcelEvent.objects.filter(type="door_opened_for_pickup").values_list("parcel_id", "from_status")
    assert list(opened) == [(waiting.pk, ParcelStatus.READY_FOR_PICKUP)]
    assert Parcel.objects.get(pk=late.pk).status == ParcelStatus.EXPIRED
