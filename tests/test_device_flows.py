"""Recipients, couriers, heartbeats and commands through the signed device API."""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.utils import timezone

from carriers.models import CourierCredential
from carriers.services import courier_credential_create
from lockers.device import signing
from lockers.device.commands import locker_command_queue
from lockers.device.errors import CommandRateLimited
from lockers.models import Compartment, DeviceEvent, LockerCommand
from lockers.services import MAX_COMPARTMENTS_PER_LOCKER
from notifications.models import Notification
from parcels.lifecycle import Who
from parcels.models import Actor, ParcelEvent, ParcelStatus, PickupCode
from parcels.services import code_secrets, parcel_extend, parcels_expire_due
from tests import parcel_states as states
from tests.device_support import deposited

pytest_plugins = ["tests.device_support"]

_sequence = iter(range(1, 10**6))


def event(kind: str, door: str, *, purpose: str = "", parcel_id: int | None = None, at: datetime | None = None,
          **data) -> dict:
    return {
        "event_id": str(uuid.uuid4()), "sequence": next(_sequence),
        "occurred_at": (at or timezone.now()).isoformat(), "type": kind, "door": door,
        "purpose": purpose, "parcel_id": parcel_id, "data": data,
    }


def close_after(purpose: str, answer: dict, **data) -> list[dict]:
    door = answer["door"]
    return [event("door_opened", door, **data),
            event("door_closed", door, purpose=purpose, parcel_id=answer["parcel_id"], **data)]


@pytest.fixture
def courier(carrier):
    return courier_credential_create(partner=carrier, courier_name="Cory Courier", badge_number="B-1001", pin="4711")


@pytest.fixture
def session(device, courier):
    response = device.post("courier/sign-in", {"badge_number": "B-1001", "pin": "4711"})
    assert response.status_code == 201, response.content
    return response.json()["session"]


# --- recipient ---------------------------------------------------------------------------


def test_a_recipient_code_opens_its_door_and_the_closed_door_picks_the_parcel_up(device, announce):
    parcel = deposited(announce, device)
    pin, _ = code_secrets(parcel.pickup_code)

    answer = device.post("codes/pickup", {"pin": pin})
    assert answer.status_code == 200, answer.content
    doors = answer.json()["doors"]
    assert doors == [{"door": parcel.compartment.label, "parcel_id": parcel.pk}]

    synced = device.post("events", {"events": close_after("pickup", doors[0])}).json()

    assert synced["applied"] == 2
    parcel.refresh_from_db()
    assert parcel.status == ParcelStatus.PICKED_UP
    assert parcel.compartment_id is None


def test_a_scanned_qr_token_opens_the_door_too(device, announce):
    parcel = deposited(announce, device)
    _, qr_token = code_secrets(parcel.pickup_code)
    assert device.post("codes/pickup", {"qr_token": qr_token}).json()["doors"][0]["parcel_id"] == parcel.pk


def test_a_wrong_code_is_refused_and_a_used_code_opens_nothing_again(device, announce):
    parcel = deposited(announce, device)
    pin, _ = code_secrets(parcel.pickup_code)

    wrong = device.post("codes/pickup", {"pin": "00000000" if pin != "00000000" else "11111111"})
    assert device.post("codes/pickup", {"pin": pin}).status_code == 200
    again = device.post("codes/pickup", {"pin": pin})

    assert (wrong.status_code, wrong.json()["type"].rsplit("/", 1)[1]) == (403, "code_refused")
    assert again.status_code == 403


def test_the_keypad_locks_after_a_streak_of_wrong_codes(device, announce):
    deposited(announce, device)
    answers = [device.post("codes/pickup", {"pin": f"{n:08d}"}) for n in range(1, 8)]

    locked = answers[-1]
    assert locked.status_code == 429
    assert locked.json()["type"].endswith("/keypad_locked")
    assert datetime.fromisoformat(locked.json()["locked_until"]) > timezone.now()


def test_a_return_is_dropped_off_in_the_door_its_code_gets(device, carrier, site, sizes):
    parcel, issued = states.return_announced(carrier, site, sizes)

    answer = device.post("codes/drop-off", {"pin": issued.pin})
    assert answer.status_code == 200, answer.content
    door = answer.json()["doors"][0]
    device.post("events", {"events": close_after("drop_off", door)})

    parcel.refresh_from_db()
    assert parcel.status == ParcelStatus.DROPPED_OFF
    assert parcel.compartment.label == door["door"]


