from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from parcels.models import SupportCase
from parcels.support import support_cases_resolve

from .models import Notification, NotificationAttempt, OptOut, RecipientProfile
from .services import notification_resend


class NotificationAttemptInline(admin.TabularInline):
    model = NotificationAttempt
    extra = 0
    can_delete = False
    fields = ("number", "started_at", "finished_at", "outcome", "provider_id", "error")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Notification | None = None) -> bool:
        return False


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ("id", "parcel", "kind", "channel", "address", "language", "status", "attempts", "created_at",
                    "sent_at")
    list_filter = ("status", "channel", "kind", "language")
    search_fields = ("address", "parcel__tracking_number")
    list_select_related = ("parcel",)
    raw_id_fields = ("parcel",)
    date_hierarchy = "created_at"
    inlines = [NotificationAttemptInline]
    actions = ["resend"]
    # The outbox is written by the parcel services; here it is read, and resent by action.
    readonly_fields = ("parcel", "kind", "channel", "address", "language", "dedupe_key", "status", "attempts",
                       "next_attempt_at", "claimed_until", "claim_token", "last_error", "created_at", "sent_at")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.action(description="Send again (today's code and link)")
    def resend(self, request: HttpRequest, queryset: QuerySet[Notification]) -> None:
        for pk in queryset.values_list("pk", flat=True):
            notification_resend(notification_id=pk)
        self.message_user(request, f"{queryset.count()} notification(s) queued to send again.", messages.SUCCESS)


@admin.register(OptOut)
class OptOutAdmin(admin.ModelAdmin):
    list_display = ("channel", "address", "source", "created_at")
    list_filter = ("channel", "source")
    search_fields = ("address",)


@admin.register(RecipientProfile)
class RecipientProfileAdmin(admin.ModelAdmin):
    list_display = ("user", "phone", "phone_verified", "language", "preferred_site")
    list_select_related = ("user", "preferred_site")
    search_fields = ("user__email", "phone")
    raw_id_fields = ("user", "preferred_site")


# Registered here, beside the other recipient-facing records, because parcels/admin.py
# belongs to the lifecycle engine's owner; it can move there without other changes.
@admin.register(SupportCase)
class SupportCaseAdmin(admin.ModelAdmin):
    list_display = ("created_at", "kind", "status", "parcel", "parcel_site", "contact")
    list_filter = ("status", "kind")
    search_fields = ("parcel__tracking_number", "contact", "message")
    list_select_related = ("parcel__site",)
    raw_id_fields = ("parcel",)
    date_hierarchy = "created_at"
    readonly_fields = ("parcel", "kind", "message", "contact", "status", "created_at", "resolved_at")
    actions = ["resolve"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.display(description="Site", ordering="parcel__site__name")
    def parcel_site(self, case: SupportCase) -> str:
        return case.parcel.site.name

    @admin.action(description="Mark resolved")
    def resolve(self, request: HttpRequest, queryset: QuerySet[SupportCase]) -> None:
        count = support_cases_resolve(case_ids=list(queryset.values_list("pk", flat=True)))
        self.message_user(request, f"{count} case(s) resolved.", messages.SUCCESS)
