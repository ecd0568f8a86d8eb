"""A pickup code's check in few statements: what they write, and the races they must survive.

On PostgreSQL a right code at a keypad it leaves unchanged, and a scanned code, is one
statement without a transaction: it looks the code up, key-share locks the keypad guard
if it is as a right code leaves it (`keypad_left_unchanged`), uses the code and writes
the custody events. Any other typed code then takes the keypad's locked turn: one
statement that locks the guard and looks the code up, and the use with its events.
SQLite runs the turn's steps one statement at a time (docs/performance.md, *Fifth
pass*, *Seventh pass* and *Tenth pass*).
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
from parcels import codes, services
from parcels.errors import CodeRefused, KeypadLocked
from parcels.keypad import _clear_streak, _turn_judged, keypad_day
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


def _one_code_one_parcel_due(announce) -> tuple[Parcel, Parcel]:
    """Two parcels of one recipient, one code opening both; the first is past its deadline."""
    late, waiting = states.ready(announce), states.ready(announce)
    late.refresh_from_db()
    waiting.refresh_from_db()
    assert late.pickup_code_id == waiting.pickup_code_id  # one recipient: one code opens both
    Parcel.objects.filter(pk=late.pk).update(pickup_deadline=timezone.now() - timedelta(minutes=1))
    return late, waiting


def _clean_guard(announce, locker) -> None:
    """The locker's keypad guard, created by another recipient's right code: no streak, nothing counted."""
    other = states.ready(announce, recipient=services.Recipient(name="Bo"))
    services.pickup_code_verify(locker=locker, pin=services.code_secrets(other.pickup_code)[0])


def _opening_events(parcel_ids: list[int]) -> list[dict[str, object]]:
    events = ParcelEvent.objects.filter(parcel_id__in=parcel_ids, type="door_opened_for_pickup")
    return list(events.order_by("parcel_id").values(*EVENT_COLUMNS))


@pytest.mark.parametrize("keypad", ["clean: the code used alone", "not there yet: the locked turn"])
def test_the_events_of_a_code_opening_several_doors_are_those_record_event_writes(announce, locker, keypad):
    parcels, pin = _one_code_for(announce, 3)
    ids = [parcel.pk for parcel in parcels]
    if keypad.startswith("clean"):
        _clean_guard(announce, locker)

    with time_machine.travel(timezone.now(), tick=False):
        with CaptureQueriesContext(connection) as captured:
            opened = services.pickup_code_verify(locker=locker, pin=pin)
        used_alone = len(_own_statements(captured)) == 1
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

    assert used_alone == (keypad.startswith("clean") and connection.vendor == "postgresql")
    assert len(written) == 3
    assert written == expected  # type, statuses, site, locker, door, actor, label, user, details, both times
    doors = Compartment.objects.filter(parcels__pk__in=ids).order_by("column", "row", "pk")
    assert [parcel.compartment_id for parcel in opened] == [door.pk for door in doors]


def _guard_counts(locker) -> tuple[object, ...]:
    guard = KeypadGuard.objects.get(locker=locker)
    return guard.day, guard.failures_today, guard.refused_today, guard.consecutive_failures, guard.locked_until


def _own_statements(captured: CaptureQueriesContext) -> list[str]:
    return [query["sql"] for query in captured.captured_queries if "parcels_" in query["sql"]]


def _is_the_use_with_its_events(sql: str) -> bool:
    # The parcels still waiting, the code used, the events written: one statement.
    return ("still AS (SELECT count(*)" in sql and 'used AS (UPDATE "parcels_pickupcode"' in sql
            and 'INSERT INTO "parcels_parcelevent"' in sql)


def _is_a_code_used_alone(sql: str) -> bool:
    # The look-up too, in the same statement, which returns what it found.
    return sql.startswith("WITH found AS (SELECT * FROM (SELECT") and _is_the_use_with_its_events(sql)


@pytest.mark.postgres
def test_on_postgresql_a_right_code_at_a_clean_keypad_is_one_statement_without_a_transaction(announce, locker):
    first, second = states.ready(announce), states.ready(announce, recipient=services.Recipient(name="Bo"))
    services.pickup_code_verify(locker=locker, pin=services.code_secrets(first.pickup_code)[0])  # creates the guard
    pin, _ = services.code_secrets(second.pickup_code)
    guard_before = _guard_counts(locker)

    with CaptureQueriesContext(connection) as captured:
        opened = services.pickup_code_verify(locker=locker, pin=pin)

    own = _own_statements(captured)
    assert [parcel.pk for parcel in opened] == [second.pk]
    assert len(own) == 1 and _is_a_code_used_alone(own[0]), own
    assert "FOR KEY SHARE OF g SKIP LOCKED" in own[0] and "FOR UPDATE" not in own[0]
    assert not any(query["sql"] in ("BEGIN", "COMMIT") for query in captured.captured_queries)
    assert _guard_counts(locker) == guard_before  # a right code at a clean keypad writes no guard
    assert PickupCode.objects.get(pk=second.pickup_code_id).state == PickupCode.State.USED


@pytest.mark.postgres
def test_a_code_used_alone_is_written_at_its_own_time_and_keypad_day_though_its_statement_is_built_once(
        announce, locker):
    al, bo, cy, di = (states.ready(announce, recipient=services.Recipient(name=name))
                      for name in ("Al", "Bo", "Cy", "Di"))
    started = timezone.now()
    with time_machine.travel(started, tick=False):
        services.pickup_code_verify(locker=locker, pin=services.code_secrets(al.pickup_code)[0])  # creates the guard
        services.pickup_code_verify(locker=locker, pin=services.code_secrets(bo.pickup_code)[0])  # alone
    next_day = started + timedelta(days=1, hours=1)
    with time_machine.travel(next_day, tick=False):
        # The guard is dated yesterday: a right code's turn moves it to today, so Cy's takes the turn.
        services.pickup_code_verify(locker=locker, pin=services.code_secrets(cy.pickup_code)[0])
        with CaptureQueriesContext(connection) as captured:
            services.pickup_code_verify(locker=locker, pin=services.code_secrets(di.pickup_code)[0])

    own = _own_statements(captured)
    assert len(own) == 1 and _is_a_code_used_alone(own[0]), own
    assert KeypadGuard.objects.get(locker=locker).day == keypad_day(locker, next_day)
    for parcel, used_at in ((bo, started), (di, next_day)):
        event = ParcelEvent.objects.get(parcel=parcel, type="door_opened_for_pickup")
        assert event.occurred_at == event.recorded_at == used_at
        assert PickupCode.objects.get(pk=parcel.pickup_code_id).ended_at == used_at


@pytest.mark.postgres
def test_on_postgresql_a_right_code_after_a_wrong_one_takes_the_locked_turn_that_clears_the_streak(announce, locker):
    parcel = states.ready(announce)
    with pytest.raises(CodeRefused):
        services.pickup_code_verify(locker=locker, pin="00000000")
    pin, _ = services.code_secrets(parcel.pickup_code)

    with CaptureQueriesContext(connection) as captured:
        opened = services.pickup_code_verify(locker=locker, pin=pin)

    own = _own_statements(captured)
    assert [found.pk for found in opened] == [parcel.pk]
    # The statement alone finds the streak to clear and writes nothing; the turn locks the
    # guard with the look-up, writes the cleared streak, and uses the code with its events.
    assert len(own) == 4, own
    assert _is_a_code_used_alone(own[0]) and own[1].endswith("FOR UPDATE OF g")
    assert own[2].startswith('UPDATE "parcels_keypadguard"')
    assert _is_the_use_with_its_events(own[3])
    assert _guard_counts(locker)[1:4] == (1, 0, 0)


@pytest.mark.postgres
def test_on_postgresql_a_scanned_code_is_its_look_up_and_one_write(announce, locker):
    parcel = states.ready(announce)
    _, qr_token = services.code_secrets(parcel.pickup_code)

    with CaptureQueriesContext(connection) as captured:
        opened = services.pickup_code_verify(locker=locker, qr_token=qr_token)
    with pytest.raises(CodeRefused, match="does not open any door"):
        services.pickup_code_verify(locker=locker, qr_token=qr_token)

    own = _own_statements(captured)
    assert [found.pk for found in opened] == [parcel.pk]
    assert len(own) == 1 and "parcels_keypadguard" not in own[0] and _is_a_code_used_alone(own[0]), own
    assert not KeypadGuard.objects.filter(locker=locker).exists()  # a scan never takes a keypad turn


def _blocked_in(table: str, timeout: float = 10) -> None:
    """Return once a session of this database waits for a lock in a statement naming `table`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock' AND query LIKE %s",
                [f"%{table}%"],
            )
            if cursor.fetchone()[0]:
                return
        time.sleep(0.01)
    raise AssertionError(f"The second request never waited for a lock in a statement on {table}.")


