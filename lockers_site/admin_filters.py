"""Admin list filters whose choices come from small tables, not from the big list itself.

Django's filter on a plain field (`"site__city"`, `"type"`) offers the distinct values
found in the listed table: a `SELECT DISTINCT` over every row, on every page. For
5 million parcels or 19 million events that is seconds per page and grows with the
table. These filters read their choices from where they are defined instead: the
cities of the sites table (5,000 rows), the event types of the lifecycle.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest


def site_city_filter(path: str) -> type[admin.SimpleListFilter]:
    """A filter on the city of the site at `path` (e.g. "site__city"), choices from the sites table."""
    from lockers.models import Site

    class SiteCityFilter(admin.SimpleListFilter):
        title = "city"
        parameter_name = path

        def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> Iterable[tuple[str, str]]:
            cities = Site.objects.order_by("city").values_list("city", flat=True).distinct()
            return [(city, city) for city in cities]

        def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
            return queryset.filter(**{path: self.value()}) if self.value() else queryset

    return SiteCityFilter


class ParcelEventTypeFilter(admin.SimpleListFilter):
    """Custody event types: the lifecycle's actions, the birth statuses and the events recorded beside them."""

    title = "type"
    parameter_name = "type"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> Iterable[tuple[str, str]]:
        from parcels.lifecycle import BIRTH_EVENTS, TRANSITIONS

        types = {*TRANSITIONS, *BIRTH_EVENTS, "door_opened_for_pickup", "problem_reported"}
        return [(name, name.replace("_", " ")) for name in sorted(types)]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        return queryset.filter(type=self.value()) if self.value() else queryset