# --- courier -----------------------------------------------------------------------------


def test_a_courier_deposits_a_scanned_parcel_and_the_recipient_is_notified(device, session, announce, courier):
    parcel = announce()

    listing = device.get(f"courier/parcels?session={session}").json()
    assert [row["tracking_number"] for row in listing["to_deposit"]] == [parcel.tracking_number]

    door = device.post("courier/deposit", {"session": session, "tracking_number": parcel.tracking_number}).json()
    device.post("events", {"events": close_after("deposit", door, badge_number=courier.badge_number)})

    parcel.refresh_from_db()
    assert parcel.status == ParcelStatus.READY_FOR_PICKUP
    assert parcel.compartment.label == door["door"]
    assert Notification.objects.filter(parcel=parcel, kind=Notification.Kind.PARCEL_READY).exists()
    deposit = ParcelEvent.objects.get(parcel=parcel, type="deposit")
    label = f"courier {courier.badge_number} at {device.locker.serial_number}"
    assert (deposit.actor, deposit.actor_label) == ("courier", label)


def test_a_broken_door_leaves_service_and_another_door_is_offered(device, session, announce):
    parcel = announce()
    first = device.post("courier/deposit", {"session": session, "tracking_number": parcel.tracking_number}).json()

    second = device.post("courier/door-problem", {"session": session, "parcel_id": parcel.pk, "problem": "broken"})

    assert second.status_code == 200, second.content
    assert second.json()["door"] != first["door"]
    assert Compartment.objects.get(locker=device.locker, label=first["door"]).condition == "broken"


def test_a_courier_collects_an_expired_parcel(device, session, announce):
    parcel = deposited(announce, device)
    parcels_expire_due(now=parcel.pickup_deadline + timedelta(seconds=1))

    listing = device.get(f"courier/parcels?session={session}").json()
    assert [row["parcel_id"] for row in listing["to_collect"]] == [parcel.pk]
    door = device.post("courier/collect", {"session": session, "parcel_id": parcel.pk}).json()
    device.post("events", {"events": close_after("collect", door)})

    parcel.refresh_from_db()
    assert parcel.status == ParcelStatus.RETURNED_TO_SENDER


def test_a_courier_badge_locks_after_wrong_pins(device, courier):
    answers = [device.post("courier/sign-in", {"badge_number": "B-1001", "pin": "0000"}) for _ in range(5)]
    right_pin_while_locked = device.post("courier/sign-in", {"badge_number": "B-1001", "pin": "4711"})

    assert [answer.status_code for answer in answers] == [403, 403, 403, 403, 429]
    assert right_pin_while_locked.status_code == 429
    assert "locked_until" in right_pin_while_locked.json()
    assert CourierCredential.objects.get(pk=courier.pk).locked_until is not None


def test_a_courier_session_is_bound_to_its_locker_and_expires(device, session, make_locker):
    import time_machine

    with time_machine.travel(timezone.now() + timedelta(minutes=16)):
        expired = device.get(f"courier/parcels?session={session}", timestamp=int(timezone.now().timestamp()))
    tampered = device.get(f"courier/parcels?session={session}x")

    assert expired.status_code == 401 and expired.json()["type"].endswith("/courier_session_invalid")
    assert tampered.status_code == 401


def test_a_deactivated_courier_stops_at_once(device, session, courier):
    CourierCredential.objects.filter(pk=courier.pk).update(is_active=False)
    assert device.get(f"courier/parcels?session={session}").status_code == 401


# --- heartbeat, commands, bundle ---------------------------------------------------------------


def test_a_heartbeat_records_door_states_and_sensors_and_delivers_commands(device, django_user_model):
    operator = django_user_model.objects.create_user("ops", password="x")
    door = device.locker.compartments.first()
    command = locker_command_queue(locker=device.locker, kind=LockerCommand.Kind.OPEN_DOOR, compartment=door,
                                   reason="Customer stuck, ticket 42", requested_by=operator)

    answer = device.post("heartbeat", {
        "firmware_version": "2.1.0",
        "doors": [{"door": door.label, "state": "open"}],
        "sensors": [{"zone": "chilled", "temperature_c": 4.5}],
        "last_event_sequence": 0,
    }).json()

    assert [row["id"] for row in answer["commands"]] == [command.pk]
    assert answer["commands"][0]["door"] == door.label
    door.refresh_from_db()
    assert door.door_state == "open"
    device.locker.refresh_from_db()
    assert device.locker.last_report["sensors"] == [{"zone": "chilled", "temperature_c": 4.5}]
    assert device.locker.last_report["doors_open"] == [door.label]
    command.refresh_from_db()
    assert command.state == LockerCommand.State.SENT

    ack = device.post(f"commands/{command.pk}/ack", {"succeeded": True, "result": "opened"})
    assert ack.json()["state"] == "acknowledged"
    assert device.post("heartbeat", {}).json()["commands"] == []


