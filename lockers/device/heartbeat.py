"""Heartbeat: the locker says it is alive and what it sees; the server answers with what it must do."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db.models import Max
from django.utils import timezone

from lockers.models import Compartment, DeviceCredential, DeviceEvent, Locker, LockerCommand
from lockers.services import locker_record_heartbeat

from .auth import device_nonces_purge
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


def _doors_record(locker: Locker, doors: dict[str, str]) -> None:
    now = timezone.now()
    for state in (Compartment.DoorState.OPEN, Compartment.DoorState.CLOSED):
        labels = [label for label, reported in doors.items() if reported == state]
        if labels:
            Compartment.objects.filter(locker=locker, label__in=labels).exclude(door_state=state).update(
                door_state=state, door_state_at=now
            )


def device_heartbeat_record(*, locker: Locker, credential: DeviceCredential, report: HeartbeatIn) -> HeartbeatOut:
    """Record that the locker is alive with its firmware, door states and sensor readings.

    Returns the commands it has not acknowledged (queued ones become sent), the
    current offline-bundle version and whether it differs from the locker's, whether
    the operator asked for a secret rotation, and the last event sequence stored.
    Also forgets this locker's nonces that are too old to be replayed.
    """
    locker_record_heartbeat(locker=locker, firmware_version=report.firmware_version or None)
    _doors_record(locker, report.doors)
    DeviceCredential.objects.filter(pk=credential.pk).update(last_report={
        "at": timezone.now().isoformat(),
        "firmware_version": report.firmware_version,
        "sensors": report.sensors,
        "doors_open": sorted(label for label, state in report.doors.items() if state == Compartment.DoorState.OPEN),
        "last_event_sequence": report.last_event_sequence,
    })
    device_nonces_purge(locker=locker)
    version = bundle_version(locker)
    stored = DeviceEvent.objects.filter(locker=locker).aggregate(last=Max("sequence"))["last"]
    return HeartbeatOut(
        commands=locker_commands_deliver(locker=locker),
        bundle_version=version,
        bundle_changed=version != report.bundle_version,
        rotate_secret=credential.rotation_requested_at is not None,
        last_event_sequence=stored,
    )