def _waiting_behind(first_request, second_request, meanwhile=lambda: None,
                    blocked_in: str = "parcels_keypadguard") -> dict[str, object]:
    """Run `first_request` in a transaction held open after it, `second_request` (outside a
    transaction, as the device view runs it) waiting for a lock behind it in a statement
    naming `blocked_in` (its snapshot taken), and `meanwhile` while it waits; then let both
    finish. Returns what each returned or raised."""
    done, go_on = threading.Event(), threading.Event()
    outcomes: dict[str, object] = {}

    def outcome(name: str, request) -> None:
        try:
            outcomes[name] = request()
        except Exception as error:  # the outcome under test
            outcomes[name] = error

    def run(name: str, request, hold: bool) -> None:
        try:
            if hold:
                with transaction.atomic():
                    outcome(name, request)
                    done.set()
                    go_on.wait(timeout=10)
            else:  # as the device view calls it: outside a transaction
                outcome(name, request)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=("first", first_request, True)),
               threading.Thread(target=run, args=("second", second_request, False))]
    threads[0].start()
    assert done.wait(timeout=10)
    threads[1].start()
    try:
        _blocked_in(blocked_in)
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
    late, waiting = _one_code_one_parcel_due(announce)
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


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_right_code_sent_while_a_wrong_one_takes_the_last_try_of_the_day_is_refused(announce, locker):
    parcel = states.ready(announce)
    _clean_guard(announce, locker)
    KeypadGuard.objects.filter(locker=locker).update(failures_today=codes.KEYPAD_DAILY_WRONG_CAP - 1)
    pin, _ = services.code_secrets(parcel.pickup_code)

    # The right code's statement finds the keypad clean while the wrong code's turn holds
    # the lock: it skips the locked guard and writes nothing, and the code takes its turn
    # after the wrong one, which spent the day's last try.
    outcomes = _waiting_behind(lambda: services.pickup_code_verify(locker=locker, pin="00000000"),
                               lambda: services.pickup_code_verify(locker=locker, pin=pin))

    assert isinstance(outcomes["first"], CodeRefused)
    assert isinstance(outcomes["second"], KeypadLocked)
    guard = KeypadGuard.objects.get(locker=locker)
    assert (guard.failures_today, guard.refused_today) == (codes.KEYPAD_DAILY_WRONG_CAP, 1)
    assert PickupCode.objects.get(pk=parcel.pickup_code_id).state == PickupCode.State.LIVE
    assert not ParcelEvent.objects.filter(parcel=parcel, type="door_opened_for_pickup").exists()