def test_each_heartbeat_is_recorded_at_its_own_time_with_what_it_reports(device, django_user_model):
    door = device.locker.compartments.first()
    device.post("heartbeat", {"firmware_version": "2.1.0", "doors": [{"door": door.label, "state": "closed"}]})
    operator = django_user_model.objects.create_user("ops", password="x")
    command = locker_command_queue(locker=device.locker, kind=LockerCommand.Kind.REFRESH_BUNDLE, compartment=None,
                                   reason="Ticket 7", requested_by=operator)
    later = timezone.now() + timedelta(minutes=3)

    with time_machine.travel(later, tick=False):
        answer = device.post("heartbeat", {"firmware_version": "2.1.1",
                                           "doors": [{"door": door.label, "state": "open"}],
                                           "sensors": [{"zone": "ambient", "temperature_c": 19.0}]})

    assert answer.status_code == 200
    device.locker.refresh_from_db()
    assert device.locker.last_heartbeat_at == later and device.locker.firmware_version == "2.1.1"
    assert device.locker.last_report["at"] == later.isoformat()
    assert device.locker.last_report["sensors"] == [{"zone": "ambient", "temperature_c": 19.0}]
    assert device.locker.last_report["doors_open"] == [door.label]
    door.refresh_from_db()
    assert (door.door_state, door.door_state_at) == ("open", later)
    assert LockerCommand.objects.get(pk=command.pk).sent_at == later


def test_a_heartbeat_delivers_waiting_commands_oldest_first_until_acknowledged(device, django_user_model):
    operator = django_user_model.objects.create_user("ops", password="x")
    first, second = (locker_command_queue(locker=device.locker, kind=LockerCommand.Kind.REFRESH_BUNDLE,
                                          compartment=None, reason=f"Ticket {n}", requested_by=operator)
                     for n in (1, 2))

    delivered = device.post("heartbeat", {}).json()["commands"]
    sent_at = dict(LockerCommand.objects.filter(pk__in=[first.pk, second.pk]).values_list("pk", "sent_at"))
    device.post(f"commands/{first.pk}/ack", {"succeeded": True})
    again = device.post("heartbeat", {}).json()["commands"]

    assert [row["id"] for row in delivered] == [first.pk, second.pk]
    assert [row["door"] for row in delivered] == [None, None]
    assert [row["id"] for row in again] == [second.pk]  # sent, not acknowledged: delivered again
    assert LockerCommand.objects.get(pk=second.pk).sent_at == sent_at[second.pk]  # sent once


def test_a_heartbeat_changes_only_the_doors_whose_state_changed(device):
    first, second, third = device.locker.compartments.order_by("pk")[:3]
    device.post("heartbeat", {"doors": [{"door": first.label, "state": "open"},
                                        {"door": second.label, "state": "closed"},
                                        {"door": third.label, "state": "closed"}]})
    seen = {door.pk: door.door_state_at for door in Compartment.objects.filter(
        pk__in=[first.pk, second.pk, third.pk])}

    with time_machine.travel(timezone.now() + timedelta(minutes=1), tick=False):
        answer = device.post("heartbeat", {"doors": [{"door": first.label, "state": "closed"},
                                                     {"door": second.label, "state": "open"},
                                                     {"door": third.label, "state": "closed"}]})

    assert answer.status_code == 200
    states_now = {door.pk: (door.door_state, door.door_state_at) for door in Compartment.objects.filter(
        pk__in=[first.pk, second.pk, third.pk])}
    assert states_now[first.pk][0] == "closed" and states_now[first.pk][1] > seen[first.pk]
    assert states_now[second.pk][0] == "open" and states_now[second.pk][1] > seen[second.pk]
    assert states_now[third.pk] == ("closed", seen[third.pk])  # reported as it was: not written
    untouched = Compartment.objects.exclude(pk__in=[first.pk, second.pk, third.pk]).filter(locker=device.locker)
    assert set(untouched.values_list("door_state", flat=True)) == {"unknown"}  # doors not reported keep theirs


