"""Heartbeat: the locker says it is alive and what it sees; the server answers with what it must do."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.utils import timezone

from lockers.models import Compartment, DeviceCredential, Locker, LockerCommand
from lockers.services import locker_record_heartbeat
from lockers_site import rows

from .bundle import bundle_version
from .commands import locker_commands_deliver


@dataclass(frozen=True)
class HeartbeatIn:
    firmware_version: str = ""
    doors: dict[str, str] = field(default_factory=dict)  # door label -> open / closed
    sensors: list[dict[str, Any]] = field(default_factory=list)
    last_event_sequence: int | None = None
    bundle_version: str = ""


@dataclass(frozen=True)
class HeartbeatOut:
    commands: list[LockerCommand]
    bundle_version: str
    bundle_changed: bool
    rotate_secret: bool
    last_event_sequence: int | None


@functools.lru_cache(maxsize=256)
def _doors_sql(reported: int, opened: int) -> str:
    state, state_at, locker, label = (rows.column(Compartment, name)
                                      for name in ("door_state", "door_state_at", "locker", "label"))
    is_open = f"{label} IN ({rows.placeholders(opened)})" if opened else "1 = 0"
    now_state = f"CASE WHEN {is_open} THEN %s ELSE %s END"
    return (f"UPDATE {rows.table_name(Compartment)} SET {state} = {now_state}, {state_at} = %s "
            f"WHERE {locker} = %s AND {label} IN ({rows.placeholders(reported)}) AND {state} <> {now_state}")


def _doors_record(locker: Locker, doors: dict[str, str], opened: list[str]) -> None:
    """Store the reported door states in one statement, touching only the doors whose state changed.

    `opened` are the labels of `doors` reported open. Written out like the other
    per-heartbeat statements (`lockers_site.rows`): the ORM's CASE expression cost about
    a quarter of a heartbeat's CPU. A door not reported open is closed: the serializer
    admits only the two states.
    """
    if not doors:
        return
    unknown = set(doors.values()) - {Compartment.DoorState.OPEN, Compartment.DoorState.CLOSED}
    if unknown:
        raise ValueError(f"Door states are open or closed, not {sorted(unknown)}.")
    now_state = [*opened, Compartment.DoorState.OPEN, Compartment.DoorState.CLOSED]
    (state_at,) = rows.adapted(Compartment, {"door_state_at": timezone.now()})
    params = [*now_state, state_at, locker.pk, *doors, *now_state]
    rows.write(_doors_sql(len(doors), len(opened)), params, prepare=False)  # its text varies with the doors


def _report_record(locker: Locker, report: HeartbeatIn) -> None:
    opened = sorted(label for label, state in report.doors.items() if state == Compartment.DoorState.OPEN)
    last_report = {
        "at": timezone.now().isoformat(),
        "firmware_version": report.firmware_version,
        "sensors": report.sensors,
        "doors_open": opened,
        "last_event_sequence": report.last_event_sequence,
    }
    locker_record_heartbeat(locker=locker, firmware_version=report.firmware_version or None, report=last_report)
    _doors_record(locker, report.doors, opened)


def device_heartbeat_record(*, locker: Locker, credential: DeviceCredential, report: HeartbeatIn) -> HeartbeatOut:
    """Record that the locker is alive with its firmware, door states and sensor readings.

    Returns the commands it has not acknowledged (queued ones become sent), the
    current offline-bundle version and whether it differs from the locker's, whether
    the operator asked for a secret rotation, and the last event sequence stored.
    One transaction, so a heartbeat costs one commit.
    """
    with transaction.atomic():
        _report_record(locker, report)
        commands = locker_commands_deliver(locker=locker)
    version = bundle_version(locker)
    return HeartbeatOut(
        commands=commands,
        bundle_version=version,
        bundle_changed=version != report.bundle_version,
        rotate_secret=credential.rotation_requested_at is not None,
        last_event_sequence=locker.last_event_sequence,  # kept by the event batches
    )
