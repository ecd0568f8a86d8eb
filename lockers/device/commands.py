"""Remote commands: an operator queues, the heartbeat delivers, the locker acknowledges.

Opening a door from the cloud is the network's crown jewel (one network lost 2,732
lockers to its cloud API in 2020), so every command names a reason and its operator,
the row itself is the audit record, and the number of commands is limited per locker
and per operator, counted under a lock on the locker's row so racing requests cannot
exceed it.
"""

from __future__ import annotations

import functools
import logging
from datetime import datetime, timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import Model, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from lockers.models import Compartment, Locker, LockerCommand
from lockers.services import compartments_set_condition
from lockers_site import rows
from lockers_site.api_helpers import MAX_ID

from .errors import CommandNotFound, CommandRateLimited, CommandRefused

logger = logging.getLogger(__name__)
Kind = LockerCommand.Kind

RATE_WINDOW = timedelta(hours=1)
# Per kind: (per locker, per operator) commands in RATE_WINDOW.
RATE_LIMITS = {
    Kind.OPEN_DOOR: (3, 10),
    # Loading opens only an empty door held for the requester's own order: nothing to
    # take, so the limit fits a busy store rather than the crown-jewel remote open.
    Kind.OPEN_DOOR_FOR_LOADING: (120, 60),
    Kind.SET_OUT_OF_SERVICE: (30, 60),
    Kind.REFRESH_BUNDLE: (10, 60),
}


def _check_rate(locker: Locker, kind: str, requested_by: AbstractBaseUser | None) -> None:
    since = timezone.now() - RATE_WINDOW
    per_locker, per_operator = RATE_LIMITS[kind]
    recent = LockerCommand.objects.filter(kind=kind, created_at__gte=since)
    if recent.filter(locker=locker).count() >= per_locker:
        raise CommandRateLimited(f"At most {per_locker} '{kind}' commands per hour for one locker.")
    if requested_by is not None and recent.filter(requested_by=requested_by).count() >= per_operator:
        raise CommandRateLimited(f"At most {per_operator} '{kind}' commands per hour for one operator.")


def _check_held_and_empty(compartment: Compartment) -> None:
    from parcels.models import Parcel, ParcelStatus

    if not Parcel.objects.filter(compartment=compartment, status=ParcelStatus.RESERVED).exists():
        raise CommandRefused("A loading open needs a door held for a parcel that is not in it yet.")


def locker_command_queue(
    *, locker: Locker, kind: str, reason: str, requested_by: AbstractBaseUser | None,
    compartment: Compartment | None = None,
) -> LockerCommand:
    """Queue a command for the locker's next heartbeat.

    Door commands need a door of this locker; every command needs a reason. Setting a
    door out of service also takes it out of allocation at once (the server is the
    source of truth; the device only shows it). Raises `CommandRefused` or
    `CommandRateLimited`; nothing is written then.
    """
    reason = reason.strip()
    if kind not in RATE_LIMITS:
        raise CommandRefused(f"Unknown command {kind!r}.")
    if not reason:
        raise CommandRefused("Say why: every remote command is audited with its reason.")
    if kind != Kind.REFRESH_BUNDLE and (compartment is None or compartment.locker_id != locker.pk):
        raise CommandRefused("This command needs a door of this locker.")
    with transaction.atomic():
        locker = Locker.objects.select_for_update().get(pk=locker.pk)
        if locker.status != Locker.Status.ACTIVE:
            raise CommandRefused("The locker is decommissioned.")
        _check_rate(locker, kind, requested_by)
        if kind == Kind.OPEN_DOOR_FOR_LOADING:
            _check_held_and_empty(compartment)
        if kind == Kind.SET_OUT_OF_SERVICE:
            compartments_set_condition(compartment_ids=[compartment.pk], condition=Compartment.Condition.OUT_OF_SERVICE)
        command = LockerCommand.objects.create(
            locker=locker, kind=kind, compartment=compartment if kind != Kind.REFRESH_BUNDLE else None,
            reason=reason, requested_by=requested_by,
        )
    logger.warning("Remote command %s queued for locker %s door %s by %s: %s", kind, locker.serial_number,
                   compartment.label if compartment else "-", requested_by, reason)
    return command