def test_a_heartbeat_reporting_more_doors_than_a_locker_can_have_is_refused(device):
    doors = [{"door": f"X{number}", "state": "closed"} for number in range(MAX_COMPARTMENTS_PER_LOCKER + 1)]
    answer = device.post("heartbeat", {"doors": doors})
    assert answer.status_code == 400
    assert answer.json()["type"].endswith("/validation_error")


def test_acknowledging_an_unknown_command_or_another_lockers_is_a_404_problem(device, make_locker,
                                                                              django_user_model):
    operator = django_user_model.objects.create_user("ops", password="x")
    other = make_locker()
    theirs = locker_command_queue(locker=other, kind=LockerCommand.Kind.REFRESH_BUNDLE, compartment=None,
                                  reason="test", requested_by=operator)

    for command_id in (theirs.pk, theirs.pk + 1000, 2**70):
        answer = device.post(f"commands/{command_id}/ack", {"succeeded": True})
        assert answer.status_code == 404, answer.content
        assert answer["Content-Type"] == "application/problem+json"
        assert answer.json()["type"].endswith("/command_not_found")
    theirs.refresh_from_db()
    assert theirs.state == LockerCommand.State.QUEUED


def test_remote_open_is_rate_limited_per_locker(device):
    operator = get_user_model().objects.create_user("ops2", password="x")
    door = device.locker.compartments.first()
    for _ in range(3):
        locker_command_queue(locker=device.locker, kind="open_door", compartment=door, reason="test",
                             requested_by=operator)
    with pytest.raises(CommandRateLimited):
        locker_command_queue(locker=device.locker, kind="open_door", compartment=door, reason="test",
                             requested_by=operator)
    assert LockerCommand.objects.count() == 3


def test_the_bundle_holds_keyed_hashes_not_codes_and_changes_with_its_content(device, announce):
    parcel = deposited(announce, device)
    pin, qr_token = code_secrets(parcel.pickup_code)
    before = device.post("heartbeat", {}).json()["bundle_version"]

    bundle = device.get("bundle").json()

    assert pin not in str(bundle) and qr_token not in str(bundle)
    entry = bundle["codes"][0]
    assert entry["pin_hash"] == signing.bundle_pin_hash(bundle["key"], pin)
    assert entry["qr_hash"] == signing.bundle_qr_hash(bundle["key"], qr_token)
    assert entry["doors"] == [{"door": parcel.compartment.label, "parcel_id": parcel.pk}]
    assert bundle["version"] == before

    unchanged = device.post("heartbeat", {"bundle_version": before}).json()
    assert (unchanged["bundle_version"], unchanged["bundle_changed"]) == (before, False)

    deposited(announce, device)
    beat = device.post("heartbeat", {"bundle_version": before}).json()
    assert beat["bundle_changed"] is True and beat["bundle_version"] != before

    parcel_extend(parcel_id=parcel.pk, who=Who(Actor.OPERATOR))  # a new deadline for one code
    extended = device.post("heartbeat", {"bundle_version": beat["bundle_version"]}).json()
    assert extended["bundle_changed"] is True
    assert extended["bundle_version"] == device.get("bundle").json()["version"]


def test_events_are_stored_once_and_report_duplicates(device, announce):
    parcel = deposited(announce, device)
    batch = close_after("pickup", {"door": parcel.compartment.label, "parcel_id": parcel.pk})

    first = device.post("events", {"events": batch}).json()
    again = device.post("events", {"events": batch}).json()

    assert (first["applied"], first["duplicates"]) == (2, 0)
    assert (again["applied"], again["duplicates"]) == (0, 2)
    assert ParcelEvent.objects.filter(parcel=parcel, type="pick_up").count() == 1


def test_an_event_for_a_door_or_parcel_not_in_this_locker_is_rejected(device, announce, make_locker):
    other = make_locker("s m", serial="SN-OTHER")
    parcel = announce(reserve=False)
    from parcels.services import deposit_door_assign, parcel_deposit

    deposit_door_assign(parcel_id=parcel.pk, locker=other, who=Who(Actor.COURIER))
    parcel_deposit(parcel_id=parcel.pk, who=Who(Actor.COURIER))

    result = device.post("events", {"events": [
        event("door_closed", "A1", purpose="pickup", parcel_id=parcel.pk),
        event("door_opened", "Z9"),
    ]}).json()

    assert result["rejected"] == 2
    parcel.refresh_from_db()
    assert parcel.status == ParcelStatus.READY_FOR_PICKUP


