"""Named reads of a store's orders: the queues and lists the pages show.

Every function reads a fixed number of queries whatever the store's history: lists
are sliced, counts come from one aggregate, doors come with `select_related`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time

from django.db.models import Count, F, Q, QuerySet
from django.utils import timezone

from carriers.models import Partner
from parcels.models import Parcel, ParcelStatus

from .scope import StoreScope

LIST_LIMIT = 50
TO_LOAD = (ParcelStatus.ANNOUNCED, ParcelStatus.RESERVED)


def _with_door(orders: QuerySet[Parcel]) -> QuerySet[Parcel]:
    return orders.select_related("compartment__locker", "compartment__size_class", "size_class")


def local_day_start(scope: StoreScope, now: datetime | None = None) -> datetime:
    """Midnight of today in the store's time zone (what 'today' means to its staff)."""
    local = (now or timezone.now()).astimezone(scope.site.tz)
    return datetime.combine(local.date(), time.min, tzinfo=scope.site.tz)


def to_load(scope: StoreScope) -> QuerySet[Parcel]:
    """Orders waiting to go into a door, the earliest promise first (orders with no promise last)."""
    return _with_door(scope.orders().filter(status__in=TO_LOAD)).order_by(
        F("promised_at").asc(nulls_last=True), "created_at", "pk"
    )[:LIST_LIMIT]


def in_locker(scope: StoreScope, now: datetime | None = None) -> QuerySet[Parcel]:
    """Orders waiting for their customer and not yet past the deadline, the soonest deadline first."""
    now = now or timezone.now()
    waiting = scope.orders().filter(status=ParcelStatus.READY_FOR_PICKUP, pickup_deadline__gt=now)
    return _with_door(waiting).order_by("pickup_deadline", "pk")[:LIST_LIMIT]


def picked_up_today(scope: StoreScope, now: datetime | None = None) -> QuerySet[Parcel]:
    since = local_day_start(scope, now)
    done = scope.orders().filter(status=ParcelStatus.PICKED_UP, picked_up_at__gte=since)
    return done.select_related("size_class").order_by("-picked_up_at", "-pk")[:LIST_LIMIT]


def _overdue_or_expired(now: datetime) -> Q:
    # A waiting order past its deadline is overdue until the minute sweep expires it.
    return Q(status=ParcelStatus.EXPIRED) | Q(status=ParcelStatus.READY_FOR_PICKUP, pickup_deadline__lte=now)


def overdue_and_expired(scope: StoreScope, now: datetime | None = None) -> QuerySet[Parcel]:
    """Orders the customer did not collect in time: staff unload the expired ones."""
    now = now or timezone.now()
    return _with_door(scope.orders().filter(_overdue_or_expired(now))).order_by("pickup_deadline", "pk")[:LIST_LIMIT]


@dataclass(frozen=True)
class StoreCounts:
    to_load: int
    late_to_load: int
    in_locker: int
    overdue_or_expired: int
    picked_up_today: int | None = None


def _counts(now: datetime) -> dict[str, Count]:
    return {
        "to_load": Count("pk", filter=Q(status__in=TO_LOAD)),
        "late_to_load": Count("pk", filter=Q(status__in=TO_LOAD, promised_at__lt=now)),
        "in_locker": Count("pk", filter=Q(status=ParcelStatus.READY_FOR_PICKUP, pickup_deadline__gt=now)),
        "overdue_or_expired": Count("pk", filter=_overdue_or_expired(now)),
    }


def store_counts(scope: StoreScope, now: datetime | None = None) -> StoreCounts:
    """The headline numbers of a store, in one aggregate query."""
    now = now or timezone.now()
    today = Q(status=ParcelStatus.PICKED_UP, picked_up_at__gte=local_day_start(scope, now))
    return StoreCounts(**scope.orders().aggregate(**_counts(now), picked_up_today=Count("pk", filter=today)))


def retailer_store_counts(partner: Partner, now: datetime | None = None) -> dict[int, StoreCounts]:
    """The headline numbers of every store of a retailer, by site id, in one grouped query."""
    rows = (
        Parcel.objects.filter(partner=partner, kind=Parcel.Kind.CLICK_AND_COLLECT, site__in=partner.stores.all())
        .values("site_id").annotate(**_counts(now or timezone.now())).order_by()
    )
    return {row.pop("site_id"): StoreCounts(**row) for row in rows}


def order_search(scope: StoreScope, text: str) -> QuerySet[Parcel]:
    """Orders whose order number, customer name, email or phone contains `text`, newest first."""
    text = text.strip()
    match = (
        Q(tracking_number__icontains=text)
        | Q(recipient_name__icontains=text)
        | Q(recipient_email__icontains=text)
        | Q(recipient_phone__icontains=text)
    )
    return _with_door(scope.orders().filter(match)).order_by("-created_at", "-pk")[:LIST_LIMIT]


def order_numbers_taken(scope: StoreScope, numbers: list[str]) -> set[str]:
    """Which of `numbers` the retailer already used (at any of its stores), in one query."""
    return set(
        Parcel.objects.filter(partner_id=scope.member.partner_id, tracking_number__in=numbers).values_list(
            "tracking_number", flat=True
        )
    )
