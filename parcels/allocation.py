"""Choosing doors: which size classes fit a parcel, which free door to take, and
which nearby sites could take the parcel when its site is full.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Exists, OuterRef, QuerySet

from lockers.models import Compartment, Locker, Site, SizeClass
from lockers_site import rows

from .errors import NoFittingCompartment, ParcelTooBig
from .models import Parcel

EARTH_RADIUS_KM = 6371.0


def fitting_size_classes(parcel: Parcel, *, larger_than: SizeClass | None = None) -> list[SizeClass]:
    """Size classes a parcel fits, smallest first. Raises `ParcelTooBig` if none."""
    fitting = []
    for size in SizeClass.objects.all():
        if larger_than is not None and size.volume_mm3 <= larger_than.volume_mm3:
            continue
        if parcel.size_class is not None:
            declared = parcel.size_class
            dims = (declared.inner_height_mm, declared.inner_width_mm, declared.inner_depth_mm)
            weight = parcel.weight_g
        else:
            dims, weight = parcel.dimensions_mm, parcel.weight_g
        if size.fits(dimensions_mm=dims, weight_g=weight):
            fitting.append(size)
    if not fitting:
        raise ParcelTooBig(f"Parcel {parcel.tracking_number} fits no compartment size.")
    return fitting


def fitting_free_compartments(parcel: Parcel, sizes: list[SizeClass]) -> QuerySet[Compartment]:
    """Free doors of the fitting sizes in the right temperature zone, best first.

    Best is the smallest door; among equals a parcel that does not need a low door
    takes a high one, keeping accessible doors for those who need them.
    """
    doors = Compartment.objects.free().filter(size_class__in=sizes, temperature_zone=parcel.temperature_need)
    if parcel.needs_accessible:
        doors = doors.filter(accessible=True)
    return doors.order_by(
        "size_class__inner_height_mm",
        "size_class__inner_width_mm",
        "size_class__inner_depth_mm",
        "accessible",
        "locker_id",
        "column",
        "row",
    )


@dataclass(frozen=True)
class DoorScope:
    """Where a parcel may be given a door: any locker of a site, or one locker."""

    site_id: int | None = None
    locker_id: int | None = None

    def __post_init__(self) -> None:
        if (self.site_id is None) == (self.locker_id is None):
            raise ValueError("A door scope is a site or a locker.")


_DOOR, _LOCKER = rows.Part(Compartment, "d"), rows.Part(Locker, "l")


@functools.cache
def _first_free_door_sql(*, sizes: int, lost: int, accessible_only: bool, by_locker: bool, lock: bool) -> str:
    """`fitting_free_compartments(...).filter(scope)`, best first, its first door locked, as SQL
    written out (`lockers_site.rows`) for `compartment_take`.

    Every reservation and deposit asks this; the ORM took 2 to 4 ms of CPU to build and
    compile the five-table join, and PostgreSQL planned it afresh each time (1 to 3.5 ms).
    Prepared, it is planned once per connection. The conditions are those of
    `CompartmentQuerySet.free` and `fitting_free_compartments`; a test runs both on the
    same doors (`tests/test_parcel_services.py`). Parameters: the fitting size ids, the
    temperature zone, the site or locker, then the doors lost to racing transactions.
    """
    size, site, parcel = rows.Part(SizeClass, "z"), rows.Part(Site, "s"), rows.Part(Parcel, "p")
    conditions = [
        f"{_DOOR.col('condition')} = {rows.literal(Compartment.Condition.OK)}",
        f"{_LOCKER.col('status')} = {rows.literal(Locker.Status.ACTIVE)}",
        f"{site.col('status')} = {rows.literal(Site.Status.ACTIVE)}",
        f"NOT EXISTS (SELECT 1 FROM {parcel.table} WHERE {parcel.col('compartment')} = {_DOOR.col('id')})",
        f"{_DOOR.col('size_class')} IN ({rows.placeholders(sizes)})",
        f"{_DOOR.col('temperature_zone')} = %s",
        f"{_DOOR.col('locker') if by_locker else _LOCKER.col('site')} = %s",
    ]
    if accessible_only:
        conditions.append(f"{_DOOR.col('accessible')}")
    if lost:
        conditions.append(f"{_DOOR.col('id')} NOT IN ({rows.placeholders(lost)})")
    order = [size.col("inner_height_mm"), size.col("inner_width_mm"), size.col("inner_depth_mm"),
             *(_DOOR.col(name) for name in ("accessible", "locker", "column", "row"))]
    return (f"SELECT {rows.select_list((_DOOR, _LOCKER))} FROM {_DOOR.table} "
            f"JOIN {_LOCKER.table} ON {_LOCKER.col('id')} = {_DOOR.col('locker')} "
            f"JOIN {site.table} ON {site.col('id')} = {_LOCKER.col('site')} "
            f"JOIN {size.table} ON {size.col('id')} = {_DOOR.col('size_class')} "
            f"WHERE {' AND '.join(conditions)} ORDER BY {', '.join(order)} LIMIT 1"
            # Concurrent allocations skip each other's candidates instead of queueing on them.
            + (f" FOR UPDATE OF {_DOOR.alias} SKIP LOCKED" if lock else ""))


def _lock_first_free(parcel: Parcel, sizes: list[SizeClass], scope: DoorScope, lost: list[int]) -> Compartment | None:
    """The best free door of `sizes` in `scope` but the `lost` ones, locked, with its locker and size."""
    sql = _first_free_door_sql(sizes=len(sizes), lost=len(lost), accessible_only=parcel.needs_accessible,
                               by_locker=scope.locker_id is not None,
                               lock=connection.features.has_select_for_update_skip_locked)
    place = scope.locker_id if scope.locker_id is not None else scope.site_id
    params = [*(size.pk for size in sizes), parcel.temperature_need, place, *lost]
    # The text varies with the lost doors: a statement with them is not kept prepared.
    found = rows.fetch(sql, params, (_DOOR, _LOCKER), prepare=not lost)
    if not found:
        return None
    door, locker = found[0]
    door.locker = locker
    door.size_class = next(size for size in sizes if size.pk == door.size_class_id)
    return door


def compartment_take(
    parcel: Parcel, sizes: list[SizeClass], scope: DoorScope, assign: Callable[[Compartment], Parcel]
) -> Parcel:
    """Give `parcel` the best free door of `sizes` in `scope` that nobody else takes first.

    `assign(door)` writes the parcel's move into the door (a transition). Must run
    inside a transaction. The partial unique constraint on `Parcel.compartment` is the
    last guard: if a racing transaction committed the same door after our read, our
    write fails and we try the next door. Raises `NoFittingCompartment` when no door
    is left.
    """
    # Each lost race removes its door from the candidates, so this ends: with a door,
    # or with none left (a fixed retry count gave false "full" answers under a burst).
    lost: list[int] = []
    while (door := _lock_first_free(parcel, sizes, scope, lost)) is not None:
        try:
            with transaction.atomic():
                return assign(door)
        except IntegrityError:
            if not Parcel.objects.filter(compartment=door).exists():
                raise  # not a lost race: a real bug, let it surface
            lost.append(door.pk)
    raise NoFittingCompartment(
        f"No fitting compartment is free at {parcel.site.name}.", nearby=nearby_sites_with_room(parcel)
    )


def distance_km(lat1: Decimal | float, lon1: Decimal | float, lat2: Decimal | float, lon2: Decimal | float) -> float:
    """Great-circle distance (haversine)."""
    p1, p2 = math.radians(float(lat1)), math.radians(float(lat2))
    dp, dl = p2 - p1, math.radians(float(lon2) - float(lon1))
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(a))


def sites_near(
    latitude: Decimal | float, longitude: Decimal | float, radius_km: float, sites: QuerySet[Site] | None = None
) -> list[tuple[Site, float]]:
    """Sites within `radius_km` of a point, nearest first, as (site, distance) pairs.

    A bounding box narrows the rows in the database; the exact distance is computed
    on the few that remain.
    """
    lat_delta = radius_km / 111.0
    lon_delta = radius_km / (111.0 * max(math.cos(math.radians(float(latitude))), 0.01))
    candidates = (sites if sites is not None else Site.objects.all()).filter(
        latitude__range=(float(latitude) - lat_delta, float(latitude) + lat_delta),
        longitude__range=(float(longitude) - lon_delta, float(longitude) + lon_delta),
    )
    pairs = [(site, distance_km(latitude, longitude, site.latitude, site.longitude)) for site in candidates]
    return sorted((pair for pair in pairs if pair[1] <= radius_km), key=lambda pair: pair[1])


def nearby_sites_with_room(parcel: Parcel, *, limit: int = 5) -> list[dict[str, Any]]:
    """Other active sites near the parcel's site with a fitting free door for it."""
    sizes = fitting_size_classes(parcel)
    doors = fitting_free_compartments(parcel, sizes).filter(locker__site=OuterRef("pk"))
    sites = Site.objects.filter(status=Site.Status.ACTIVE).exclude(pk=parcel.site_id).filter(Exists(doors))
    near = sites_near(parcel.site.latitude, parcel.site.longitude, settings.NEARBY_SITE_RADIUS_KM, sites)
    return [
        {"site_id": site.pk, "code": site.code, "name": site.name, "distance_km": round(km, 2)}
        for site, km in near[:limit]
    ]