@pytest.mark.parametrize("purpose", ["pickup", "deposit"])
def test_a_parcel_step_closed_behind_another_door_than_the_parcels_is_rejected(device, announce, purpose):
    if purpose == "pickup":
        parcel = deposited(announce, device)
    else:  # a parcel with its door assigned, not yet deposited
        parcel = announce(reserve=False)
        from parcels.services import deposit_door_assign

        deposit_door_assign(parcel_id=parcel.pk, locker=device.locker, who=Who(Actor.COURIER))
        parcel.refresh_from_db()
    status_before = parcel.status
    held = parcel.compartment.label
    elsewhere = device.locker.compartments.exclude(label=held).first().label

    result = device.post("events", {"events": [event("door_closed", elsewhere, purpose=purpose,
                                                     parcel_id=parcel.pk)]}).json()

    assert (result["rejected"], result["applied"]) == (1, 0)
    stored = DeviceEvent.objects.get(locker=device.locker)
    assert stored.outcome == "rejected"
    assert stored.note == f"Parcel {parcel.pk} is held behind door {held}, not {elsewhere}."
    parcel.refresh_from_db()
    assert (parcel.status, parcel.compartment.label) == (status_before, held)


def test_occurred_at_reaches_the_parcel_timeline(device, announce):
    parcel = deposited(announce, device)
    when = datetime(2026, 11, 23, 8, 30, tzinfo=UTC)
    if when < parcel.deposited_at:
        when = parcel.deposited_at + timedelta(minutes=5)
    device.post("events", {"events": [event("door_closed", parcel.compartment.label, purpose="pickup",
                                            parcel_id=parcel.pk, at=when)]})
    parcel.refresh_from_db()
    assert parcel.picked_up_at == when
    assert ParcelEvent.objects.get(parcel=parcel, type="pick_up").occurred_at == when


def test_a_signed_body_that_is_not_gzip_is_a_problem_not_a_crash(device):
    garbage = b"not gzip at all"
    path = "/api/device/v1/events"
    headers = signing.signed_headers(serial=device.locker.serial_number, secret=device.secret, method="POST",
                                     path=path, body=garbage, timestamp=int(time.time()))
    answer = device.client.generic("POST", path, garbage, content_type="application/json",
                                   headers=headers | {"Content-Encoding": "gzip"})
    assert answer.status_code == 400
    assert answer.json()["type"].endswith("/parse_error")


def test_a_gzip_body_is_accepted(device, announce):
    parcel = deposited(announce, device)
    answer = device.post("events", {"events": close_after("pickup", {"door": parcel.compartment.label,
                                                                     "parcel_id": parcel.pk})}, gzipped=True)
    assert answer.status_code == 200 and answer.json()["applied"] == 2


def test_any_device_request_may_be_gzip_compressed(device, announce):
    parcel = states.ready(announce)
    pin, _ = code_secrets(parcel.pickup_code)
    answer = device.post("codes/pickup", {"pin": pin}, gzipped=True)
    assert answer.status_code == 200 and answer.json()["doors"][0]["parcel_id"] == parcel.pk


def _signed_raw(device, path: str, body: bytes, content_type: str):
    full = "/api/device/v1/" + path
    headers = signing.signed_headers(serial=device.locker.serial_number, secret=device.secret, method="POST",
                                     path=full, body=body, timestamp=int(time.time()))
    return device.client.generic("POST", full, body, content_type=content_type, headers=headers)


@pytest.mark.parametrize("body", [b'{"pin": NaN}', b'{"pin": "1234"', b'{"pin": "\xe9"}'])  # NaN, cut, not UTF-8
def test_a_body_that_is_not_json_is_a_parse_problem_and_uses_nothing(device, announce, body):
    parcel = states.ready(announce)
    answer = _signed_raw(device, "codes/pickup", body, "application/json")
    assert answer.status_code == 400 and answer.json()["type"].endswith("/parse_error")
    assert PickupCode.objects.get(pk=parcel.pickup_code_id).state == PickupCode.State.LIVE


