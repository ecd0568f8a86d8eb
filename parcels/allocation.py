"""Choosing doors: which size classes fit a parcel, which free door to take, and
which nearby sites could take the parcel when its site is full.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Exists, OuterRef, QuerySet

from lockers.models import Compartment, Site, SizeClass

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


def _lock_first(doors: QuerySet[Compartment]) -> Compartment | None:
    if connection.features.has_select_for_update_skip_locked:
        # Concurrent allocations skip each other's candidates instead of queueing on them.
        doors = doors.select_for_update(skip_locked=True, of=("self",))
    return doors.select_related("locker", "size_class").first()


def compartment_take(
    parcel: Parcel, doors: QuerySet[Compartment], assign: Callable[[Compartment], Parcel]
) -> Parcel:
    """Give `parcel` the first door of `doors` that nobody else takes first.

    `assign(door)` writes the parcel's move into the door (a transition). Must run
    inside a transaction. The partial unique constraint on `Parcel.compartment` is the
    last guard: if a racing transaction committed the same door after our read, our
    write fails and we try the next door. Raises `NoFittingCompartment` when no door
    is left.
    """
    # Each lost race removes its door from the candidates, so this ends: with a door,
    # or with none left (a fixed retry count gave false "full" answers under a burst).
    while (door := _lock_first(doors)) is not None:
        try:
            with transaction.atomic():
                return assign(door)
        except IntegrityError:
            if not Parcel.objects.filter(compartment=door).exists():
                raise  # not a lost race: a real bug, let it surface
            doors = doors.exclude(pk=door.pk)
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
