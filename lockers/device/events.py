"""Door events and offline sync: store each event once, apply them in the order they happened.

Every event carries the locker's own id (a UUID), sequence number and time of
occurrence. The unique (locker, event_id) constraint makes a re-sent event a no-op;
new events of a batch are applied in (occurred_at, sequence) order whatever the
upload order, passing occurred_at through to the parcel services. An event whose
transition is no longer allowed (already applied, or overtaken) is kept as
`ignored`, not an error: a locker that re-sends after a lost answer must not fail.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.core.exceptions import ObjectDoesNotExist
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from lockers.models import Compartment, DeviceEvent, Locker
from parcels import services as parcel_services
from parcels.errors import ParcelError
from parcels.lifecycle import Who
from parcels.models import Actor, Parcel

# A busy locker's day offline fits in one upload (the body may be gzip-compressed).
MAX_EVENTS_PER_BATCH = 10_000
CHUNK = 1000


class EventType:
    DOOR_OPENED = "door_opened"
    DOOR_CLOSED = "door_closed"
    SENSOR = "sensor"
    ALL = (DOOR_OPENED, DOOR_CLOSED, SENSOR)


class Purpose:
    """What a door closing completes; each names the parcel service it applies."""

    PICKUP = "pickup"
    DEPOSIT = "deposit"
    COLLECT = "collect"
    DROP_OFF = "drop_off"
    ALL = (PICKUP, DEPOSIT, COLLECT, DROP_OFF)


@dataclass(frozen=True)
class EventIn:
    event_id: uuid.UUID
    sequence: int
    occurred_at: datetime
    type: str
    door: str = ""
    purpose: str = ""
    parcel_id: int | None = None
    data: dict[str, Any] = field(default_factory=dict)

    def payload(self) -> dict[str, Any]:
        return {"door": self.door, "purpose": self.purpose, "parcel_id": self.parcel_id, "data": self.data}


@dataclass
class SyncResult:
    received: int = 0
    duplicates: int = 0
    outcomes: Counter = field(default_factory=Counter)
    last_sequence: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "received": self.received,
            "duplicates": self.duplicates,
            "applied": self.outcomes[DeviceEvent.Outcome.APPLIED],
            "ignored": self.outcomes[DeviceEvent.Outcome.IGNORED],
            "rejected": self.outcomes[DeviceEvent.Outcome.REJECTED],
            "last_sequence": self.last_sequence,
        }


def _chunks(items: list[Any], size: int = CHUNK) -> Iterable[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _store_new(locker: Locker, events: list[EventIn], now: datetime) -> list[DeviceEvent]:
    """Insert the events this locker has not sent before; return them in the order to apply them.

    Call under the lock on the locker's row: then the rows inserted are exactly the
    new ones (ignore_conflicts stays as the database's guard against a duplicate).
    """
    unique = list({event.event_id: event for event in reversed(events)}.values())  # first copy of an id wins
    known: set[uuid.UUID] = set()
    for ids in _chunks([event.event_id for event in unique]):
        known.update(DeviceEvent.objects.filter(locker=locker, event_id__in=ids).values_list("event_id", flat=True))
    rows = [
        DeviceEvent(locker=locker, event_id=event.event_id, sequence=event.sequence, occurred_at=event.occurred_at,
                    type=event.type, payload=event.payload(), received_at=now)
        for event in unique
        if event.event_id not in known
    ]
    DeviceEvent.objects.bulk_create(rows, batch_size=CHUNK, ignore_conflicts=True)
    return sorted(rows, key=lambda row: (row.occurred_at, row.sequence, str(row.event_id)))


class _Applier:
    """Applies one locker's new events in order, collecting door states to write once per door."""

    def __init__(self, locker: Locker, events: list[DeviceEvent]) -> None:
        self.locker = locker
        self.doors = {door.label: door for door in Compartment.objects.filter(locker=locker)}
        parcel_ids = {event.payload.get("parcel_id") for event in events} - {None}
        # parcel id -> (site id, locker id of the door it holds, that door's label)
        self.parcels: dict[int, tuple[int, int | None, str | None]] = {}
        for ids in _chunks(sorted(parcel_ids)):
            self.parcels.update(
                (pk, (site_id, door_locker_id, door_label))
                for pk, site_id, door_locker_id, door_label in Parcel.objects.filter(pk__in=ids).values_list(
                    "pk", "site_id", "compartment__locker_id", "compartment__label"
                )
            )
        self.latest_state: dict[str, tuple[datetime, str]] = {}
        self.services: dict[str, Callable[..., Parcel]] = {
            Purpose.PICKUP: parcel_services.parcel_pick_up,
            Purpose.DEPOSIT: parcel_services.parcel_deposit,
            Purpose.COLLECT: parcel_services.parcel_collect,
            Purpose.DROP_OFF: parcel_services.parcel_drop_off,
        }

    def apply(self, event: DeviceEvent) -> tuple[str, str]:
        """Apply one event; returns its (outcome, note)."""
        if event.type == EventType.SENSOR:
            return DeviceEvent.Outcome.APPLIED, ""
        label = event.payload.get("door") or ""
        door = self.doors.get(label)
        if door is None:
            return DeviceEvent.Outcome.REJECTED, f"No door {label!r} in this locker."
        if event.payload.get("purpose") and event.type == EventType.DOOR_CLOSED:
            outcome = self._apply_parcel_step(event)
            if outcome[0] == DeviceEvent.Outcome.REJECTED:
                return outcome
        else:
            outcome = (DeviceEvent.Outcome.APPLIED, "")
        self._note_door_state(door, event)
        return outcome

    def _note_door_state(self, door: Compartment, event: DeviceEvent) -> None:
        state = Compartment.DoorState.OPEN if event.type == EventType.DOOR_OPENED else Compartment.DoorState.CLOSED
        if door.door_state_at is None or event.occurred_at > door.door_state_at:
            self.latest_state[door.label] = (event.occurred_at, state)

    def _apply_parcel_step(self, event: DeviceEvent) -> tuple[str, str]:
        parcel_id = event.payload.get("parcel_id")
        site_and_locker = self.parcels.get(parcel_id)
        if site_and_locker is None:
            return DeviceEvent.Outcome.REJECTED, f"Unknown parcel {parcel_id}."
        site_id, door_locker_id, door_label = site_and_locker
        if site_id != self.locker.site_id or door_locker_id not in (None, self.locker.pk):
            return DeviceEvent.Outcome.REJECTED, f"Parcel {parcel_id} is not held in this locker."
        label = event.payload.get("door") or ""
        if door_label is not None and door_label != label:
            return DeviceEvent.Outcome.REJECTED, f"Parcel {parcel_id} is held behind door {door_label}, not {label}."
        purpose = event.payload["purpose"]
        who = _who_for(purpose, self.locker, event.payload.get("data") or {})
        try:
            self.services[purpose](parcel_id=parcel_id, who=who, occurred_at=event.occurred_at)
        except (ParcelError, ObjectDoesNotExist) as refusal:
            return DeviceEvent.Outcome.IGNORED, str(refusal)[:200]
        return DeviceEvent.Outcome.APPLIED, ""

    def write_door_states(self) -> None:
        for label, (when, state) in self.latest_state.items():
            Compartment.objects.filter(
                Q(door_state_at__isnull=True) | Q(door_state_at__lt=when), pk=self.doors[label].pk
            ).update(door_state=state, door_state_at=when)


def _who_for(purpose: str, locker: Locker, data: dict[str, Any]) -> Who:
    offline = " (offline)" if data.get("offline") else ""
    if purpose in (Purpose.DEPOSIT, Purpose.COLLECT):
        courier = " ".join(["courier", str(data.get("badge_number", ""))[:40]]).strip()
        return Who(Actor.COURIER, f"{courier} at {locker.serial_number}{offline}")
    return Who(Actor.RECIPIENT, f"keypad of {locker.serial_number}{offline}")


def _write_outcomes(locker: Locker, rows: list[DeviceEvent], results: list[tuple[str, str]], now: datetime) -> Counter:
    # One UPDATE per (outcome, note) and chunk: nearly every event of a day shares "applied".
    groups: dict[tuple[str, str], list[uuid.UUID]] = {}
    for row, result in zip(rows, results, strict=True):
        groups.setdefault(result, []).append(row.event_id)
    for (outcome, note), event_ids in groups.items():
        applied_at = now if outcome == DeviceEvent.Outcome.APPLIED else None
        for chunk in _chunks(event_ids):
            DeviceEvent.objects.filter(locker=locker, event_id__in=chunk).update(
                outcome=outcome, note=note, applied_at=applied_at
            )
    return Counter(outcome for outcome, _ in results)


def device_events_record(*, locker: Locker, events: list[EventIn]) -> SyncResult:
    """Store a batch of a locker's events once each and apply the new ones in order of occurrence.

    Guarantees: an event id already stored for this locker changes nothing; new events
    are applied in (occurred_at, sequence) order; door states only move forward in
    time; a parcel step no longer allowed is recorded as ignored, an event naming an
    unknown door, a parcel not held here or held behind another door as rejected. Batches of one locker are
    serialised by a lock on its row. Raises ValueError for more than MAX_EVENTS_PER_BATCH.
    """
    if len(events) > MAX_EVENTS_PER_BATCH:
        raise ValueError(f"At most {MAX_EVENTS_PER_BATCH} events per batch.")
    now = timezone.now()
    with transaction.atomic():
        (stored_last,) = Locker.objects.select_for_update().filter(pk=locker.pk).values_list(
            "last_event_sequence", flat=True
        )
        rows = _store_new(locker, events, now)
        applier = _Applier(locker, rows)
        results = [applier.apply(row) for row in rows]
        applier.write_door_states()
        outcomes = _write_outcomes(locker, rows, results, now)
        last = _last_sequence_keep(locker, stored_last, rows)
    return SyncResult(received=len(events), duplicates=len(events) - len(rows), outcomes=outcomes,
                      last_sequence=last)


def _last_sequence_keep(locker: Locker, stored_last: int | None, new: list[DeviceEvent]) -> int | None:
    """Raise the locker's highest stored sequence to the new events'; returns it. Call under the row lock."""
    highest = max((row.sequence for row in new), default=None)
    if highest is None or (stored_last is not None and highest <= stored_last):
        return stored_last
    Locker.objects.filter(pk=locker.pk).update(last_event_sequence=highest)
    return highest
