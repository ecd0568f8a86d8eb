"""Store KPIs per local day, computed by the database in a fixed number of queries.

Cohorts: an order belongs to the day it was loaded (`deposited_at`, in the store's
time zone). For that cohort: orders loaded, median and 90th-percentile hours from
loaded to picked up, the share picked up within 24 hours, and the overdue rate (the
share whose pickup deadline passed without a pickup). "Picked up" per day counts
pickups that happened that day. Occupancy is, per door size, the share of the
store's doors holding a click-and-collect order of this retailer at the end of the day.

Percentiles: on PostgreSQL `percentile_cont` (an ordered-set aggregate) in one
query. Elsewhere (SQLite) one window query per percentile numbers each day's
durations in order and keeps only the one or two rows that `percentile_cont` would
interpolate between; the interpolation of those rows is the only arithmetic done
here. Either way the number of queries does not depend on the number of orders.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db import connection
from django.db.models import Aggregate, Case, Count, ExpressionWrapper, F, FloatField, Func, Q, QuerySet, When, Window
from django.db.models.functions import RowNumber, TruncDate
from django.utils import timezone

from lockers.models import Compartment
from parcels.models import Parcel, ParcelEvent, ParcelStatus

from .scope import StoreScope

MAX_DAYS = 92
DEFAULT_DAYS = 14
QUICK_PICKUP = timedelta(hours=24)
PERCENTILES = {"p50": 0.5, "p90": 0.9}


class SecondsBetween(Func):
    """Seconds from the second timestamp to the first, as a float, on PostgreSQL and SQLite."""

    output_field = FloatField()
    arity = 2

    def as_postgresql(self, compiler, connection, **extra):
        return self.as_sql(compiler, connection, template="EXTRACT(EPOCH FROM (%(expressions)s))",
                           arg_joiner=" - ", **extra)

    def as_sqlite(self, compiler, connection, **extra):
        return self.as_sql(compiler, connection, template="((julianday(%(expressions)s)) * 86400.0)",
                           arg_joiner=") - julianday(", **extra)


class PercentileCont(Aggregate):
    """PostgreSQL's continuous percentile of an ordered set (interpolates like Excel's PERCENTILE)."""

    function = "percentile_cont"
    template = "%(function)s(%(fraction)s) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()

    def __init__(self, expression: Any, *, fraction: float, **extra: Any) -> None:
        if not 0 <= fraction <= 1:
            raise ValueError("fraction must be between 0 and 1")
        super().__init__(expression, fraction=float(fraction), **extra)


@dataclass
class DayFigures:
    day: date
    loaded: int = 0
    picked_up: int = 0
    p50_hours: float | None = None
    p90_hours: float | None = None
    within_24h: float | None = None
    overdue_rate: float | None = None
    occupancy: dict[str, float] = field(default_factory=dict)


@dataclass
class StoreKpis:
    start: date
    end: date
    days: list[DayFigures]
    sizes: list[str]
    doors_by_size: dict[str, int]


def kpi_range(scope: StoreScope, start: date | None, end: date | None) -> tuple[date, date]:
    """A valid day range: default the last two weeks to today, at most MAX_DAYS long."""
    today = timezone.now().astimezone(scope.site.tz).date()
    end = min(end or today, today)
    start = start or end - timedelta(days=DEFAULT_DAYS - 1)
    start = max(min(start, end), end - timedelta(days=MAX_DAYS - 1))
    return start, end


def _bounds(scope: StoreScope, start: date, end: date) -> tuple[datetime, datetime]:
    tz = scope.site.tz
    return datetime.combine(start, time.min, tzinfo=tz), datetime.combine(end + timedelta(days=1), time.min, tzinfo=tz)


def _loaded_cohort(scope: StoreScope, start: date, end: date) -> QuerySet[Parcel]:
    low, high = _bounds(scope, start, end)
    return scope.orders().filter(deposited_at__gte=low, deposited_at__lt=high).annotate(
        day=TruncDate("deposited_at", tzinfo=scope.site.tz)
    )


def _cohort_counts(scope: StoreScope, start: date, end: date, now: datetime) -> dict[date, dict[str, int]]:
    rows = _loaded_cohort(scope, start, end).values("day").annotate(
        loaded=Count("pk"),
        quick=Count("pk", filter=Q(picked_up_at__lte=F("deposited_at") + QUICK_PICKUP)),
        overdue=Count("pk", filter=Q(pickup_deadline__lt=now, picked_up_at__isnull=True)),
    ).order_by()
    return {row["day"]: row for row in rows}


def _pickups_by_day(scope: StoreScope, start: date, end: date) -> dict[date, int]:
    low, high = _bounds(scope, start, end)
    rows = (
        scope.orders().filter(picked_up_at__gte=low, picked_up_at__lt=high)
        .annotate(day=TruncDate("picked_up_at", tzinfo=scope.site.tz))
        .values("day").annotate(n=Count("pk")).order_by()
    )
    return {row["day"]: row["n"] for row in rows}


def _durations(scope: StoreScope, start: date, end: date) -> QuerySet[Parcel]:
    return _loaded_cohort(scope, start, end).filter(picked_up_at__isnull=False).annotate(
        secs=SecondsBetween("picked_up_at", "deposited_at")
    )


def _percentiles_postgres(scope: StoreScope, start: date, end: date) -> dict[date, dict[str, float]]:
    aggregates = {name: PercentileCont("secs", fraction=p) for name, p in PERCENTILES.items()}
    rows = _durations(scope, start, end).values("day").annotate(**aggregates).order_by()
    return {row["day"]: {name: row[name] for name in PERCENTILES} for row in rows}


def _percentile_by_window(scope: StoreScope, start: date, end: date, p: float) -> dict[date, float]:
    """percentile_cont(p) per day from only the one or two rows around position (n - 1) * p."""
    ranked = _durations(scope, start, end).annotate(
        rank=Window(RowNumber(), partition_by=[F("day")], order_by=[F("secs").asc(), F("pk").asc()]),
        n=Window(Count("pk"), partition_by=[F("day")]),
    ).annotate(position=ExpressionWrapper((F("n") - 1) * p, output_field=FloatField()))
    # Row numbers start at 1: keep rank - 1 within one place of the (fractional) position.
    around = ranked.filter(rank__gt=F("position"), rank__lt=F("position") + 2)
    picked: dict[date, list[tuple[int, float, float]]] = {}
    for row in around.values("day", "rank", "secs", "position").order_by():
        picked.setdefault(row["day"], []).append((row["rank"], row["secs"], row["position"]))
    result = {}
    for day, rows in picked.items():
        rows.sort()
        (rank, low, position), high = rows[0], rows[-1][1]
        result[day] = low + (position - (rank - 1)) * (high - low)
    return result


def _percentiles(scope: StoreScope, start: date, end: date) -> dict[date, dict[str, float]]:
    if connection.vendor == "postgresql":
        return _percentiles_postgres(scope, start, end)
    merged: dict[date, dict[str, float]] = {}
    for name, p in PERCENTILES.items():
        for day, value in _percentile_by_window(scope, start, end, p).items():
            merged.setdefault(day, {})[name] = value
    return merged


def _day_ends(scope: StoreScope, days: list[date], now: datetime) -> list[datetime]:
    tz = scope.site.tz
    return [min(datetime.combine(day + timedelta(days=1), time.min, tzinfo=tz), now) for day in days]


def _ended(prefix: str = "") -> Case:
    """When an order stopped holding its door (None while it still may): its pickup, or for a
    collected order its last write, since the collection leaves the parcel final."""
    return Case(
        When(**{f"{prefix}status": ParcelStatus.PICKED_UP}, then=F(f"{prefix}picked_up_at")),
        When(**{f"{prefix}status": ParcelStatus.RETURNED_TO_SENDER}, then=F(f"{prefix}updated_at")),
    )


def _occupancy(scope: StoreScope, days: list[date], now: datetime) -> dict[str, list[int]]:
    """Doors held per size at each day's end, from the deposit events (one query).

    Orders that ended before the first day are left out before their events are looked up:
    otherwise every order of the store's whole history costs an index probe of the events.
    """
    moments = _day_ends(scope, days, now)
    low = datetime.combine(days[0], time.min, tzinfo=scope.site.tz)
    in_range = scope.orders().annotate(ended=_ended()).filter(Q(ended__isnull=True) | Q(ended__gte=low))
    counts = {
        f"d{index}": Count("pk", filter=Q(occurred_at__lte=moment) & (Q(ended__isnull=True) | Q(ended__gt=moment)))
        for index, moment in enumerate(moments)
    }
    rows = (
        ParcelEvent.objects.filter(type="deposit", parcel__in=in_range.values("pk"), occurred_at__lt=moments[-1])
        .annotate(ended=_ended("parcel__"))
        .values("compartment__size_class__code").annotate(**counts).order_by()
    )
    return {row["compartment__size_class__code"]: [row[key] for key in counts] for row in rows}


def _doors_by_size(scope: StoreScope) -> dict[str, int]:
    rows = (
        Compartment.objects.filter(locker__site=scope.site).values("size_class__code")
        .annotate(n=Count("pk")).order_by("size_class__inner_height_mm", "size_class__code")
    )
    return {row["size_class__code"]: row["n"] for row in rows}


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def store_kpis(scope: StoreScope, *, start: date, end: date, now: datetime | None = None) -> StoreKpis:
    """Every KPI of the store for each local day from `start` to `end` (six queries or fewer)."""
    now = now or timezone.now()
    days = [start + timedelta(days=offset) for offset in range((end - start).days + 1)]
    cohorts = _cohort_counts(scope, start, end, now)
    pickups = _pickups_by_day(scope, start, end)
    percentiles = _percentiles(scope, start, end)
    doors = _doors_by_size(scope)
    held = _occupancy(scope, days, now)
    figures = []
    for index, day in enumerate(days):
        cohort = cohorts.get(day, {"loaded": 0, "quick": 0, "overdue": 0})
        hours = {name: value / 3600 for name, value in percentiles.get(day, {}).items() if value is not None}
        figures.append(DayFigures(
            day=day, loaded=cohort["loaded"], picked_up=pickups.get(day, 0),
            p50_hours=hours.get("p50"), p90_hours=hours.get("p90"),
            within_24h=_share(cohort["quick"], cohort["loaded"]),
            overdue_rate=_share(cohort["overdue"], cohort["loaded"]),
            occupancy={size: _share(held.get(size, [0] * len(days))[index], total) or 0.0
                       for size, total in doors.items()},
        ))
    return StoreKpis(start=start, end=end, days=figures, sizes=list(doors), doors_by_size=doors)
