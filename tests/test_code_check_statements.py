"""A pickup code's check in few statements: what they write, and the race they change.

On PostgreSQL a right code is one statement that locks the keypad guard and looks the
code up, and one that uses the code and writes the custody events; SQLite runs the same
steps one statement at a time (docs/performance.md, *Fifth pass*).
"""

from __future__ import annotations

import threading
import time

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
    assert own[1].startswith('WITH used AS (UPDATE "parcels_pickupcode"') and "INSERT INTO" in own[1]


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


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_request_that_waited_behind_the_one_using_its_code_is_refused_as_used_and_not_counted(announce, locker):
    parcel = states.ready(announce)
    pin, _ = services.code_secrets(parcel.pickup_code)
    with pytest.raises(CodeRefused):
        services.pickup_code_verify(locker=locker, pin="00000000")  # a streak of one wrong code
    used, go_on = threading.Event(), threading.Event()
    outcomes: dict[str, object] = {}

    def first() -> None:
        try:
            with transaction.atomic():  # holds the guard's lock past the code's use, until go_on
                outcomes["first"] = services.pickup_code_verify(locker=locker, pin=pin)
                used.set()
                go_on.wait(timeout=10)
        finally:
            connection.close()

    def second() -> None:
        try:
            outcomes["second"] = services.pickup_code_verify(locker=locker, pin=pin)
        except Exception as error:  # the outcome under test
            outcomes["second"] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    threads[0].start()
    assert used.wait(timeout=10)
    threads[1].start()
    try:
        _blocked_on_the_guard()  # its statement began, and took its snapshot, while the code was live
    finally:
        go_on.set()
        for thread in threads:
            thread.join()

    assert [opened.pk for opened in outcomes["first"]] == [parcel.pk]
    refused = outcomes["second"]
    assert isinstance(refused, CodeRefused) and str(refused) == services.CODE_USED  # found live, lost the use
    guard = KeypadGuard.objects.get(locker=locker)
    # The first request's right code cleared the streak; the second is not a wrong code.
    assert (guard.failures_today, guard.consecutive_failures, guard.refused_today) == (1, 0, 0)
    assert ParcelEvent.objects.filter(parcel=parcel, type="door_opened_for_pickup").count() == 1
    assert PickupCode.objects.get(pk=parcel.pickup_code_id).state == PickupCode.State.USED
