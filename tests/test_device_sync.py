"""Offline sync: a day's events, duplicated and shuffled, uploaded twice, give the state of one ordered pass."""

from __future__ import annotations

import random
import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from lockers.device.events import EventIn, device_events_record
from lockers.models import Compartment, DeviceEvent
from parcels.lifecycle import Who
from parcels.models import Actor, Parcel, ParcelEvent
from parcels.services import Recipient, deposit_door_assign, parcel_deposit
from tests.device_support import SignedClient

pytest_plugins = ["tests.device_support"]

DAY_START = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
LAYOUT = "\n".join(["s s s s s s s s"] * 5)  # 40 small doors
TOTAL = 10_000
DUPLICATES = 2_000


def _fill(locker, announce) -> dict[str, Parcel]:
    """One parcel deposited behind every door, each for another recipient; returns them by door label."""
    by_door = {}
    for index in range(locker.compartments.count()):
        parcel = announce(recipient=Recipient(name=f"R {index}", email=f"r{index}.{locker.pk}@example.com"))
        door = deposit_door_assign(parcel_id=parcel.pk, locker=locker, who=Who(Actor.COURIER, "c"))
        by_door[door.label] = parcel_deposit(parcel_id=parcel.pk, who=Who(Actor.COURIER, "c"))
    return by_door


def _day_of_events(labels: list[str], rng: random.Random) -> list[dict]:
    """A template day: pickups behind 30 doors (10 reported twice), and door and sensor noise up to the total.

    Parcels are named by door label here and bound to each locker's own parcels later.
    """
    rows: list[dict] = []

    def add(kind: str, at: datetime, door: str = "", purpose: str = "", data: dict | None = None) -> None:
        rows.append({"event_id": uuid.uuid4(), "occurred_at": at, "type": kind, "door": door, "purpose": purpose,
                     "data": data or {}})

    for index, label in enumerate(labels[:30]):
        at = DAY_START + timedelta(minutes=20 * index + 7)
        add("door_opened", at, label)
        add("door_closed", at + timedelta(seconds=9), label, "pickup", {"offline": True})
        if index % 3 == 0:  # the locker lost its own record and reported the same pickup again later
            add("door_closed", at + timedelta(hours=2), label, "pickup", {"offline": True})
    while len(rows) < TOTAL - DUPLICATES:
        at = DAY_START + timedelta(seconds=rng.randrange(24 * 3600))
        if rng.random() < 0.2:
            add("sensor", at, data={"zone": "ambient", "temperature_c": round(rng.uniform(15, 25), 1)})
        else:
            add(rng.choice(["door_opened", "door_closed"]), at, rng.choice(labels))
    rows.sort(key=lambda row: row["occurred_at"])
    for sequence, row in enumerate(rows, start=1):
        row["sequence"] = sequence
    return rows


def _bind(template: list[dict], parcels: dict[str, Parcel]) -> list[dict]:
    return [
        {**row, "event_id": str(row["event_id"]), "occurred_at": row["occurred_at"].isoformat(),
         "parcel_id": parcels[row["door"]].pk if row["purpose"] else None}
        for row in template
    ]


def _snapshot(locker, parcels: dict[str, Parcel]) -> dict:
    timeline = {
        label: [(event.type, event.from_status, event.to_status, event.occurred_at)
                for event in ParcelEvent.objects.filter(parcel=parcel).order_by("occurred_at", "id")]
        for label, parcel in parcels.items()
    }
    fresh = {parcel.pk: parcel for parcel in Parcel.objects.filter(pk__in=[p.pk for p in parcels.values()])}
    return {
        "parcels": {label: (fresh[p.pk].status, fresh[p.pk].picked_up_at, fresh[p.pk].compartment_id is None)
                    for label, p in parcels.items()},
        "timelines": timeline,
        "doors": sorted(Compartment.objects.filter(locker=locker).values_list("label", "door_state", "door_state_at")),
        "events": sorted(DeviceEvent.objects.filter(locker=locker).values_list("event_id", "outcome", "note")),
    }


@pytest.mark.django_db(transaction=False)
def test_a_duplicated_shuffled_day_uploaded_twice_equals_one_ordered_pass(client, make_locker, announce):
    from lockers.device.credentials import device_provisioning_exchange, device_provisioning_issue

    with time_machine.travel(DAY_START - timedelta(hours=1), tick=False):
        ordered_locker, shuffled_locker = make_locker(LAYOUT, serial="SN-ORDER"), make_locker(LAYOUT, serial="SN-SHUF")
        ordered_parcels, shuffled_parcels = _fill(ordered_locker, announce), _fill(shuffled_locker, announce)
    rng = random.Random(20261120)
    template = _day_of_events(sorted(ordered_parcels), rng)

    with time_machine.travel(DAY_START + timedelta(hours=25), tick=True):
        ordered = [EventIn(**{**row, "event_id": uuid.UUID(row["event_id"]),
                              "occurred_at": datetime.fromisoformat(row["occurred_at"])})
                   for row in _bind(template, ordered_parcels)]
        device_events_record(locker=ordered_locker, events=ordered)

        secret = device_provisioning_exchange(serial_number="SN-SHUF",
                                              token=device_provisioning_issue(locker=shuffled_locker))
        device = SignedClient(client, shuffled_locker, secret)
        batch = _bind(template, shuffled_parcels)
        batch += rng.sample(batch, DUPLICATES)
        rng.shuffle(batch)
        assert len(batch) == TOTAL
        started = time.monotonic()
        first = device.post("events", {"events": batch}, gzipped=True)
        second = device.post("events", {"events": batch}, gzipped=True)
        elapsed = time.monotonic() - started

    assert first.status_code == 200, first.content
    assert first.json()["duplicates"] == DUPLICATES
    assert second.json()["duplicates"] == TOTAL and second.json()["applied"] == 0
    assert first.json()["ignored"] == 10  # the pickups reported twice
    assert _snapshot(shuffled_locker, shuffled_parcels) == _snapshot(ordered_locker, ordered_parcels)
    assert elapsed < 60, f"two uploads of {TOTAL} events took {elapsed:.1f} s"
