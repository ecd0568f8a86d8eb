"""Heartbeat: the locker says it is alive and what it sees; the server answers with what it must do."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from lockers.models import Compartment, DeviceCredential, Locker, LockerCommand
from lockers.services import locker_heartbeat_sql, locker_record_heartbeat
from lockers_site import rows

from . import bundle, commands
from .errors import LockerDecommissioned


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


@functools.lru_cache(maxsize=32)
def _doors_text(locker: str, reported: str, opened: str) -> str:
    state, state_at, locker_id, label = (rows.column(Compartment, name)
                                         for name in ("door_state", "door_state_at", "locker", "label"))
    now_state = (f"CASE WHEN {label} {opened} THEN {rows.literal(Compartment.DoorState.OPEN)} "
                 f"ELSE {rows.literal(Compartment.DoorState.CLOSED)} END")
    return (f"UPDATE {rows.table_name(Compartment)} SET {state} = {now_state}, {state_at} = %s "
            f"WHERE {locker_id} = {locker} AND {label} {reported} AND {state} <> {now_state}")


def _doors_checked(doors: dict[str, str]) -> None:
    # A door not reported open is closed: the serializer admits only the two states.
    unknown = set(doors.values()) - {Compartment.DoorState.OPEN, Compartment.DoorState.CLOSED}
    if unknown:
        raise ValueError(f"Door states are open or closed, not {sorted(unknown)}.")


def _doors_sql(locker: rows.Sql, reported: rows.Sql, is_open: rows.Sql, now: datetime | rows.Slot) -> rows.Sql:
    """The reported door states stored by one statement that touches only the doors whose state changed.

    `reported` and `is_open` test a label (`rows.any_of`): a door the locker reported, one
    it reported open. Written out like the other per-heartbeat statements
    (`lockers_site.rows`): the ORM's CASE expression cost about a quarter of a heartbeat's CPU.
    """
    (state_at,) = rows.adapted(Compartment, {"door_state_at": now})
    params = (*is_open.params, state_at, *locker.params, *reported.params, *is_open.params)
    return rows.Sql(_doors_text(locker.text, reported.text, is_open.text), params)


def _last_report(report: HeartbeatIn, opened: list[str]) -> dict[str, Any]:
    return {
        "at": timezone.now().isoformat(),
        "firmware_version": report.firmware_version,
        "sensors": report.sensors,
        "doors_open": opened,
        "last_event_sequence": report.last_event_sequence,
    }


# A heartbeat in its own transaction commits without waiting for its WAL to reach the
# disk (`synchronous_commit` off for that transaction only): the next heartbeat writes
# again all it writes (last seen, report, changed doors), and the commands it marks sent
# are answered again in every heartbeat until acknowledged, so a database crash losing
# the last fraction of a second of heartbeats loses nothing. The flush wait left the
# cores idle: a fifth more heartbeats a second in the bench. Inside a caller's
# transaction the heartbeat does not decide for the caller's other writes.
_COMMIT_WITHOUT_FLUSH = " CROSS JOIN (SELECT set_config('synchronous_commit', 'off', true)) AS commit_without_flush"


# What changes from one heartbeat to the next: its statement's slots (`_heartbeat_sql`).
_LOCKER, _NOW, _FIRMWARE, _REPORT, _REPORTED, _OPENED = (
    rows.Slot(name) for name in ("locker", "now", "firmware", "report", "reported", "opened"))


@functools.lru_cache(maxsize=8)
def _heartbeat_sql(*, firmware: bool, doors: bool, flush: bool) -> rows.Sql:
    """PostgreSQL: the statement of `_recorded_in_one_statement`, built once for each shape of heartbeat
    (with a firmware version or not, door states or not, in a caller's transaction or not).

    The constants it holds (the kept bundle version's period, the digest's format) are read
    when it is built: a test that changes one clears this cache.
    """
    seen = locker_heartbeat_sql(locker_id=_LOCKER, firmware_version=_FIRMWARE if firmware else None,
                                report=_REPORT, now=_NOW)
    written = rows.Sql("(SELECT id FROM seen)")
    parts = {"seen": seen, "sent": commands.sent_sql(written, _NOW)}
    if doors:
        parts["doors"] = _doors_sql(written, rows.any_of_joined(_REPORTED), rows.any_of_joined(_OPENED), _NOW)
    parts |= bundle.kept_version_parts(_LOCKER, written)
    waiting = commands.waiting_sql(rows.Sql("%s", (_LOCKER,)))
    without_flush = "" if flush else _COMMIT_WITHOUT_FLUSH
    main = rows.Sql(f"SELECT seen.last_event_sequence, bundle.version, waiting.* FROM seen CROSS JOIN bundle"
                    f"{without_flush} LEFT JOIN ({waiting.text}) waiting ON true", waiting.params)
    return rows.with_(parts, main)


def _recorded_in_one_statement(locker: Locker, report: HeartbeatIn,
                               opened: list[str]) -> tuple[int | None, list[LockerCommand], str]:
    """PostgreSQL: the whole heartbeat as one statement of data-modifying CTEs, in autocommit.

    The locker's row is written first (the doors and commands updates wait on its
    `RETURNING`), as the event batches and the command queue take it first: no lock
    order to deadlock on. Every part sees one snapshot, so the waiting commands are read
    as they were before this statement marked the queued ones sent (they are answered
    all the same), and a command queued meanwhile is neither read nor marked. The bundle
    version is the one kept for the locker unless its site's change log moved
    (`bundle.kept_version_parts`). The statement is built once per shape (`_heartbeat_sql`).
    """
    (last_report,) = rows.adapted(Locker, {"last_report": _last_report(report, opened)})
    shape = _heartbeat_sql(firmware=bool(report.firmware_version), doors=bool(report.doors),
                           flush=connection.in_atomic_block)
    statement = shape.bound({
        "locker": locker.pk, "now": timezone.now(), "firmware": report.firmware_version, "report": last_report,
        "reported": rows.joined(list(report.doors)), "opened": rows.joined(opened),
    })
    with rows.alone():
        found = rows.execute(statement.text, statement.params)
    if not found:
        raise LockerDecommissioned()  # the locker's row is gone: it is no longer part of the network
    last_event_sequence, version = found[0][:2]
    waiting_rows = [rows.load_row(commands.COMMAND_ROW, row[2:]) for row in found if row[2] is not None]
    # One row per command, joined to the single `seen` row: SQL keeps no order through the join.
    loaded = sorted(commands.waiting_load(waiting_rows), key=lambda command: (command.created_at, command.pk))
    return last_event_sequence, loaded, version


def _recorded_in_steps(locker: Locker, report: HeartbeatIn,
                       opened: list[str]) -> tuple[int | None, list[LockerCommand], str]:
    """Elsewhere (SQLite): the same statements in one transaction, then the bundle version."""
    with transaction.atomic():
        try:
            last_event_sequence = locker_record_heartbeat(
                locker=locker, firmware_version=report.firmware_version or None, report=_last_report(report, opened))
        except Locker.DoesNotExist:
            raise LockerDecommissioned() from None
        if report.doors:
            doors = _doors_sql(rows.Sql("%s", (locker.pk,)), rows.any_of(list(report.doors)), rows.any_of(opened),
                               timezone.now())
            rows.write(doors.text, doors.params)
        waiting = commands.locker_commands_deliver(locker=locker)
    return last_event_sequence, waiting, bundle.bundle_version(locker)


def device_heartbeat_record(*, locker: Locker, credential: DeviceCredential, report: HeartbeatIn) -> HeartbeatOut:
    """Record that the locker is alive with its firmware, door states and sensor readings.

    Returns the commands it has not acknowledged (queued ones become sent), the
    current offline-bundle version and whether it differs from the locker's, whether
    the operator asked for a secret rotation, and the last event sequence stored. All
    or nothing: one statement on PostgreSQL, one transaction elsewhere.

    Only the locker's id is read from `locker` (the object may come from a per-process
    cache): the last event sequence comes from the database, with the heartbeat's write.
    """
    _doors_checked(report.doors)
    opened = sorted(label for label, state in report.doors.items() if state == Compartment.DoorState.OPEN)
    record = _recorded_in_one_statement if connection.vendor == "postgresql" else _recorded_in_steps
    last_event_sequence, waiting, version = record(locker, report, opened)
    return HeartbeatOut(
        commands=waiting,
        bundle_version=version,
        bundle_changed=version != report.bundle_version,
        rotate_secret=credential.rotation_requested_at is not None,
        last_event_sequence=last_event_sequence,
    )