def test_a_device_body_that_is_not_json_is_an_unsupported_media_type(device):
    answer = _signed_raw(device, "codes/pickup", b"pin=1234", "application/x-www-form-urlencoded")
    assert answer.status_code == 415 and answer["Content-Type"].startswith("application/problem+json")


def test_a_json_content_type_with_a_charset_is_read_as_json(device, announce):
    parcel = states.ready(announce)
    pin, _ = code_secrets(parcel.pickup_code)
    answer = _signed_raw(device, "codes/pickup", json.dumps({"pin": pin}).encode(), "application/json; charset=utf-8")
    assert answer.status_code == 200 and answer.json()["doors"][0]["parcel_id"] == parcel.pk


@pytest.mark.parametrize("field", ["sequence", "parcel_id"])
def test_an_event_number_too_large_for_a_bigint_is_a_validation_problem_not_a_crash(device, field):
    bad = event("door_closed", "A1", purpose="pickup", parcel_id=1) | {field: 2**70}

    answer = device.post("events", {"events": [bad]})

    assert answer.status_code == 400, answer.content
    assert answer["Content-Type"] == "application/problem+json"
    assert not DeviceEvent.objects.exists()


def test_courier_and_heartbeat_numbers_too_large_for_a_bigint_are_validation_problems(device):
    for path, body in [("courier/collect", {"session": "x", "parcel_id": 2**70}),
                       ("courier/door-problem", {"session": "x", "parcel_id": 2**70, "problem": "broken"}),
                       ("heartbeat", {"last_event_sequence": 2**70})]:
        answer = device.post(path, body)
        assert answer.status_code == 400, (path, answer.content)


def test_a_late_offline_pickup_of_a_parcel_expired_meanwhile_is_recorded_at_its_own_time(device, announce):
    parcel = deposited(announce, device)
    before_deadline = parcel.pickup_deadline - timedelta(minutes=5)
    parcels_expire_due(now=parcel.pickup_deadline + timedelta(seconds=1))

    result = device.post("events", {"events": [event("door_closed", parcel.compartment.label, purpose="pickup",
                                                     parcel_id=parcel.pk, at=before_deadline, offline=True)]})

    assert result.json()["applied"] == 1
    parcel.refresh_from_db()
    assert (parcel.status, parcel.picked_up_at, parcel.compartment_id) == ("picked_up", before_deadline, None)


def test_an_offline_pickup_reported_after_the_deadline_it_happened_after_is_ignored(device, announce):
    parcel = deposited(announce, device)
    parcels_expire_due(now=parcel.pickup_deadline + timedelta(seconds=1))

    result = device.post("events", {"events": [event("door_closed", parcel.compartment.label, purpose="pickup",
                                                     parcel_id=parcel.pk, at=parcel.pickup_deadline + timedelta(
                                                         minutes=1), offline=True)]})

    assert result.json()["ignored"] == 1
    stored = DeviceEvent.objects.get(locker=device.locker)
    assert (stored.outcome, "expired" in stored.note) == ("ignored", True)


def test_the_device_and_carrier_apis_share_one_validation_helper():
    import carriers.api.views
    import lockers.device.views
    from lockers_site.api_helpers import validated

    assert lockers.device.views.validated is validated
    assert carriers.api.views.validated is validated
    assert not hasattr(lockers.device.views, "_valid") and not hasattr(carriers.api.views, "_valid")


def test_a_reused_serializer_checks_each_request_on_its_own():
    from rest_framework.exceptions import ValidationError

    from lockers.device.serializers import HeartbeatIn
    from lockers_site.api_helpers import validated

    first = validated(HeartbeatIn, {"firmware_version": "1.0", "doors": [{"door": "A1", "state": "open"}]})
    with pytest.raises(ValidationError) as refused:
        validated(HeartbeatIn, {"firmware_version": "x" * 41})
    second = validated(HeartbeatIn, {})

    assert first["firmware_version"] == "1.0" and first["doors"] == {"A1": "open"}  # not changed by later checks
    assert set(refused.value.detail) == {"firmware_version"}  # no error left over from the first
    assert (second["firmware_version"], second["doors"], second["sensors"]) == ("", {}, [])