# Keypad guards as (days after today, failures today, consecutive failures, backing off).
GUARD_STATES = [
    (0, 0, 0, False), (0, 3, 0, False), (0, codes.KEYPAD_DAILY_WRONG_CAP - 1, 0, False),
    (0, codes.KEYPAD_DAILY_WRONG_CAP, 0, False), (0, 1, 1, False), (0, 5, 5, True), (0, 5, 0, True),
    (-1, 0, 0, False), (-1, codes.KEYPAD_DAILY_WRONG_CAP, 2, True), (1, 0, 0, False), (1, 2, 0, False),
]


def _a_right_code_leaves_unchanged(locker, guard: KeypadGuard) -> bool:
    """What the keypad's turn, in Python, does with a right code: neither refuses it nor changes the guard."""
    turn = _turn_judged(locker, guard, timezone.now())
    _clear_streak(turn)
    return not turn.refused and not turn.changed


@pytest.mark.postgres
@pytest.mark.parametrize(("days", "failures", "streak", "backing_off"), GUARD_STATES)
def test_a_typed_code_is_used_alone_exactly_when_the_keypad_turn_would_leave_the_guard_unchanged(
        announce, locker, days, failures, streak, backing_off):
    parcel = states.ready(announce)
    _clean_guard(announce, locker)
    today = KeypadGuard.objects.get(locker=locker).day
    KeypadGuard.objects.filter(locker=locker).update(
        day=today + timedelta(days=days), failures_today=failures, consecutive_failures=streak,
        locked_until=timezone.now() + timedelta(minutes=5) if backing_off else None)
    guard_before = _guard_counts(locker)
    pin, _ = services.code_secrets(parcel.pickup_code)

    opened = services._pickup_opened_alone(locker=locker, pin=pin, qr_token=None)

    assert (opened is not None) == _a_right_code_leaves_unchanged(locker, KeypadGuard.objects.get(locker=locker))
    assert _guard_counts(locker) == guard_before  # only a turn writes the guard
    code_state = PickupCode.objects.get(pk=parcel.pickup_code_id).state
    opening_events = ParcelEvent.objects.filter(parcel=parcel, type="door_opened_for_pickup").count()
    if opened is None:  # nothing written: the code takes its turn
        assert (code_state, opening_events) == (PickupCode.State.LIVE, 0)
    else:
        assert [found.pk for found in opened.parcels] == [parcel.pk]
        assert (code_state, opening_events) == (PickupCode.State.USED, 1)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_right_code_checked_while_the_expiry_job_expires_one_of_its_parcels_opens_only_the_other(announce, locker):
    late, waiting = _one_code_one_parcel_due(announce)
    _clean_guard(announce, locker)
    pin, _ = services.code_secrets(PickupCode.objects.get(pk=waiting.pickup_code_id))

    # The expiry job's transaction has expired `late` and is held open; the code's look-up
    # found both parcels waiting, so its use waits for that transaction on the parcel's
    # row, then counts one parcel of two still waiting and writes nothing; the locked turn
    # then opens the one that waits.
    outcomes = _waiting_behind(services.parcels_expire_due, lambda: services.pickup_code_verify(locker=locker, pin=pin),
                               blocked_in="parcels_parcel")

    assert outcomes["first"] == 1
    assert [parcel.pk for parcel in outcomes["second"]] == [waiting.pk]
    opened = ParcelEvent.objects.filter(type="door_opened_for_pickup", parcel__in=[late, waiting])
    assert list(opened.values_list("parcel_id", flat=True)) == [waiting.pk]
    assert Parcel.objects.get(pk=late.pk).status == ParcelStatus.EXPIRED
