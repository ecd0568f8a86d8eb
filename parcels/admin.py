"""Operator views of parcels: read-only state, changes only through admin actions that
call the lifecycle services."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from lockers_site.admin_filters import ParcelEventTypeFilter, site_city_filter
from lockers_site.admin_lists import LeanRows
from lockers_site.paging import EstimatedCountPaginator

from .errors import ParcelError
from .lifecycle import Who
from .models import Actor, KeypadGuard, Parcel, ParcelEvent, PickupCode
from .services import parcel_cancel, parcel_extend


class ParcelEventInline(admin.TabularInline):
    model = ParcelEvent
    extra = 0
    can_delete = False
    ordering = ["occurred_at", "id"]
    fields = ["occurred_at", "type", "from_status", "to_status", "reason", "actor", "actor_label", "compartment"]
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Parcel | None = None) -> bool:
        return False

    def get_queryset(self, request: HttpRequest) -> QuerySet[ParcelEvent]:
        return super().get_queryset(request).select_related("compartment__locker__site")


def _operator(request: HttpRequest) -> Who:
    return Who(Actor.OPERATOR, request.user.get_username(), request.user.pk)


def _apply_to_each(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[Parcel], service) -> None:
    done, refused = 0, []
    for parcel in queryset:
        try:
            service(parcel_id=parcel.pk, who=_operator(request))
            done += 1
        except ParcelError as error:
            refused.append(f"{parcel.tracking_number}: {error.detail}")
    if done:
        modeladmin.message_user(request, f"{done} parcel(s) updated.", messages.SUCCESS)
    for line in refused:
        modeladmin.message_user(request, line, messages.WARNING)


@admin.register(Parcel)
class ParcelAdmin(LeanRows, admin.ModelAdmin):
    list_display = [
        "tracking_number", "partner", "kind", "status", "status_reason", "site", "compartment_label",
        "pickup_deadline", "updated_at",
    ]
    # Choices of the city and date filters cost nothing; a city from the listed parcels or a
    # date hierarchy read all 5 million of them on every page (docs/performance.md).
    list_filter = ["status", "kind", "status_reason", "partner", site_city_filter("site__city"),
                   ("created_at", admin.DateFieldListFilter)]
    search_fields = ["tracking_number", "external_reference", "recipient_name", "recipient_email", "recipient_phone"]
    list_select_related = ["partner", "site", "compartment"]
    raw_id_fields = ["site", "compartment", "size_class", "pickup_code", "partner"]
    paginator = EstimatedCountPaginator
    show_full_result_count = False
    inlines = [ParcelEventInline]
    actions = ["cancel_parcels", "extend_deadline"]
    readonly_fields = [
        "status", "status_reason", "compartment", "pickup_code", "page_seed", "page_token_hash", "hold_expires_at",
        "deposited_at", "pickup_deadline", "extensions_used", "picked_up_at", "created_at", "updated_at",
    ]
    exclude = ["page_seed", "page_token_hash"]

    @admin.display(description="door", ordering="compartment__label")
    def compartment_label(self, parcel: Parcel) -> str:
        return parcel.compartment.label if parcel.compartment else "—"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # parcels enter the network through the partner API and the dashboard

    @admin.action(description="Cancel (before deposit)")
    def cancel_parcels(self, request: HttpRequest, queryset: QuerySet[Parcel]) -> None:
        _apply_to_each(self, request, queryset, parcel_cancel)

    @admin.action(description="Extend the pickup deadline")
    def extend_deadline(self, request: HttpRequest, queryset: QuerySet[Parcel]) -> None:
        _apply_to_each(self, request, queryset, parcel_extend)


@admin.register(ParcelEvent)
class ParcelEventAdmin(LeanRows, admin.ModelAdmin):
    list_display = ["occurred_at", "parcel", "type", "from_status", "to_status", "reason", "actor", "site"]
    list_filter = [ParcelEventTypeFilter, "actor", "reason"]
    search_fields = ["parcel__tracking_number", "actor_label"]
    list_select_related = ["parcel", "site"]
    raw_id_fields = ["parcel", "site", "locker", "compartment", "user"]
    paginator = EstimatedCountPaginator
    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # append-only custody log

    def has_change_permission(self, request: HttpRequest, obj: ParcelEvent | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: ParcelEvent | None = None) -> bool:
        return False


@admin.register(PickupCode)
class PickupCodeAdmin(admin.ModelAdmin):
    list_display = ["pk", "purpose", "state", "site", "created_at", "ended_at"]
    list_filter = ["purpose", "state"]
    list_select_related = ["site"]
    exclude = ["seed", "pin_hash", "qr_hash"]  # secrets stay out of the console
    readonly_fields = ["site", "purpose", "state", "created_at", "ended_at"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(KeypadGuard)
class KeypadGuardAdmin(admin.ModelAdmin):
    list_display = ["locker", "day", "failures_today", "refused_today", "consecutive_failures", "locked_until"]
    list_select_related = ["locker__site"]
    readonly_fields = list_display

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False
