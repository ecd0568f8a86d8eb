"""Every write to the physical network goes through these functions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from lockers_site import rows

from .models import Compartment, Locker, SizeClass

# Physical assumptions used to place doors: a plinth under the bottom row and a
# frame around each door. Reach height is the middle of the door.
PLINTH_MM = 300
FRAME_MM = 20
# ADA forward reach: operable parts between 15 in (381 mm) and 48 in (1219 mm).
ACCESSIBLE_REACH_MM = (381, 1219)
MAX_COMPARTMENTS_PER_LOCKER = 250


class LayoutError(ValueError):
    """A layout description that cannot be built."""


@dataclass(frozen=True)
class ColumnSpec:
    zone: str
    sizes: tuple[str, ...]


def parse_layout(layout: str) -> list[ColumnSpec]:
    """Parse a layout: one line per column, size codes from the bottom up.

    A line may start with a temperature zone, e.g. ``chilled: M M M``. Blank lines
    and lines starting with ``#`` are ignored. Size codes are matched case-insensitively.
    """
    zones = {choice.value for choice in Compartment.TemperatureZone}
    columns: list[ColumnSpec] = []
    for number, raw in enumerate(layout.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        zone = Compartment.TemperatureZone.AMBIENT.value
        if ":" in line:
            zone, line = (part.strip() for part in line.split(":", 1))
            zone = zone.lower()
            if zone not in zones:
                raise LayoutError(f"Line {number}: unknown temperature zone {zone!r} (use {', '.join(sorted(zones))}).")
        sizes = tuple(code.lower() for code in line.replace(",", " ").split())
        if not sizes:
            raise LayoutError(f"Line {number}: a column needs at least one door.")
        columns.append(ColumnSpec(zone=zone, sizes=sizes))
    if not columns:
        raise LayoutError("The layout is empty: give one line per column, e.g. 'S S M M L'.")
    return columns


def _column_letters(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


def locker_lay_out(*, locker: Locker, layout: str) -> list[Compartment]:
    """Create all of a locker's compartments from a layout description in one step.

    Labels are column letter + row number ("A1" bottom left). Reach height and the
    accessible flag follow from the stacked door heights. Raises `LayoutError` for an
    unknown size code, a locker that already has compartments, or too many doors;
    nothing is written then.
    """
    columns = parse_layout(layout)
    sizes = {size.code.lower(): size for size in SizeClass.objects.all()}
    unknown = sorted({code for column in columns for code in column.sizes} - sizes.keys())
    if unknown:
        raise LayoutError(f"Unknown size class {', '.join(unknown)}; known: {', '.join(sorted(sizes))}.")
    total = sum(len(column.sizes) for column in columns)
    if total > MAX_COMPARTMENTS_PER_LOCKER:
        raise LayoutError(f"{total} doors is more than a locker may have ({MAX_COMPARTMENTS_PER_LOCKER}).")

    compartments: list[Compartment] = []
    for column_index, column in enumerate(columns):
        bottom_mm = PLINTH_MM
        for row_index, code in enumerate(column.sizes):
            size = sizes[code]
            door_mm = size.inner_height_mm + FRAME_MM
            reach_mm = bottom_mm + door_mm // 2
            compartments.append(
                Compartment(
                    locker=locker,
                    label=f"{_column_letters(column_index)}{row_index + 1}",
                    size_class=size,
                    column=column_index + 1,
                    row=row_index + 1,
                    reach_height_mm=reach_mm,
                    accessible=ACCESSIBLE_REACH_MM[0] <= reach_mm <= ACCESSIBLE_REACH_MM[1],
                    temperature_zone=column.zone,
                )
            )
            bottom_mm += door_mm
    with transaction.atomic():
        # Lock the locker row so two concurrent lay-outs cannot both see it empty.
        Locker.objects.select_for_update().get(pk=locker.pk)
        if locker.compartments.exists():
            raise LayoutError(f"Locker {locker.serial_number} already has compartments.")
        return Compartment.objects.bulk_create(compartments)


def compartments_set_condition(*, compartment_ids: list[int], condition: str) -> int:
    """Set the condition of several doors (maintenance). Returns how many changed.

    Taking a door out of service never evicts a parcel inside: it only stops new
    allocations to it.
    """
    if condition not in Compartment.Condition.values:
        raise ValueError(f"Unknown condition {condition!r}.")
    return Compartment.objects.filter(pk__in=compartment_ids).exclude(condition=condition).update(condition=condition)


def locker_heartbeat_sql(*, locker_id: int | rows.Slot, firmware_version: str | rows.Slot | None = None,
                         report: dict[str, Any] | rows.Slot | None = None,
                         now: datetime | rows.Slot | None = None) -> rows.Sql:
    """The statement `locker_record_heartbeat` runs, for a caller that runs it inside a larger one.

    It returns the locker's id and its last event sequence, as they are once the row is
    written: an event batch holding the row's lock is waited for, so the sequence is
    never older than the batch's. The locker is seen `now` (the time, unless given).
    """
    fields: dict[str, object] = {"last_heartbeat_at": now or timezone.now()}
    if firmware_version:
        fields["firmware_version"] = firmware_version
    if report is not None:
        fields["last_report"] = report
    return rows.update_sql(Locker, fields, where={"id": locker_id}, returning=("id", "last_event_sequence"))


def locker_record_heartbeat(*, locker: Locker, firmware_version: str | None = None,
                            report: dict[str, Any] | None = None) -> int | None:
    """Mark a locker as seen now (its online state is derived from this time), with what it reported.

    Returns the highest event sequence stored for the locker. Raises `Locker.DoesNotExist`
    if the locker is gone.
    """
    statement = locker_heartbeat_sql(locker_id=locker.pk, firmware_version=firmware_version, report=report)
    found = rows.execute(statement.text, statement.params)  # every heartbeat: prepared, not compiled
    if not found:
        raise Locker.DoesNotExist(f"No locker {locker.pk}.")
    ((_, last_event_sequence),) = found
    return last_event_sequence