COMMAND_ROW = (rows.Part(LockerCommand, "c"), rows.Part(Compartment, "d", ("id", "locker_id", "label")))


@functools.lru_cache(maxsize=8)
def _waiting_text(locker: str) -> str:
    command, door = COMMAND_ROW
    return (f"SELECT {rows.select_list(COMMAND_ROW)} FROM {command.table} "
            f"LEFT JOIN {door.table} ON {door.col('id')} = {command.col('compartment')} "
            f"WHERE {command.col('locker')} = {locker} AND {command.col('state')} "
            f"IN ({rows.literal(LockerCommand.State.QUEUED)}, {rows.literal(LockerCommand.State.SENT)}) "
            f"ORDER BY {command.col('created_at')}, {command.col('id')}")


def waiting_sql(locker: rows.Sql) -> rows.Sql:
    """The commands of `locker` (an id's expression) not acknowledged yet, oldest first, as `COMMAND_ROW`."""
    return rows.Sql(_waiting_text(locker.text), locker.params)


@functools.lru_cache(maxsize=8)
def _sent_text(locker: str) -> str:
    state, sent_at = rows.column(LockerCommand, "state"), rows.column(LockerCommand, "sent_at")
    return (f"UPDATE {rows.table_name(LockerCommand)} SET {state} = {rows.literal(LockerCommand.State.SENT)}, "
            f"{sent_at} = %s WHERE {rows.column(LockerCommand, 'locker')} = {locker} "
            f"AND {state} = {rows.literal(LockerCommand.State.QUEUED)}")


def sent_sql(locker: rows.Sql, now: datetime | rows.Slot) -> rows.Sql:
    """Every queued command of `locker` (an id's expression) marked sent `now`.

    The state is checked again on the row: a command a racing heartbeat already sent
    keeps its first `sent_at`.
    """
    (sent_at,) = rows.adapted(LockerCommand, {"sent_at": now})
    return rows.Sql(_sent_text(locker.text), (sent_at, *locker.params))


def waiting_load(found: list[list[Model | None]]) -> list[LockerCommand]:
    """The commands of rows selected as `COMMAND_ROW`, each with its door (None for a locker-wide one)."""
    waiting = []
    for command, door in found:
        command.compartment = door
        waiting.append(command)
    return waiting


def locker_commands_deliver(*, locker: Locker) -> list[LockerCommand]:
    """Commands the locker has not acknowledged yet, oldest first; queued ones become sent.

    A sent command is delivered again until acknowledged (at least once): the locker
    de-duplicates by command id. Every heartbeat asks, so the statements are written out
    (`lockers_site.rows`); the update runs only when a command was queued. On PostgreSQL
    the heartbeat runs both inside its one statement instead (`lockers.device.heartbeat`).
    """
    by_id = rows.Sql("%s", (locker.pk,))
    read = waiting_sql(by_id)
    waiting = waiting_load(rows.fetch(read.text, read.params, COMMAND_ROW))
    if any(command.state == LockerCommand.State.QUEUED for command in waiting):
        mark = sent_sql(by_id, timezone.now())
        rows.write(mark.text, mark.params)
    return waiting


def locker_command_acknowledge(*, locker: Locker, command_id: int, succeeded: bool, result: str = "") -> LockerCommand:
    """The locker carried out (or failed) a command. A second acknowledgement changes nothing.

    Raises CommandNotFound (404) for an unknown id or a command of another locker.
    """
    if not 1 <= command_id <= MAX_ID:  # the URL's int converter takes any number of digits
        raise CommandNotFound(f"No command {command_id} for this locker.")
    state = LockerCommand.State.ACKNOWLEDGED if succeeded else LockerCommand.State.FAILED
    now = timezone.now()
    # A queued command acknowledged was delivered all the same: by a heartbeat whose
    # commit, which does not wait for the disk, a database crash lost (heartbeat.py).
    LockerCommand.objects.filter(
        pk=command_id, locker=locker, state__in=[LockerCommand.State.QUEUED, LockerCommand.State.SENT]
    ).update(state=state, result=result[:200], acknowledged_at=now, sent_at=Coalesce("sent_at", Value(now)))
    command = LockerCommand.objects.filter(pk=command_id, locker=locker).first()
    if command is None:
        raise CommandNotFound(f"No command {command_id} for this locker.")
    return command