def test_threads_checking_at_once_each_get_their_own_answer():
    from concurrent.futures import ThreadPoolExecutor

    from lockers.device.serializers import HeartbeatIn
    from lockers_site.api_helpers import validated

    def check(number: int) -> tuple[str, str]:
        data = validated(HeartbeatIn, {"firmware_version": f"v{number}", "doors": [{"door": f"A{number}",
                                                                                     "state": "closed"}]})
        return data["firmware_version"], next(iter(data["doors"]))

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(check, range(400)))

    assert answers == [(f"v{number}", f"A{number}") for number in range(400)]


@pytest.mark.parametrize(("report", "error"), [
    ({"doors": [{"door": "A1", "state": "ajar"}]},
     {"doors": {"0": {"state": ['"ajar" is not a valid choice: open or closed.']}}}),
    ({"doors": [{"door": "A1", "state": "open"}, {"door": "X" * 13, "state": "open"}]},
     {"doors": {"1": {"door": ["Ensure this field has no more than 12 characters."]}}}),
    ({"doors": [{"state": "open"}]}, {"doors": {"0": {"door": ["A door label is required."]}}}),
    ({"doors": [{"door": "A\u0000", "state": "open"}]},
     {"doors": {"0": {"door": ["A door label is printable text."]}}}),
    ({"doors": [{"door": "A\ud800", "state": "closed"}]},
     {"doors": {"0": {"door": ["A door label is printable text."]}}}),
    ({"doors": {"A1": "open"}}, {"doors": ["Expected a list of objects."]}),
    ({"doors": ["A1"]}, {"doors": ["Expected a list of objects."]}),
    ({"sensors": [{"zone": ["ambient"], "temperature_c": 4}]},
     {"sensors": {"0": {"zone": ['"[\'ambient\']" is not a valid choice: ambient, chilled, frozen.']}}}),
    ({"sensors": [{"zone": "chilled", "temperature_c": 81}]},
     {"sensors": {"0": {"temperature_c": ["A number from -60 to 80 is required."]}}}),
    ({"sensors": [{"zone": "chilled", "temperature_c": True}]},
     {"sensors": {"0": {"temperature_c": ["A number from -60 to 80 is required."]}}}),
    ({"sensors": [{"zone": "chilled", "temperature_c": "4.5"}]},
     {"sensors": {"0": {"temperature_c": ["A number from -60 to 80 is required."]}}}),
])
def test_a_heartbeat_with_a_bad_door_or_sensor_row_is_refused_naming_the_row_and_records_nothing(device, report,
                                                                                                 error):
    answer = device.post("heartbeat", {"firmware_version": "9.9", **report})

    assert answer.status_code == 400
    assert answer.json()["type"].endswith("/validation_error")
    assert answer.json()["errors"] == error
    device.locker.refresh_from_db()
    assert (device.locker.last_heartbeat_at, device.locker.firmware_version) == (None, "")
    assert set(Compartment.objects.filter(locker=device.locker).values_list("door_state", flat=True)) == {"unknown"}


def test_the_published_schema_describes_a_heartbeats_doors_and_sensors(client):
    schema = client.get("/api/schema/", {"format": "json"}).json()
    heartbeat = schema["components"]["schemas"]["HeartbeatInRequest"]["properties"]
    door = heartbeat["doors"]["items"]["properties"]
    assert door["state"]["enum"] == ["open", "closed"] and door["door"]["maxLength"] == 12
    assert heartbeat["doors"]["maxItems"] == MAX_COMPARTMENTS_PER_LOCKER
    assert heartbeat["sensors"]["items"]["properties"]["zone"]["enum"] == ["ambient", "chilled", "frozen"]


def test_the_highest_stored_sequence_is_answered_to_event_batches_and_heartbeats(device):
    assert device.post("heartbeat", {}).json()["last_event_sequence"] is None  # nothing stored yet

    late, early = event("door_opened", "A1"), event("door_closed", "A1")
    late["sequence"], early["sequence"] = 41, 7
    assert device.post("events", {"events": [late, early]}).json()["last_sequence"] == 41
    assert device.post("heartbeat", {}).json()["last_event_sequence"] == 41

    # A batch of older events (a locker resending its backlog) and a replayed one lower nothing.
    older = event("door_opened", "A1")
    older["sequence"] = 12
    assert device.post("events", {"events": [older, late]}).json()["last_sequence"] == 41
    assert device.post("heartbeat", {}).json()["last_event_sequence"] == 41


def test_a_heartbeat_answers_the_stored_sequence_even_from_a_stale_locker_object(device):
    from lockers.device.heartbeat import HeartbeatIn, device_heartbeat_record
    from lockers.models import DeviceCredential, Locker

    stale = Locker.objects.get(pk=device.locker.pk)  # as a per-process cache would hold it
    batch = event("door_opened", "A1")
    batch["sequence"] = 41
    device.post("events", {"events": [batch]})

    answer = device_heartbeat_record(locker=stale, credential=DeviceCredential.objects.get(locker=stale),
                                     report=HeartbeatIn())

    assert stale.last_event_sequence is None
    assert answer.last_event_sequence == 41


def test_a_heartbeat_of_a_locker_deleted_meanwhile_is_refused_and_writes_nothing(device):
    from lockers.device.errors import LockerDecommissioned
    from lockers.device.heartbeat import HeartbeatIn, device_heartbeat_record
    from lockers.models import DeviceCredential, Locker

    credential = DeviceCredential.objects.get(locker=device.locker)
    gone = Locker(pk=device.locker.pk + 1000, site_id=device.locker.site_id, serial_number="SN-GONE")

    with pytest.raises(LockerDecommissioned):
        device_heartbeat_record(locker=gone, credential=credential,
                                report=HeartbeatIn(doors={"A1": "open"}, firmware_version="9.9"))

    assert not Compartment.objects.filter(door_state="open").exists()


def test_the_migration_fills_each_lockers_highest_sequence_from_its_stored_events(device, make_locker):
    from importlib import import_module

    from django.apps import apps

    from lockers.models import Locker

    other = make_locker("s", serial="SN-QUIET")
    for sequence in (3, 9, 5):
        DeviceEvent.objects.create(locker=device.locker, event_id=uuid.uuid4(), sequence=sequence,
                                   occurred_at=timezone.now(), received_at=timezone.now(), type="door_opened",
                                   payload={})
    Locker.objects.update(last_event_sequence=None)

    import_module("lockers.migrations.0006_locker_last_event_sequence").last_sequences_fill(apps, None)

    assert Locker.objects.get(pk=device.locker.pk).last_event_sequence == 9
    assert Locker.objects.get(pk=other.pk).last_event_sequence is None


def test_the_migration_moves_each_credentials_last_report_to_its_locker(transactional_db):
    from django.core.management import call_command
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    before, after = [("lockers", "0006_locker_last_event_sequence")], [("lockers", "0007_last_report_on_locker")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    try:
        old = executor.loader.project_state(before).apps
        site = old.get_model("lockers", "Site").objects.create(
            code="mig", name="Migration Site", address_line="1 Way", city="Minneapolis", postal_code="55401",
            latitude="44.97", longitude="-93.27")
        lockers = old.get_model("lockers", "Locker").objects
        reporting, quiet = (lockers.create(site=site, serial_number=serial, name=name)
                            for serial, name in (("SN-MIG", "A"), ("SN-NONE", "B")))
        old.get_model("lockers", "DeviceCredential").objects.create(locker=reporting, last_report={"at": "2026-11-24"})

        executor = MigrationExecutor(connection)
        executor.migrate(after)
        moved = executor.loader.project_state(after).apps.get_model("lockers", "Locker").objects

        assert moved.get(pk=reporting.pk).last_report == {"at": "2026-11-24"}
        assert moved.get(pk=quiet.pk).last_report == {}

        executor = MigrationExecutor(connection)
        executor.migrate(before)  # and back: the report returns to the credential
        credentials = executor.loader.project_state(before).apps.get_model("lockers", "DeviceCredential").objects
        assert credentials.get(locker_id=reporting.pk).last_report == {"at": "2026-11-24"}
    finally:
        call_command("migrate", verbosity=0)  # the schema the other tests expect


def test_a_command_acknowledged_while_still_queued_counts_as_delivered(device, django_user_model):
    # A heartbeat's commit does not wait for the disk: after a database crash the command it
    # delivered may still read queued when the locker acknowledges it.
    operator = django_user_model.objects.create_user("ops", password="x")
    command = locker_command_queue(locker=device.locker, kind=LockerCommand.Kind.OPEN_DOOR,
                                   compartment=device.locker.compartments.first(), reason="Ticket 7",
                                   requested_by=operator)

    answer = device.post(f"commands/{command.pk}/ack", {"succeeded": True, "result": "opened"})

    assert answer.json()["state"] == "acknowledged"
    command.refresh_from_db()
    assert command.sent_at is not None and command.sent_at == command.acknowledged_at
